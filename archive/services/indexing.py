"""Keeping the search index in step with the database, which is the source of truth.

A document commits flagged `needs_index` and is indexed after its transaction
commits; the flag is cleared only once the index holds it. If the index write fails,
or the process dies first, the flag stays and the document is taken up by the next
successful write or by `flask reindex --if-needed`: the upload itself never fails
because of the index.
"""

import contextlib
import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.util import identity_key

from archive.extensions import db
from archive.models import Designation, Document
from archive.models.enums import DocumentStatus
from archive.services import access
from archive.services.search.analysis import warm_up
from archive.services.search.service import IndexUnavailable

log = logging.getLogger(__name__)


def search_service():
    """The app's search service (opened once per process by create_app)."""
    return current_app.extensions["search"]


def _readers(session, documents: list[Document]) -> dict[int, list[int]]:
    """Users designated for each document, directly or through its dossier (绝密)."""
    doc_ids = [d.id for d in documents]
    dossier_ids = {d.dossier_id for d in documents}
    rows = session.execute(
        select(Designation.user_id, Designation.document_id, Designation.dossier_id).where(
            Designation.document_id.in_(doc_ids) | Designation.dossier_id.in_(dossier_ids)
        )
    ).all()
    readers: dict[int, set[int]] = {d.id: set() for d in documents}
    for doc in documents:
        for user_id, document_id, dossier_id in rows:
            if document_id == doc.id or dossier_id == doc.dossier_id:
                readers[doc.id].add(user_id)
    return {k: sorted(v) for k, v in readers.items()}


def to_index_doc(document: Document, readers: list[int]) -> dict:
    dossier = document.dossier
    access_level = int(document.access_level)
    # Below access.BY_DESIGNATION a designation opens nothing: it must not widen search.
    if access_level < access.BY_DESIGNATION:
        readers = []
    customer = dossier.customer
    return {
        "id": document.id,
        "dossier_id": dossier.id,
        "customer_id": customer.id,
        "title": document.title,
        "text": "\n".join(f.text for f in document.files if f.text),
        "customer_name": customer.name,
        "customer_code": customer.code,
        "dossier_number": dossier.number,
        "unit": dossier.unit.label if dossier.unit else "",
        "category": document.category,
        "carrier": document.carrier,
        "classification": document.classification,
        "access_level": access_level,
        "retention": document.retention,
        "department_id": document.department_id,
        "department": document.department.name if document.department else "",
        "doc_date": document.doc_date,
        "filed_at": document.created_at,
        "file_names": [f.original_name for f in document.files],
        "readers": readers,
    }


def _load(session, ids):
    """The documents as the database holds them now (populate_existing): a long-lived
    session (the worker's, an import's) may hold an older copy of one from before a
    change another process committed, and the index must get the change."""
    stmt = select(Document).options(selectinload(Document.files)).where(
        Document.id.in_(ids), Document.status == DocumentStatus.ACTIVE.value
    ).execution_options(populate_existing=True)
    return session.execute(stmt).scalars().all()


def flag(session, ids) -> None:
    """Flag the documents `ids` for the index in the caller's unit, counting up their
    generation (Document.flag_for_index, for a document in hand)."""
    if ids:
        session.execute(update(Document).where(Document.id.in_(ids))
                        .values(needs_index=True, index_gen=Document.index_gen + 1))


def index_after_commit(session, document_ids: list[int], wait: float | None = None) -> bool:
    """Index the given documents and any left waiting; flag them if the index fails.

    The documents are read under the index's write lock, so writers write in the order
    they read: a writer that read a document before a change committed cannot write that
    older copy over the change's own write after it (the index then held the old title and
    the document was no longer flagged). With `wait`, raises IndexBusy, having read and
    changed nothing, when another writer holds the index for longer than that many seconds.

    Work that follows a commit: it runs short transactions of its own, so it is called
    after a unit has committed (registered with `work.after_commit`), never inside one."""
    warm_up()  # the analysis loads once per process, not while others wait on the lock
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(search_service().directory.write_lock(wait))
        except OSError:  # the lock file cannot be opened (a folder's rights, a full disk)
            log.exception("search index lock unavailable; documents %s flagged needs_index",
                          document_ids)
            _flag(session, document_ids)
            return False
        return _index_locked(session, document_ids)


