"""Index writes for uploads, batched (issue 19, its last point).

An upload's own index write (tantivy's writer, its commit and fsync, the searcher's
reload) was about three quarters of its wall time. With `INDEX_BATCH_SECONDS` set (the
default), an upload commits its document flagged `needs_index`, as every filing does,
stamps the index folder, and wakes this process's batch writer, which waits that long for
the rest of a burst and indexes everything flagged in one write.

Nothing is lost to a crash at any instant: the flag is cleared only once the index holds
the document, and whatever a dead process left flagged is taken by the next batch, a
search (`catch_up`), the worker's write once a minute or `flask reindex --if-needed`.

A search finds what was filed before it: `catch_up` first indexes what is flagged. It
asks the database only when an upload has stamped the folder since this process last
found nothing flagged, or RECHECK_SECONDS after it last asked (an upload killed between
its commit and its stamp); otherwise a stat. It waits at most CATCH_UP_WAIT for the
index's write lock and, while another writer holds it (a rebuild), does not wait again.
"""

import logging
import os
import threading
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from archive.extensions import db
from archive.models import Document
from archive.services import indexing
from archive.services.search.directory import IndexBusy

log = logging.getLogger(__name__)

CATCH_UP_WAIT = 2.0  # seconds: a batch's write takes a fraction of that; a rebuild longer
CATCH_UP_BUDGET = 5.0  # seconds of index writes one search spends at most on a backlog
FAILED_PAUSE = 30.0  # seconds without catching up in searches after a failed write
RECHECK_SECONDS = 30.0  # a search asks the database at least this often, stamp or not

_failed_at = [float("-inf")]
_busy = [False]  # another writer held the index past CATCH_UP_WAIT at the last try
STAMP = "uploaded.stamp"
STAMP_LIMIT = 4096  # bytes: the stamp's size, not its content, says an upload happened
# index folder -> (its stamp, when) as this process last found nothing flagged
_seen_clean: dict[Path, tuple[int | None, float]] = {}


def enabled() -> bool:
    """Whether uploads leave their index write to the batch writer."""
    return bool(current_app.config.get("INDEX_BATCH_SECONDS"))


class _Writer:
    """The app's batch writer in this process: a thread that sleeps until woken."""

    def __init__(self, app):
        self.app = app
        self.pid = os.getpid()
        self.woken = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="index-batch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.woken.wait()
            if self.stopped.wait(self.app.config["INDEX_BATCH_SECONDS"]):  # the burst's rest
                return
            # Cleared before the flagged rows are read: an upload committing from here on
            # wakes the next round, one committed before is read by this one.
            self.woken.clear()
            with self.app.app_context():
                try:
                    _write_flagged()
                except Exception:  # noqa: BLE001 - its documents stay flagged; logged
                    log.exception("batched index write failed")
                finally:
                    db.session.remove()


_guard = threading.Lock()


def wake() -> None:
    """After an upload commits: have this process's batch writer index it soon."""
    _mark_upload()
    app = current_app._get_current_object()
    with _guard:
        writer = app.extensions.get("index_batches")
        # A forked worker process inherits the object but not its thread.
        if writer is None or writer.pid != os.getpid() or not writer.thread.is_alive():
            writer = app.extensions["index_batches"] = _Writer(app)
    writer.woken.set()


def stop(app) -> None:
    """End the app's batch writer without writing: what it would have indexed stays
    flagged for the next writer (an app a test is done with)."""
    writer = app.extensions.pop("index_batches", None)
    if writer is not None:
        writer.stopped.set()
        writer.woken.set()
        writer.thread.join(10)


def _write_flagged() -> None:
    while _flagged(db.session):
        if not indexing.index_after_commit(db.session, []):  # 500 at a time
            _failed_at[0] = time.monotonic()
            return


def _flagged(session) -> bool:
    found = session.execute(
        select(Document.id).where(Document.needs_index.is_(True)).limit(1)).first()
    session.commit()  # end the read: on SQLite it would hold a snapshot
    return found is not None


def catch_up(session) -> None:
    """Before a search, outside any unit, where uploads are batched: index what is
    flagged, so that a search right after an upload finds it. Never fails the search: a
    failed write pauses catching up for FAILED_PAUSE seconds in this process (the batch
    writer, the worker and the index repair go on trying)."""
    if not enabled():
        return
    path = _stamp_path()
    stamp = _stamp(path)  # read before the database: an upload after it changes it
    moment = time.monotonic()
    seen = _seen_clean.get(path)
    if seen is not None and seen[0] == stamp and moment - seen[1] < RECHECK_SECONDS:
        return
    if moment - _failed_at[0] < FAILED_PAUSE:
        return
    try:
        clean = _drain(session, wait=0.0 if _busy[0] else CATCH_UP_WAIT)
    except IndexBusy:
        _busy[0] = True  # the next searches try the lock without waiting
        return
    except Exception:  # noqa: BLE001 - the search goes on; its documents stay flagged
        log.exception("indexing waiting uploads before a search failed")
        session.rollback()
        _failed_at[0] = moment
        return
    _busy[0] = False
    if clean:
        _seen_clean[path] = (stamp, moment)


def _drain(session, wait: float) -> bool:
    """Index what is flagged, 500 documents a write, for up to CATCH_UP_BUDGET seconds;
    whether nothing is left flagged."""
    deadline = time.monotonic() + CATCH_UP_BUDGET
    while _flagged(session):
        if time.monotonic() > deadline:
            return False
        if not indexing.index_after_commit(session, [], wait=wait):
            raise RuntimeError("the index write failed (logged); documents stay flagged")
    return True


def _stamp_path() -> Path:
    return indexing.search_service().directory.root / STAMP


def _stamp(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def _mark_upload() -> None:
    """Stamp the folder after an upload's commit: one byte appended, so that the size
    differs after every upload (a file's times can be too coarse to tell two apart). At
    STAMP_LIMIT bytes the stamp starts again from empty, which is a change of size too
    (it grew by a byte an upload, without end)."""
    try:
        fd = os.open(_stamp_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b".")
            if os.fstat(fd).st_size >= STAMP_LIMIT:
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    except OSError:  # the index folder deleted while serving: its rebuild indexes all
        log.warning("could not stamp the index folder after an upload", exc_info=True)
