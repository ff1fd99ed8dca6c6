"""Writing an import's documents into the search index beside its writer (issue 19).

The index write of a batch (analysing each document's text and title, tantivy's commit)
cost about a quarter of the writer's time while every row waited for it. With cores to
spare (the readers' pool is in use), the batches are written by one process of their
own, forked from the importer before its readers, while the writer goes on with the next
rows; the import ends only once the last batch is written. Nothing changes in what a
batch's write is: `indexing.index_after_commit` under the index's write lock, after the
documents' commits, clearing their `needs_index` flags only once the index holds them. If
the indexing process fails or dies, the writer writes the batch itself; a kill of both
leaves the documents flagged, as before (docs/import.md).
"""

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from flask import current_app

from archive.extensions import db
from archive.services import import_reading, indexing, work
from archive.services.search import open_search

log = logging.getLogger(__name__)

_forked_from = None  # the app the indexing process is forked with (set just before)
_context = None  # the indexing process's app context, kept pushed
_inherited = None  # the importer's connection pool, held so that nothing here closes them


def _start() -> None:
    """In the indexing process, once: its own database connections and its own handle on
    the index. The importer's connections are left untouched (a connection must never be
    used on both sides of a fork: SQLAlchemy's `dispose(close=False)`), and the process
    exits once the importer has gone."""
    global _context, _inherited
    import_reading.exit_with_parent()
    _context = _forked_from.app_context()
    _context.push()
    work.reads_first.set(True)
    _inherited = db.engine.pool
    db.engine.dispose(close=False)
    config = current_app.config
    current_app.extensions["search"] = open_search(config["SEARCH_BACKEND"],
                                                   Path(config["INDEX_DIR"]))


def _write(document_ids: list[int]) -> indexing.Written:
    """In the indexing process: one batch's index write, which only reads the database
    (its transactions begin without SQLite's write lock). The writer clears the flags:
    a write of this process's would wait for the lock the writer's units hold back to
    back."""
    try:
        with search_service_lock():
            return indexing.write(db.session, indexing.taken_up(db.session, document_ids))
    finally:
        db.session.remove()


def search_service_lock():
    indexing.warm_up()
    return indexing.search_service().directory.write_lock()


class Indexer:
    """Index writes of an import's committed documents, `batch` at a time: in a process
    of their own when `beside` (the writer goes on meanwhile), else in the writer's."""

    def __init__(self, session, batch: int, *, beside: bool):
        global _forked_from
        self.session, self.batch = session, batch
        self.waiting: list[int] = []
        self.running: tuple[Future, list[int]] | None = None
        self.pool = None
        if beside:
            # Forked now, between units: the importer holds no connection and no
            # transaction, and its readers (forked next) are not running yet.
            _forked_from = current_app._get_current_object()
            self.pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("fork"),
                initializer=_start)
            self.pool.submit(int).result()  # started now, not when the first batch is due

    def add(self, document_ids: list[int]) -> None:
        """Documents whose unit has committed; a batch is written once `batch` wait and
        the indexing process is free."""
        self.waiting.extend(document_ids)
        if len(self.waiting) < self.batch:
            return
        if self.running is not None and not self.running[0].done():
            return  # the next batch grows meanwhile
        self._collect()  # the indexing process failed: it is closed, and this one writes
        if self.pool is None:
            self._here(self._take())
        else:
            ids = self._take()
            self.running = (self.pool.submit(_write, ids), ids)

    def finish(self) -> None:
        """Write what waits, and any document left flagged (by an earlier run that was
        killed, say), and wait for every write: on return the index holds every document
        added, or they are flagged if the index failed."""
        try:
            self._collect()
            ids = self._take()
            if ids and self.pool is not None:  # (None if the indexing process failed)
                self.running = (self.pool.submit(_write, ids), ids)
                self._collect()
            else:
                self._here(ids)
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _take(self) -> list[int]:
        ids, self.waiting = self.waiting, []
        return ids

    def _collect(self) -> None:
        """Wait for the batch being written; write it here if the indexing process
        failed (a broken process pool included)."""
        if self.running is None:
            return
        future, ids = self.running
        self.running = None
        try:
            written = future.result()
        except Exception:  # noqa: BLE001 - the writer writes the batch itself
            log.exception("the import's indexing process failed; indexing %d documents here",
                          len(ids))
            self.close()
            self._here(ids)
            return
        indexing.clear(self.session, written)

    def _here(self, ids: list[int]) -> None:
        indexing.index_after_commit(self.session, ids)
