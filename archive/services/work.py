"""The unit of work: one database transaction per web request, API call, CLI command or
import row.

Services add, change, flush and audit; they never commit. Whoever serves the user opens
the unit (`with work.unit(db.session): ...`), and everything inside commits together or
not at all. Work that must follow the commit (writing the search index, which must not
hold SQLite's write lock and must never index what was rolled back) is registered with
`after_commit` and runs once the commit has succeeded; work outside the database that
must be undone if the unit fails (a blob stored for a document that was never filed) is
registered with `after_rollback`.

One second transaction is sanctioned: a refusal that must be on the record although the
unit it ended is rolled back (`record_refusal`).
"""

import contextvars
import logging
from collections.abc import Callable
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

_HOOKS = "work.after_commit"
_UNDO = "work.after_rollback"
_DEPTH = "work.depth"
_LOCKED = "work.locked"  # session.info: (the transaction, {key: row read under its lock})
_INSERTED = "work.inserted"  # session.info: [(the transaction inside which, objects)]

# Set where work only reads, writing by exception (an import's indexing process): its
# transactions begin without SQLite's write lock, as a page view's do, and take it at
# their first write (archive._sqlite_pragmas).
reads_first = contextvars.ContextVar("work.reads_first", default=False)


@contextmanager
def unit(session):
    """Run the block as one transaction. Nested units join the outermost one: a CLI
    command that calls a helper which opens a unit still commits once.

    A unit that only read ends its transaction all the same, which is how a caller lets
    go of SQLite's write lock before slow work that needs no database (filing reads and
    extracts its files between two units)."""
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            discard(session)
        raise
    finally:
        session.info[_DEPTH] = depth
    if depth == 0:
        session.info.pop(_UNDO, None)
        run_after_commit(session)


@contextmanager
def lookup(session):
    """A unit for what a request looks up before its own work (who is asking), which
    writes only now and then (a session's activity, once a minute). Ended as a unit is,
    if it wrote or holds the write lock (SQLite: any request but a GET's); otherwise its
    transaction, which only read, is left open for the request's own unit to end. A page
    is then one transaction less: a BEGIN, a COMMIT and a connection taken from the pool
    and given back (about 150 µs, bench/request_cpu.py). Inside another unit it joins it."""
    if session.info.get(_DEPTH, 0):
        yield session
        return
    try:
        yield session
    except BaseException:
        discard(session)
        raise
    if session.new or session.dirty or session.deleted or _write_locked(session):
        with unit(session):
            pass


def _write_locked(session) -> bool:
    """Whether the session's transaction may hold a lock: SQLite's write lock (taken at
    BEGIN by any request but a GET, archive._sqlite_pragmas), or any transaction where
    the database's begin does not say (PostgreSQL: row locks)."""
    if _transaction(session) is None:
        return False
    return session.connection().info.get("write_locked", True)


def after_commit(session, hook: Callable[[], object]) -> None:
    """Run `hook` after the current unit commits (never if it rolls back)."""
    session.info.setdefault(_HOOKS, []).append(hook)


def after_rollback(session, hook: Callable[[], object]) -> None:
    """Run `hook` if the current unit rolls back (never once it has committed): undo what
    it did outside the database. A failing hook is logged; the error that ended the unit
    is the one raised."""
    session.info.setdefault(_UNDO, []).append(hook)


def run_after_commit(session) -> None:
    """Run and forget the hooks registered so far (the unit calls this after its commit)."""
    hooks = session.info.pop(_HOOKS, [])
    for hook in hooks:
        hook()


def discard(session) -> None:
    """Roll back the unit's work, forget its after-commit hooks and run its after-rollback
    ones (an error ended it)."""
    session.rollback()
    session.info.pop(_HOOKS, None)
    for hook in session.info.pop(_UNDO, []):
        try:
            hook()
        except Exception:
            log.exception("could not undo after a rollback")


def record_refusal(session, actor, action: str, obj, *, outcome: str = "denied",
                   **details) -> None:
    """The one sanctioned second transaction: roll back what the unit did, then put the
    refusal on the audit record in a transaction of its own, which outlives the unit.
    `outcome` is "error" for a request that failed rather than was refused (a search while
    the index is gone, a blob that cannot be read): it is on the record all the same.
    The caller raises the error afterwards. A failure to record is logged, never raised
    over the refusal itself."""
    from archive.services import audit

    discard(session)
    try:
        audit.record(session, actor, action, obj, outcome=outcome, **details)
        session.commit()
    except Exception:
        log.exception("could not record the refusal %s", action)
        session.rollback()


