"""Layout of an index directory and its cross-process write lock.

    INDEX_DIR/<backend>/      one per backend (tantivy, whoosh)
      write.lock            flock'ed by whoever writes (any thread, any process)
      current -> gen-…      symlink to the live generation
      gen-…/                one complete index per generation, with its FORMAT file

A rebuild fills a new generation and swaps the symlink with `os.replace`, which is
atomic: a searcher sees the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator

CURRENT = "current"
PREFIX = "gen-"
_thread = threading.local()


def _held_locks() -> set[str]:
    """Index roots whose write lock this thread holds."""
    if not hasattr(_thread, "held"):
        _thread.held = set()
    return _thread.held


class IndexBusy(RuntimeError):
    """Another writer held the index's write lock for longer than the caller would wait."""


def _flock(fd: int, wait: float | None) -> None:
    if wait is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexBusy(f"the index's write lock was held for more than {wait} s") from None
            time.sleep(0.01)


class IndexDirectory:
    def __init__(self, root: pathlib.Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.link = root / CURRENT

    @contextlib.contextmanager
    def write_lock(self, wait: float | None = None) -> Iterator[None]:
        """Exclusive across threads and processes: each holder opens its own file
        description, and flock locks on distinct descriptions exclude each other.
        With `wait`, raises IndexBusy after that many seconds instead of waiting on (a
        rebuild holds the lock for as long as it runs).

        Re-entrant within a thread: a writer that finds, under the lock, that the index
        must be created or replaced takes it again, and a second flock of its own would
        wait for the first forever."""
        key = os.path.realpath(self.root)
        held = _held_locks()
        if key in held:
            yield
            return
        # The folder itself may have been deleted while serving: a rebuild recreates it.
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock(fd, wait)
            held.add(key)
            yield
        finally:
            held.discard(key)
            os.close(fd)  # closing releases the lock

    def generation(self) -> str | None:
        """Name of the live generation (cheap enough to call on every search); None
        when there is none, or when its directory has gone from under the link."""
        for _ in range(3):
            try:
                name = os.readlink(self.link)
            except FileNotFoundError:
                return None
            if (self.root / name).is_dir():
                return name
            # A swap may have replaced the link and deleted the old generation between
            # the two calls: read the link again before calling the index gone.
        return None

    def ensure(self, create: Callable[[pathlib.Path], None]) -> pathlib.Path:
        """Path of the live generation, creating an empty one with `create` if none."""
        name = self.generation()
        if name is None:
            with self.write_lock():
                name = self.generation()  # another process may have won the race
                if name is None:
                    path = self.new_generation()
                    create(path)
                    self.swap(path)
                    name = path.name
        return self.root / name

    def new_generation(self) -> pathlib.Path:
        """A fresh, empty generation directory (not live until `swap`)."""
        path = self.root / f"{PREFIX}{time.time_ns()}-{os.getpid()}"
        path.mkdir()
        return path

    def swap(self, path: pathlib.Path) -> None:
        """Make `path` the live generation and delete every other one.

        Call under the write lock. Searchers still holding the old generation keep
        their open/mapped files (unlink does not free them) and reopen on next use."""
        tmp = self.root / f".{CURRENT}-{os.getpid()}-{time.time_ns()}"
        os.symlink(path.name, tmp)
        os.replace(tmp, self.link)
        for old in self.root.glob(f"{PREFIX}*"):
            if old.name != path.name:
                shutil.rmtree(old, ignore_errors=True)


def remove_legacy_layout(index_dir: pathlib.Path) -> None:
    """Delete the index that releases before per-backend folders kept in `index_dir`
    itself (`current` and `gen-…`): its format is not this release's, and it can be
    rebuilt from the database (`flask reindex --if-needed`)."""
    if not (index_dir / CURRENT).is_symlink() and not any(index_dir.glob(f"{PREFIX}*")):
        return
    with IndexDirectory(index_dir).write_lock():
        (index_dir / CURRENT).unlink(missing_ok=True)
        for old in index_dir.glob(f"{PREFIX}*"):
            shutil.rmtree(old, ignore_errors=True)
