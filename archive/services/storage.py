"""Content-addressed blob store: `<root>/ab/cd/<sha256>`, verified on every read.

Local disk is the default; another backend (an S3-compatible store for scale-out) only
has to offer the same methods.
"""

import errno
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.clock import now
from archive.services.errors import IntegrityError, NotFound, StorageFull

# A write that failed for want of room: the disk is full, or the archive's quota on it.
_FULL = (errno.ENOSPC, errno.EDQUOT)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class BlobProblem:
    sha256: str
    problem: str  # missing | corrupt


@dataclass
class SpaceAlarm:
    """Why storage needs an administrator: what is free, and when a write last failed
    for want of room (None if the last write succeeded)."""

    free: int
    total: int
    full_at: datetime | None


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        # When this process's last write failed for want of room; the next write that
        # succeeds clears it. Each worker keeps its own, the free-space check in `alarm`
        # sees the disk all of them share.
        self.full_at: datetime | None = None

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound("文件不存在")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store `data`; return (sha256, created). Identical bytes are stored once.

        Written to a temp file in the same directory, fsynced, then renamed, so a
        crash leaves either no blob or the whole blob, never a partial one.
        """
        digest = sha256_of(data)
        target = self.path_for(digest)
        if target.exists() and self._matches(target, digest) and self._touch(target):
            return digest, False
        try:
            self._write(target, data)
        except OSError as exc:
            if exc.errno not in _FULL:
                raise
            self.full_at = now()
            raise StorageFull("存储空间已满，文件未能保存。"
                              "请联系系统管理员清理或扩充存储空间后再上传") from exc
        self.full_at = None
        return digest, True

    @staticmethod
    def _touch(target: Path) -> bool:
        """Mark a blob as just reused, so the orphan sweep spares it while the upload that
        reuses it has not committed yet; False if the sweep took it meanwhile."""
        try:
            os.utime(target)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def alarm(self, *, min_free_bytes: int, min_free_percent: float) -> SpaceAlarm | None:
        """A SpaceAlarm when the last write failed for want of room, or the free space
        is below either threshold; None while there is room."""
        usage = shutil.disk_usage(self.root)
        low = (usage.free < min_free_bytes
               or usage.free * 100 < usage.total * min_free_percent)
        if self.full_at is None and not low:
            return None
        return SpaceAlarm(free=usage.free, total=usage.total, full_at=self.full_at)

    def get(self, sha256: str) -> bytes:
        """The blob's bytes, after checking they still hash to `sha256`."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"存储文件缺失：{sha256}", code="blob_missing") from None
        if sha256_of(data) != sha256:
            raise IntegrityError(f"存储文件校验失败：{sha256}", code="blob_corrupt")
        return data

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def verify(self, expected: set[str]) -> list[BlobProblem]:
        """Check every blob in `expected`: missing or corrupt ones are reported."""
        problems = []
        for digest in sorted(expected):
            path = self.path_for(digest)
            if not path.exists():
                problems.append(BlobProblem(digest, "missing"))
            elif not self._matches(path, digest):
                problems.append(BlobProblem(digest, "corrupt"))
        return problems

    def sweep(self, referenced: set[str], *, older_than: float) -> list[str]:
        """Remove every blob not in `referenced` stored or reused before the Unix time
        `older_than`, and temporary files a crashed write left; return the digests removed.

        An upload that reuses a blob touches it (put) before the row naming it commits, and
        `referenced` is read before the walk, so a blob an upload in flight stores or reuses
        is newer than `older_than` (choose it earlier than any transaction's start). Each
        candidate is first moved aside and its time read again there: a reuse that touched
        it just before the move puts it back; one just after finds it gone and writes it
        anew."""
        removed = []
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if name.startswith(".tmp-"):
                if _mtime(path) < older_than:
                    path.unlink(missing_ok=True)
                continue
            if len(name) != 64 or name in referenced or _mtime(path) >= older_than:
                continue
            aside = path.with_name(f".sweep-{name}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            if _mtime(aside) >= older_than:
                try:
                    os.link(aside, path)  # fails only if an upload wrote it again meanwhile
                except FileExistsError:
                    pass
                aside.unlink()
                continue
            aside.unlink()
            removed.append(name)
        return removed

    @staticmethod
    def _matches(path: Path, digest: str) -> bool:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest() == digest


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: nothing to remove