def _index_locked(session, document_ids: list[int]) -> bool:
    ids = taken_up(session, document_ids)
    try:
        written = write(session, ids)
    except IndexUnavailable as exc:
        log.warning("search index unavailable (%s); documents %s flagged needs_index", exc, ids)
        _flag(session, ids)  # the next search or dashboard view starts the repair
        return False
    except Exception:
        log.exception("search index write failed; documents %s flagged needs_index", ids)
        _flag(session, ids)
        return False
    clear(session, written)
    return True


@dataclass
class Written:
    """What an index write wrote: each active document's generation as it was read, and
    the documents no longer active (nothing written for them)."""

    read: dict[int, int]
    others: list[int]


def taken_up(session, document_ids: list[int]) -> list[int]:
    """`document_ids` and any others left flagged (up to 500): what a write takes up."""
    pending = session.execute(
        select(Document.id).where(Document.needs_index.is_(True)).order_by(Document.id).limit(500)
    ).scalars().all()
    return sorted(set(document_ids) | set(pending))


def write(session, ids: list[int]) -> Written:
    """Under the index's write lock: write the documents `ids` as the database holds them
    now, reading them in a transaction that ends before the index is written (it must not
    hold the database's write lock). Changes nothing in the database; raises if the index
    could not be written. `clear` then clears their flags."""
    if not ids:
        session.commit()  # end the read
        return Written({}, [])
    documents = _load(session, ids)
    read = {d.id: d.index_gen for d in documents}
    readers = _readers(session, documents)
    records = [to_index_doc(d, readers[d.id]) for d in documents]
    _refuse_partial(session, ids)
    session.commit()
    search_service().index_many(records)
    return Written(read, [i for i in ids if i not in read])


def clear(session, written: Written) -> None:
    """Clear the flags of what `written` wrote (`_clear`), in a transaction of its own.
    Safe after the index lock is let go: a flag is cleared only where the generation is
    the one written, and a later writer reads (under the lock) what is at least as new."""
    _clear(session, written.read, written.others)
    for document_id in written.read:  # the session's copies read the flag afresh
        document = session.identity_map.get(identity_key(Document, document_id))
        if document is not None:
            session.expire(document, ["needs_index"])
    # Always end the transaction: on SQLite it holds the write lock.
    session.commit()


def _clear(session, read: dict[int, int], others: list[int]) -> None:
    """Clear the flags of what was written: of each document only if its generation is
    still the one read (a change committed meanwhile flagged it again, and the copy
    written is older than that change: it stays flagged for the next write, whether or
    not the change's own write ever happens); `others` (not active: nothing written)
    whatever their generation."""
    table = Document.__table__
    if read:
        session.execute(
            update(table).where(table.c.id == bindparam("document"),
                                table.c.index_gen == bindparam("generation"))
            .values(needs_index=False),
            [{"document": i, "generation": g} for i, g in read.items()])
    if others:
        session.execute(update(Document).where(Document.id.in_(others)).values(needs_index=False))


def _flag(session, ids: list[int]) -> None:
    session.rollback()
    flag(session, ids)
    session.commit()


def _refuse_partial(session, ids: list[int]) -> None:
    """Raise IndexUnavailable for an empty index in an archive that holds other
    documents (a process recreated it after it was lost): writing a few documents into it
    would turn "nothing found, being rebuilt" into a partial archive that looks whole."""
    if _empty_beside_archive(session, besides=ids):
        raise IndexUnavailable("the index is empty but the archive is not")


def _empty_beside_archive(session, besides=()) -> bool:
    """Whether the index holds nothing while the archive holds active documents that it
    held once (not flagged as waiting for their index write, not `besides`). Raises
    IndexUnavailable if the index has gone."""
    if search_service().count():
        return False
    held = select(Document.id).where(Document.status == DocumentStatus.ACTIVE.value,
                                     Document.needs_index.is_(False))
    if besides:
        held = held.where(Document.id.not_in(besides))
    return session.execute(held.limit(1)).first() is not None


def remove(document_id: int) -> None:
    search_service().remove_document(document_id)


