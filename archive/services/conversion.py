"""DOCX access copies (issue 18): a PDF LibreOffice makes from a filed DOCX, so that a
Word file can be previewed and, at 秘密 and above, delivered as a stamped PDF.

Never inside a request: filing a DOCX queues a `docx_pdf` job on the job queue of the OCR
work (archive/services/jobs.py: the row, its lease, the worker's retry and sweep); the
worker runs LibreOffice on a copy of the bytes and stores the PDF as a blob of its own,
recorded on the file (`StoredFile.access_copy_sha256`, `access_copy_status`,
`access_copy_error`). The DOCX blob is only ever read.

LibreOffice runs headless in a throw-away profile and home directory per job, at lower
priority, without network where the system allows a private network namespace
(`unshare -rn`), and is killed with its whole process group when it overruns its time.
"""

import functools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archive.clock import now
from archive.models import Document, Job, StoredFile
from archive.models.job import MAX_ATTEMPTS, JobState
from archive.services import jobs, work

log = logging.getLogger(__name__)

QUEUED, OK, FAILED = "queued", "ok", "failed"
STATUS_LABELS = {QUEUED: "正在生成 PDF 预览副本", OK: "已生成 PDF 预览副本", FAILED: "PDF 预览副本生成失败"}
UNREADABLE = "LibreOffice 无法打开此 Word 文件（文件已损坏或不是有效的 Word 文档），未能生成 PDF 副本"
NO_SOFFICE = "服务器未安装 LibreOffice（soffice），无法生成 PDF 副本；请系统管理员安装后运行 flask convert --pending --retry-failed"
# Processes LibreOffice runs this much nicer than the web server (0) and the worker itself.
NICENESS = 10


class Unconvertible(Exception):
    """LibreOffice cannot read the file: trying again will not help. The reason, in Chinese."""


class Overrun(Exception):
    """The conversion took longer than its limit and was killed (it may pass on a quieter
    machine: the job is tried again, up to MAX_ATTEMPTS)."""


class LostLease(Exception):
    """The job was cancelled (its file destroyed or withdrawn) or taken by another worker
    while LibreOffice ran: the conversion is killed and nothing is written."""


@dataclass
class Settings:
    soffice: str | None
    timeout: float
    # The job's lease (OCR_LEASE_SECONDS): renewed every third of it while LibreOffice
    # runs, so a conversion allowed longer than a lease is not taken for a dead worker's.
    lease: float = 300.0

    @classmethod
    def from_config(cls, config) -> "Settings":
        """The LibreOffice binary (SOFFICE_BINARY, else `soffice` on the PATH), the time
        limit of one conversion (CONVERSION_TIMEOUT_SECONDS) and the job lease."""
        return cls(soffice=config.get("SOFFICE_BINARY") or shutil.which("soffice"),
                   timeout=float(config.get("CONVERSION_TIMEOUT_SECONDS", 120)),
                   lease=float(config.get("OCR_LEASE_SECONDS", 300)))


def to_pdf(data: bytes, settings: Settings, on_wait: Callable[[], object] | None = None) -> bytes:
    """A PDF of the DOCX `data`, made by LibreOffice in a private profile. `on_wait()` is
    called every third of a lease while LibreOffice runs (the worker renews its lease
    there; it raises LostLease to stop). Raises Unconvertible when LibreOffice cannot read
    it, Overrun when it takes too long (its process group is killed), FileNotFoundError
    when LibreOffice is not installed."""
    if not settings.soffice:
        raise FileNotFoundError(NO_SOFFICE)
    with tempfile.TemporaryDirectory(prefix="juanzong-docx-") as tmp:
        root = Path(tmp)
        source, out = root / "source.docx", root / "out"
        source.write_bytes(data)
        command = [*_confinement(), settings.soffice, "--headless", "--norestore", "--nologo",
                   "--nolockcheck", "--nodefault",
                   f"-env:UserInstallation={(root / 'profile').as_uri()}",
                   "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(out), str(source)]
        # A home and temp of its own: nothing of one job (or of the server's user) is seen
        # by the next; no proxy settings reach it.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp,
               "LANG": "C.UTF-8"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, env=env, cwd=tmp,
                                   start_new_session=True)
        try:
            err = _wait(process, settings, on_wait)
        finally:
            _kill_group(process)  # soffice.bin may outlive its launcher
            if process.returncode is None:  # stopped by on_wait
                process.communicate()
        pdf = out / "source.pdf"
        if not pdf.is_file() or not pdf.read_bytes()[:5] == b"%PDF-":
            log.info("LibreOffice did not convert (exit %s): %s", process.returncode,
                     err.decode(errors="replace")[-500:])
            raise Unconvertible(UNREADABLE)
        return pdf.read_bytes()


def _wait(process: subprocess.Popen, settings: Settings, on_wait) -> bytes:
    """LibreOffice's stderr once it exits; Overrun (its group killed) past the time limit."""
    deadline = time.monotonic() + settings.timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return process.communicate(timeout=max(0.0, min(left, settings.lease / 3)))[1]
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                _kill_group(process)
                process.communicate()
                raise Overrun(f"PDF 转换超过 {settings.timeout:g} 秒未完成，已中止") from None
            if on_wait is not None:
                on_wait()


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@functools.cache
def _confinement() -> tuple[str, ...]:
    """Lower priority, and a network namespace of its own (no network at all) where the
    kernel lets an unprivileged process have one; without it the conversion still runs."""
    prefix = ("nice", "-n", str(NICENESS)) if shutil.which("nice") else ()
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return (*prefix, unshare, "-rn")
    log.warning("no private network namespace (unshare -rn): LibreOffice runs with the network")
    return prefix


