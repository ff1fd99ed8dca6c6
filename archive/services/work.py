"""The unit of work: one database transaction per web request, API call, CLI command or
import row.

Services add, change, flush and audit; they never commit. Whoever serves the user opens
the unit (`with work.unit(db.session): ...`), and everything inside commits together or
not at all. Work that must follow the commit (writing the search index, which must not
hold SQLite's write lock and must never index what was rolled back) is registered with
`after_commit` and runs once the commit has succeeded.

One second transaction is sanctioned: a refusal that must be on the record although the
unit it ended is rolled back (`record_refusal`).
"""

import logging
from collections.abc import Callable
from contextlib import contextmanager

log = logging.getLogger(__name__)

_HOOKS = "work.after_commit"
_DEPTH = "work.depth"


@contextmanager
def unit(session):
    """Run the block as one transaction. Nested units join the outermost one: a CLI
    command that calls a helper which opens a unit still commits once."""
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
            session.info.pop(_HOOKS, None)
        raise
    finally:
        session.info[_DEPTH] = depth
    if depth == 0:
        run_after_commit(session)


def after_commit(session, hook: Callable[[], object]) -> None:
    """Run `hook` after the current unit commits (never if it rolls back)."""
    session.info.setdefault(_HOOKS, []).append(hook)


def run_after_commit(session) -> None:
    """Run and forget the hooks registered so far (the unit calls this after its commit)."""
    hooks = session.info.pop(_HOOKS, [])
    for hook in hooks:
        hook()


def discard(session) -> None:
    """Roll back the unit's work and forget its hooks (an error ended it)."""
    session.rollback()
    session.info.pop(_HOOKS, None)


def record_refusal(session, actor, action: str, obj, **details) -> None:
    """The one sanctioned second transaction: roll back what the unit did, then put the
    refusal on the audit record in a transaction of its own, which outlives the unit.
    The caller raises the error afterwards. A failure to record is logged, never raised
    over the refusal itself."""
    from archive.services import audit

    discard(session)
    try:
        audit.record(session, actor, action, obj, outcome="denied", **details)
        session.commit()
    except Exception:
        log.exception("could not record the refusal %s", action)
        session.rollback()