def all_documents(session, batch: int = 500):
    """Every active document as an index record, streamed in batches."""
    last = 0
    while True:
        ids = session.execute(
            select(Document.id).where(Document.id > last,
                                      Document.status == DocumentStatus.ACTIVE.value)
            .order_by(Document.id).limit(batch)
        ).scalars().all()
        if not ids:
            return
        documents = _load(session, ids)
        readers = _readers(session, documents)
        records = [to_index_doc(doc, readers[doc.id]) for doc in documents]
        last = ids[-1]
        # End the read before the batch is indexed: outside a web request a transaction
        # holds SQLite's write lock from its first statement, and a rebuild of a large
        # archive runs for minutes while every audited request needs that lock.
        session.commit()
        session.expunge_all()
        yield from records


def rebuild(session, progress: bool = False) -> int:
    """Rebuild the whole index from the database and swap it in atomically."""
    total = session.execute(
        select(func.count()).select_from(Document)
        .where(Document.status == DocumentStatus.ACTIVE.value)
    ).scalar_one()
    # Only flags raised before the rebuild began are settled by it, and only those of
    # documents not changed again since (their generation then).
    flagged = dict(session.execute(
        select(Document.id, Document.index_gen).where(Document.needs_index.is_(True))
    ).all())
    session.commit()
    count = search_service().rebuild(all_documents(session), total=total, progress=progress)
    if flagged:
        _clear(session, flagged, [])
        session.commit()
    return count


def rebuild_if_needed(session, progress: bool = False) -> int | None:
    """Rebuild the index unless it holds exactly the active documents (after an upgrade
    that changed its format, a backend switch, a lost or restored index directory).
    Documents left flagged `needs_index` are indexed either way. Returns how many
    documents a rebuild indexed, or None when none was needed. Flagged documents are
    indexed first, so a few of them never cost a rebuild of the whole archive."""
    while session.execute(select(Document.id).where(Document.needs_index.is_(True)).limit(1)).first():
        if not index_after_commit(session, []):  # 500 at a time
            break
    active = set(session.execute(
        select(Document.id).where(Document.status == DocumentStatus.ACTIVE.value)
    ).scalars())
    session.commit()
    try:
        indexed = search_service().document_ids()
    except IndexUnavailable:
        indexed = None
    if indexed != active:
        return rebuild(session, progress=progress)
    return None


# -- repair while serving ---------------------------------------------------------------
# The index is a cache of the database. When it is found missing (deleted while serving)
# or lacking documents, a thread of the process that noticed rebuilds it; a lock file
# beside the index keeps it to one process at a time, and tells every process (the
# dashboard) that a rebuild is under way. (A task queue would run this once one exists.)

_repairing = threading.Lock()  # one repair thread per process


def _lock_path(app) -> Path:
    return Path(app.config["INSTANCE_DIR"]) / "index-repair.lock"


@contextlib.contextmanager
def _repair_lock(app, wait: float = 0.0):
    """Yields whether this caller holds the cross-process repair lock, trying for up to
    `wait` seconds: a repair must not give up because another process's `repairing()`
    probe held the lock for an instant."""
    fd = os.open(_lock_path(app), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


def repairing(app) -> bool:
    """Whether some process is rebuilding or refilling the index right now."""
    if _repairing.locked():
        return True
    with _repair_lock(app) as free:
        return not free


def repair_in_background(app) -> bool:
    """Start `rebuild_if_needed` in a thread unless a repair is already running here or
    in another process; whether one was started."""
    if not _repairing.acquire(blocking=False):
        return False

    def run():
        try:
            with _repair_lock(app, wait=2.0) as mine, app.app_context():
                if mine:
                    log.warning("search index incomplete or missing: rebuilding from the database")
                    rebuild_if_needed(db.session)
                    db.session.remove()
        except Exception:
            log.exception("search index repair failed")
        finally:
            _repairing.release()

    threading.Thread(target=run, name="index-repair", daemon=True).start()
    return True


def waiting(session) -> int:
    """How many documents are flagged as not (or not correctly) indexed."""
    return session.execute(
        select(func.count()).select_from(Document).where(Document.needs_index.is_(True))
    ).scalar_one()


def unavailable_reason(session) -> str | None:
    """Why the index cannot answer searches truthfully now, or None: "missing" (it has
    gone) or "empty" (it holds nothing while the archive holds documents, as when a
    process started after it was deleted)."""
    try:
        return "empty" if _empty_beside_archive(session) else None
    except IndexUnavailable:
        return "missing"
