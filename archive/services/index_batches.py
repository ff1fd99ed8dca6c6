"""Index writes for uploads, batched (issue 19, its last point).

An upload's own index write (tantivy's writer, its commit and fsync, the searcher's
reload) was about three quarters of its wall time. With `INDEX_BATCH_SECONDS` set (the
default), an upload commits its document flagged `needs_index`, as every filing does,
and wakes this process's batch writer, which waits that long for the rest of a burst and
indexes everything flagged in one write.

Nothing is lost to a crash at any instant: the flag is cleared only once the index holds
the document, and whatever a dead process left flagged is taken by the next batch, the
next search (`catch_up`), the worker's periodic write or `flask reindex --if-needed`.

A search finds what was filed just before it: `catch_up` first indexes what is flagged
(one lookup of the indexed flag when nothing is), waiting at most `CATCH_UP_WAIT` for
the index's write lock, so that a rebuild in progress holds up no search.
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

log = logging.getLogger(__name__)

CATCH_UP_WAIT = 2.0  # seconds: a batch's write takes a fraction of that; a rebuild longer
FAILED_PAUSE = 30.0  # seconds without catching up in searches after a failed write

_failed_at = [float("-inf")]
STAMP = "uploaded.stamp"
_seen_clean: dict[Path, int | None] = {}  # the stamp when this process last saw nothing flagged


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
    """Before a search, outside any unit, where uploads are batched: index what waits for
    the batch writer, so that a search right after an upload finds it.

    Every upload stamps a file beside the index after its commit; a search that finds the
    stamp as it was when this process last saw nothing flagged asks the database nothing
    (a stat instead of a transaction on every search). After a failed write searches do
    not try again for FAILED_PAUSE seconds: the batch writer, the worker and the index
    repair go on trying."""
    if not enabled():
        return
    path = _stamp_path()
    stamp = _stamp(path)  # read before the database: an upload after it changes it
    if stamp == _seen_clean.get(path) or time.monotonic() - _failed_at[0] < FAILED_PAUSE:
        return
    if _flagged(session) and not indexing.index_after_commit(session, [], wait=CATCH_UP_WAIT):
        _failed_at[0] = time.monotonic()
        return
    _seen_clean[path] = stamp


def _stamp_path() -> Path:
    return indexing.search_service().directory.root / STAMP


def _stamp(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def _mark_upload() -> None:
    """Stamp the time of an upload's commit (in ns, set explicitly: the file system's own
    clock ticks too coarsely to tell two uploads apart)."""
    path = _stamp_path()
    moment = time.time_ns()
    try:
        path.touch()
        os.utime(path, ns=(moment, moment))
    except OSError:  # the index folder deleted while serving: its rebuild indexes all
        log.warning("could not stamp %s", path, exc_info=True)