def insert(session, *objects) -> bool:
    """Add `objects` and flush them in a savepoint: True if written; False if a unique
    constraint refused them because a concurrent transaction wrote the same key between
    the caller's check and this insert (PostgreSQL runs writers side by side; SQLite's
    write lock lets the check see it). The savepoint is undone, the objects are dropped
    from the session and the unit goes on: the caller answers the conflict, or chooses
    another number and tries again. Any other integrity error is raised."""
    import sqlalchemy.exc

    try:
        with session.begin_nested():
            session.add_all(objects)
            session.flush()
    except sqlalchemy.exc.IntegrityError as exc:
        if not unique_violation(exc):
            raise
        return False
    # A savepoint around this one that rolls back undoes the rows, but the session kept
    # the objects as written (it forgets what a released savepoint wrote), so the next
    # row given the same id replaced them with a warning: `_forget_undone` drops them.
    session.info.setdefault(_INSERTED, []).append((_innermost(session), objects))
    return True


def unique_violation(exc) -> bool:
    """Whether a database error is a unique constraint refusing a duplicate key."""
    original = getattr(exc, "orig", exc)
    if getattr(original, "sqlstate", None) == "23505":  # PostgreSQL's unique_violation
        return True
    return str(original).startswith("UNIQUE constraint failed")  # SQLite


def rows(session, statement, params=None):
    """Run a SELECT of columns (not of mapped objects), built once, on the session's
    connection, in its transaction: Core's execution instead of the ORM's, about half the
    cost of a small lookup (60 against 35 µs; 125 against 37 for a row the ORM would
    have made an object of, bench/request_cpu.py). What the session holds unwritten is
    flushed first, as the ORM's autoflush would."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def locked(session, key):
    """The row this transaction has read under its lock as `key` (`hold`), or None: once
    a transaction holds a row's lock (SQLite's write lock; PostgreSQL's row lock) nobody
    else can change the row, so a second use in the same unit (an import's next row: the
    audit head, a group's counter) takes the object in hand instead of reading it again.
    Any rollback since, a savepoint's included, forgets them all (`_forget_locks`):
    PostgreSQL lets go of a lock taken inside a savepoint that rolls back, and the
    session expires what the savepoint changed."""
    held = session.info.get(_LOCKED)
    transaction = _transaction(session)
    if held is None or transaction is None or held[0] is not transaction:
        return None
    row = held[1].get(key)
    if row is None:
        return None
    # A mapped object counts while the session still has it; a plain value (the audit
    # head's seq and hash) while the transaction lasts.
    mapped = hasattr(row, "_sa_instance_state")
    return row if not mapped or row in session else None


def hold(session, key, row) -> None:
    """Remember `row`, just read under its lock in this transaction, as `key` (`locked`)."""
    transaction = _transaction(session)
    held = session.info.get(_LOCKED)
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED] = (transaction, {})
    held[1][key] = row


def _transaction(session):
    """The session's outermost transaction now (None before it begins)."""
    return (session() if isinstance(session, scoped_session) else session).get_transaction()


def _innermost(session):
    """The session's innermost transaction now: its savepoint, if one is open."""
    session = session() if isinstance(session, scoped_session) else session
    return session.get_nested_transaction() or session.get_transaction()


@event.listens_for(Session, "after_soft_rollback")
def _forget_locks(session, previous_transaction) -> None:
    session.info.pop(_LOCKED, None)
    _forget_undone(session, previous_transaction)


def _forget_undone(session, rolled_back) -> None:
    """Expunge what `insert` wrote inside the transaction `rolled_back` (or a savepoint
    of it): its rows are gone."""
    kept = []
    for transaction, objects in session.info.get(_INSERTED, ()):
        inside = transaction
        while inside is not None and inside is not rolled_back:
            inside = inside.parent
        if inside is None:
            kept.append((transaction, objects))
            continue
        for obj in objects:
            if obj in session:
                session.expunge(obj)
    session.info[_INSERTED] = kept


@event.listens_for(Session, "after_transaction_end")
def _forget_inserted(session, transaction) -> None:
    if transaction.parent is None:  # the unit has ended: nothing of it can be undone now
        session.info.pop(_INSERTED, None)
