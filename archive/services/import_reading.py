"""Reading an import's files (issue 19): the filing step's inspection and extraction for
each manifest row, in a pool of processes running ahead of the rows being written
(archive/services/imports.py). The readers read files and store blobs; they never touch
the database or the index.
"""

import os
import unicodedata
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from archive.services import filing, import_sources, preservation
from archive.services.errors import DomainError, TooLarge
from archive.services.storage import LocalBlobStore


@dataclass
class Read:
    """What reading a row's files gave: the filing step's files and carrier, or why not."""

    files: list | None = None
    carrier: str | None = None
    refused: str | None = None
    created: list[str] = field(default_factory=list)  # blobs this read stored anew
    # Per file, its 四性 checks at filing, run on the copy this read stored (None: the
    # files were not stored here, and filing checks them).
    checked: list | None = None


def read_row(paths: list[tuple[str, str]], data: dict, limits: filing.Limits,
             store_root: str | None = None) -> Read:
    """Step two of filing (filing.read_files) for one row, in a pool process: inspect the
    files by content against the limits and extract their text. Never raises for the
    row's files: a refusal is returned with its reason.

    With `store_root`, the accepted files are also written to the blob store here (each
    fsynced, as every blob is), so that the row's unit finds them stored and its commit
    does not wait for the disk, and the 四性 checks at filing run here on the stored copy
    (re-reading and hashing it, as filing does), off the writer's process; a row that
    then files nothing removes them again."""
    try:
        uploads = []
        for name, path in paths:
            size = os.stat(path).st_size
            if size > limits.max_bytes:  # not read into memory at all
                raise TooLarge(f"文件过大：{size / 2**20:.1f} MB，单个文件不能超过 "
                               f"{limits.max_bytes / 2**20:.0f} MB", code="too_large")
            with open(path, "rb") as fh:
                uploads.append(filing.Upload(name, fh.read()))
        intake = filing.Intake(actor=None, data=data, uploads=uploads, limits=limits)
        filing.read_files(intake)
    except DomainError as exc:
        names = "、".join(name for name, _ in paths)
        return Read(refused=f"{names}：{exc.message}" if names else exc.message)
    except OSError as exc:
        return Read(refused=f"文件无法读取：{exc.strerror or exc}")
    created, checked = [], None
    if store_root is not None:
        store = LocalBlobStore(Path(store_root))
        checked = []
        for name, blob, ftype, result in intake.files:
            digest, new = store.put(blob)
            if new:
                created.append(digest)
            checked.append(preservation.check_file(
                filing.stored_file(name, blob, ftype, result, digest), blob, store,
                type_known=True))
    return Read(files=intake.files, carrier=intake.fields["carrier"], created=created,
                checked=checked)


def locate(folder: Path, values: dict) -> tuple[list[tuple[str, str]] | None, str | None]:
    """The row's files as (name, path) inside `folder`, or the reason they are refused."""
    try:
        located = [import_sources.safe_path(folder, name)
                   for name in import_sources.file_names(values.get("files", ""))]
    except DomainError as exc:
        return None, exc.message
    return [(unicodedata.normalize("NFC", p.name), str(p)) for p in located], None


def filing_data(values: dict) -> dict:
    keys = ("title", "category", "group", "date", "classification", "carrier",
            "document_number", "originator", "pages", "remarks")
    return {k: values[k] for k in keys if values.get(k)}


def exit_with_parent() -> None:
    """In a reading process: exit once the process that started it has gone. A killed
    importer cannot stop its pool, and the pool's queue never tells its readers."""
    import threading
    import time

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def pooled(rows, workers: int) -> bool:
    """Whether `rows` are read in a pool of `workers` processes (else in the writer's):
    with more than one core, for more than a few rows."""
    return workers > 1 and len(rows) >= 4 * workers


class Reader:
    """Reads rows ahead of the writer: in `workers` processes, at most `ahead` rows and
    about AHEAD_BYTES of their files in memory at once; in this process when there is no
    pool (few rows, or workers=0). `ahead` should hold two of the writer's units: rows are
    read only as they are taken, so with fewer the readers stopped while the writer wrote
    a unit and the writer then waited for the rest of the next."""

    AHEAD_BYTES = 256 * 2**20

    def __init__(self, folder: Path, rows, limits: filing.Limits, workers: int,
                 store: LocalBlobStore, *, ahead: int | None = None):
        self.folder, self.rows, self.limits = folder, rows, limits
        self.store_root = str(store.root)
        self.pool = None
        if pooled(rows, workers):
            import multiprocessing

            # Forked: the readers start at once, with the extraction modules loaded. They
            # run read_row only, never touching the database or the index.
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                            initializer=exit_with_parent)
        self.ahead = ahead or 8 * max(workers, 1)

    def __iter__(self):
        pending: deque = deque()
        held = 0  # bytes of the pending rows' files
        rows = iter(self.rows)
        try:
            while True:
                while len(pending) < self.ahead and (not pending or held < self.AHEAD_BYTES):
                    row = next(rows, None)
                    if row is None:
                        break
                    size, result = self._submit(row)
                    pending.append((row, size, result))
                    held += size
                if not pending:
                    return
                row, size, result = pending.popleft()
                held -= size
                yield row, result.result() if hasattr(result, "result") else result
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def _submit(self, row) -> tuple[int, object]:
        """(the size of the row's files, its Read or the future of it)."""
        _, values = row
        paths, refused = locate(self.folder, values)
        if refused:
            return 0, Read(refused=refused)
        if self.pool is None:
            return _size(paths), read_row(paths, filing_data(values), self.limits,
                                          self.store_root)
        return _size(paths), self.pool.submit(read_row, paths, filing_data(values),
                                              self.limits, self.store_root)


def _size(paths: list[tuple[str, str]]) -> int:
    total = 0
    for _, path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass  # read_row gives the reason
    return total
