"""What every backend shares: locking, rebuild-and-swap, planning and highlighting.

A backend subclasses `IndexService` and supplies the engine-specific hooks; the
public `SearchService` methods live here once.
"""

from __future__ import annotations

import abc
import logging
import pathlib
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from tqdm import tqdm

from . import Hit, IndexDoc, SearchQuery, SearchResult, Visibility
from .analysis import warm_up
from .directory import IndexDirectory
from .documents import Prepared, prepare
from .plan import Plan, build
from .snippets import highlight_at

T = TypeVar("T")
log = logging.getLogger(__name__)
# In every generation directory: which backend and schema wrote it.
FORMAT_FILE = "FORMAT"


def retry_vanished(action: Callable[[], T], attempts: int = 5) -> T:
    """Run `action`, again if a file vanished under it.

    Engines open an index's files by name; a commit in another process can replace
    the newest table of contents or merge away a segment between listing and opening.
    Trying again then finds the newer files."""
    for attempt in range(attempts):
        try:
            return action()
        except (FileNotFoundError, ValueError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


class IndexUnavailable(RuntimeError):
    """The live index has gone (its directory deleted or emptied while serving): it can
    only be rebuilt from the database. Never answered with an empty result, which would
    tell every searcher that the archive holds nothing."""


class IndexFormatError(RuntimeError):
    """The index was written by a newer release: this one must not touch it."""


@dataclass(frozen=True)
class Found:
    """A hit as an engine returns it, before highlighting."""

    document_id: int
    dossier_id: int
    customer_id: int
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class Page:
    total: int
    found: list[Found]
    facets: dict[str, dict[str, int]]


class IndexService(abc.ABC):
    """Implements `SearchService` on top of a few engine hooks."""

    # Backend and schema of the indexes this code writes; a change of schema or
    # analysis bumps it, so an index written by an older release is never opened.
    FORMAT: str

    def __init__(self, root: pathlib.Path):
        self.directory = IndexDirectory(root)
        self._reopen_lock = threading.Lock()
        self._generation: str | None = None
        self._sync()

    # --- engine hooks -----------------------------------------------------------

    @abc.abstractmethod
    def _create(self, path: pathlib.Path) -> None:
        """Create an empty index in directory `path`."""

    @abc.abstractmethod
    def _open(self, path: pathlib.Path) -> None:
        """Open the index in `path` for searching and writing, replacing any open one."""

    @abc.abstractmethod
    def _refresh(self) -> None:
        """Make commits by other processes visible (cheap when there are none)."""

    @abc.abstractmethod
    def _write(
        self, path: pathlib.Path, docs: Iterable[Prepared], delete_ids: Iterable[int] = ()
    ) -> int:
        """Under the write lock: in one commit, delete `delete_ids` and add or replace
        `docs` in the index at `path`; return how many docs were added."""

    @abc.abstractmethod
    def _execute(self, plan: Plan) -> Page:
        """Run `plan`: exact total, the requested page, facets over all matches."""

    @abc.abstractmethod
    def document_ids(self) -> set[int]:
        """Every indexed document id."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many documents the index holds (cheap)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the index."""

    # --- shared behaviour -------------------------------------------------------

    def _new_index(self, path: pathlib.Path) -> None:
        self._create(path)
        (path / FORMAT_FILE).write_text(self.FORMAT, encoding="utf-8")

    def _is_current(self, path: pathlib.Path) -> bool:
        """Whether `path` holds an index of this code's format. An older one (or one
        from before formats) is not; a newer one raises: its release may still serve
        it, and deleting it would only make that release search an empty index."""
        try:
            found = (path / FORMAT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            # Written by a release before formats, or deleted by a swap just now.
            return not path.exists()
        if found == self.FORMAT:
            return True
        backend, _, version = found.rpartition("-")
        mine = self.FORMAT.rpartition("-")
        if backend == mine[0] and version.isdecimal() and int(version) > int(mine[2]):
            raise IndexFormatError(
                f"search index {path} has format {found}, newer than this release's "
                f"{self.FORMAT}: run the release that wrote it, or rebuild with `flask reindex`")
        return False

    def _replace_outdated(self, path: pathlib.Path) -> None:
        """Swap an empty index of this format in for `path`, written by an older release:
        its terms are not what this code searches for. The database is the source of
        truth; `flask reindex --if-needed` refills it."""
        with self.directory.write_lock():
            if self.directory.generation() != path.name:
                return  # another process replaced it first
            fresh = self.directory.new_generation()
            self._new_index(fresh)
            self.directory.swap(fresh)
        log.warning("search index %s is of an older format than %s: replaced with an empty "
                    "index; run `flask --app archive reindex --if-needed`", path, self.FORMAT)

    def _sync(self) -> pathlib.Path:
        """Follow a rebuild's swap (reopen) or another process's commit (refresh).

        An index that vanished after this service opened it raises IndexUnavailable
        rather than being recreated empty; only `rebuild` makes a new one."""
        while True:
            if self._generation is not None and self.directory.generation() is None:
                raise IndexUnavailable(f"search index {self.directory.root} has disappeared")
            path = self.directory.ensure(self._new_index)
            if path.name == self._generation:
                try:
                    self._refresh()
                except (FileNotFoundError, ValueError):
                    # A rebuild elsewhere swapped and deleted this generation between
                    # reading the link and reloading: follow the link again.
                    if self.directory.generation() != path.name:
                        continue
                    raise
                return path
            if not self._is_current(path):
                # Not under _reopen_lock: a writer holding the write lock may be
                # waiting for that one.
                self._replace_outdated(path)
                continue
            with self._reopen_lock:
                if path.name == self._generation:
                    continue
                try:
                    self._open(path)
                except Exception:
                    # A rebuild elsewhere may have swapped and deleted `path` between
                    # reading the link and opening it: follow the link again.
                    if self.directory.generation() != path.name:
                        continue
                    raise
                self._generation = path.name

    def index_document(self, doc: IndexDoc) -> None:
        """Add or replace one document; committed and searchable on return."""
        self.index_many([doc])

    def index_many(self, docs: Iterable[IndexDoc]) -> int:
        """Add or replace a batch of documents in a single commit."""
        warm_up()  # not while other writers wait on our lock
        with self.directory.write_lock():
            path = self._sync()
            count = self._write(path, (prepare(doc) for doc in docs))
        self._sync()
        return count

    def remove_document(self, document_id: int) -> None:
        """Remove a document from the index (no error if it is not there)."""
        with self.directory.write_lock():
            path = self._sync()
            self._write(path, (), [document_id])
        self._sync()

    def rebuild(
        self, docs: Iterable[IndexDoc], total: int | None = None, progress: bool = False
    ) -> int:
        """Index `docs` into a new generation and swap it in atomically.

        Holds the write lock throughout, so documents indexed meanwhile wait and land
        in the new generation; searches keep using the old one until the swap."""
        warm_up()
        with self.directory.write_lock():
            path = self.directory.new_generation()
            try:
                self._new_index(path)
                stream: Iterator[IndexDoc] = tqdm(
                    docs, total=total, disable=not progress, file=sys.stderr, unit="doc",
                    desc="重建索引",
                )
                count = self._write(path, (prepare(doc) for doc in stream))
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self.directory.swap(path)
        self._sync()
        return count

    def available(self) -> bool:
        """Whether the index this service serves is still there (cheap: one readlink)."""
        return self._generation is None or self.directory.generation() is not None

    def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        """Run `query` over the documents `visibility` allows; see `plan.build`."""
        plan = build(query, visibility)
        generation = self._sync().name
        try:
            page = self._execute(plan)
        except Exception:
            # Files of a generation swapped out and deleted by a rebuild elsewhere
            # can vanish under a searcher that had not noticed yet: reopen, retry once.
            if self._sync().name == generation:
                raise
            page = self._execute(plan)
        hits = [
            Hit(f.document_id, f.dossier_id, f.customer_id, f.title, f.score,
                *highlight_at(f.text, f.title, plan.highlight))
            for f in page.found
        ]
        return SearchResult(page.total, hits, page.facets)