def queue(session, files: list[StoredFile], *, fresh: set[str] = frozenset()) -> list[Job]:
    """In the caller's unit: an access copy for each DOCX of `files`. The same bytes
    already converted for a kept document share its copy; the others get a `docx_pdf` job,
    handed to the queue once the unit has committed.

    `fresh`: digests whose blobs the filing has just stored anew. No kept document can
    hold those bytes (its blob would have been there), so they are not looked for; at
    worst (a blob lost from the store) the same bytes are converted once more."""
    queued = []
    for stored in files:
        if stored.kind != "docx":
            continue
        done = None if stored.sha256 in fresh else _converted_before(session, stored.sha256)
        if done is not None:
            stored.access_copy_sha256, stored.access_copy_status = done, OK
            stored.access_copy_error = None
            continue
        stored.access_copy_status, stored.access_copy_error = QUEUED, None
        queued.append(Job(kind=jobs.DOCX_PDF, file=stored))
    if queued:
        # Flushed with the rest of the unit: the ids are read once it has committed.
        session.add_all(queued)
        jobs.dispatch_after_commit(session, queued)
    return queued


def _converted_before(session, sha256: str) -> str | None:
    return session.execute(
        select(StoredFile.access_copy_sha256).join(Document, Document.id == StoredFile.document_id)
        .where(StoredFile.sha256 == sha256, StoredFile.access_copy_status == OK,
               Document.status.not_in(("purging", "destroyed"))).limit(1)).scalar()


def queue_pending(session, *, retry_failed: bool = False) -> list[int]:
    """Jobs for the DOCX files of kept documents filed before access copies existed (and,
    with `retry_failed`, those whose conversion failed); their ids."""
    wanted = StoredFile.access_copy_status.is_(None)
    if retry_failed:
        wanted = wanted | (StoredFile.access_copy_status == FAILED)
    files = session.execute(
        select(StoredFile).join(Document, Document.id == StoredFile.document_id)
        .where(StoredFile.kind == "docx", wanted,
               Document.status.not_in(("purging", "destroyed")))
        .order_by(StoredFile.id)).scalars().all()
    queued = queue(session, files)
    session.flush()
    return [job.id for job in queued]


def run_claimed(session, store, job_id: int, worker: str, sha256: str,
                settings: Settings) -> str | None:
    """Convert the DOCX of a job this worker has claimed (outside any transaction), renewing
    its lease while LibreOffice runs, and record the access copy. Returns the job's final
    state: done, failed, queued (to be tried again), cancelled, or None if the job is no
    longer this worker's (nothing written then)."""

    def renew() -> None:
        with work.unit(session):
            if not jobs.renew(session, job_id, worker, settings.lease):
                raise LostLease

    try:
        pdf = to_pdf(store.get(sha256), settings, renew)  # the DOCX verified against its hash
    except LostLease:
        job = session.get(Job, job_id, populate_existing=True)
        return JobState.CANCELLED.value if job.state == JobState.CANCELLED else None
    except Unconvertible as exc:
        with work.unit(session):
            return _give_up(session, job_id, worker, str(exc), retry=False)
    except Exception as exc:  # noqa: BLE001 - a timeout, a missing binary, a full disk: may pass
        log.warning("DOCX conversion job %s: %s", job_id, exc)
        reason = str(exc) if isinstance(exc, (Overrun, FileNotFoundError)) else \
            f"PDF 转换出错：{str(exc)[:200] or type(exc).__name__}"
        with work.unit(session):
            state = _give_up(session, job_id, worker, reason, retry=True)
        if state == JobState.QUEUED.value:
            jobs.dispatch([job_id])
        return state
    with work.unit(session):
        job = _mine(session, job_id, worker)
        if job is None:
            return None
        stored = job.file
        session.refresh(stored.document)  # destroyed meanwhile, by another process
        if stored.document.status in ("purging", "destroyed"):
            # Destroyed while it was converted: the copy is not kept either (issue 17).
            job.fail("文件已销毁，PDF 副本未保存", now())
            stored.access_copy_status, stored.access_copy_error = None, None
            return JobState.FAILED.value
        digest, created = store.put(pdf)
        if created:
            work.after_rollback(session, lambda: store.delete(digest))
        stored.access_copy_sha256, stored.access_copy_status = digest, OK
        stored.access_copy_error = None
        job.finish(now())
    return JobState.DONE.value


def _mine(session, job_id: int, worker: str) -> Job | None:
    job = jobs.locked(session, job_id)
    if job is None or job.state != JobState.RUNNING or job.worker != worker:
        return None
    return job


def _give_up(session, job_id: int, worker: str, reason: str, *, retry: bool) -> str | None:
    """Queued again while attempts are left and the cause may pass, else failed, with the
    reason on the file for the document page."""
    job = _mine(session, job_id, worker)
    if job is None:
        return None
    if retry and job.attempts < MAX_ATTEMPTS:
        job.requeue(now(), reason[:500])
        return JobState.QUEUED.value
    job.fail(reason, now())
    job.file.access_copy_status, job.file.access_copy_error = FAILED, reason[:500]
    return JobState.FAILED.value

