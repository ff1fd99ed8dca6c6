"""Background jobs as the database knows them: queued with the document, claimed with a
lease, finished, retried or failed (archive/models/job.py). The queue transport (huey)
lives in archive/worker.py; these operations never commit (the worker's units do).

OCR is the first kind: an image, or a PDF without a text layer, is filed at once (its
metadata searchable) and a job reads its text afterwards; the document is re-indexed
when the job finishes. The bytes are only ever read.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from archive.clock import now
from archive.models import Document, StoredFile
from archive.models.enums import DocumentStatus
from archive.models.job import MAX_ATTEMPTS, Job, JobState
from archive.services import ocr, work
from archive.services.extraction.result import finish

log = logging.getLogger(__name__)

OCR = "ocr"
# A DOCX's PDF access copy, made by LibreOffice (services/conversion.py).
DOCX_PDF = "docx_pdf"
IMAGE_KINDS = ("png", "jpeg", "tiff")
NO_TEXT_FOUND = "文字识别（OCR）未识别到文字"
DESTROYED = "文件已销毁，任务已取消"
WITHDRAWN = "文件已撤销归档，任务已取消"
# Document states whose files no job should read any more.
GONE = {"purging": DESTROYED, "destroyed": DESTROYED, "withdrawn": WITHDRAWN}


def needs_ocr(stored: StoredFile) -> bool:
    """Whether a file's text can only come from OCR: an image, or a PDF read whole that
    has no text layer."""
    return ((stored.kind in IMAGE_KINDS and stored.text_status == "skipped")
            or (stored.kind == "pdf" and stored.text_status == "empty"))


def queue_ocr(session, files: list[StoredFile], partly_scanned=()) -> list[Job]:
    """Queue an OCR job for each of `files` that needs one, and for the PDFs of
    `partly_scanned` (text on some pages, scans on others: their textless pages are
    read), in the caller's unit; the jobs are handed to the queue once it has committed."""
    queued = [Job(kind=OCR, file=f) for f in files if needs_ocr(f) or f in partly_scanned]
    if queued:
        session.add_all(queued)
        dispatch_after_commit(session, queued)
    return queued


_TO_DISPATCH = "jobs.to_dispatch"


def dispatch_after_commit(session, queued: list[Job]) -> None:
    """Hand the jobs `queued` to the task queue once the caller's unit has committed,
    together with every other job the unit queued: one push for the unit (an import's
    unit of 25 rows queues a dozen conversions; each push on its own cost a commit of the
    queue's file, about 7 ms of waiting for the disk). Forgotten if the unit rolls back.

    The jobs need not be flushed yet (their ids are read after the commit); one added in
    a savepoint that rolled back (an import row refused after queueing) is left out."""
    pending = session.info.get(_TO_DISPATCH)
    if pending is None:
        pending = session.info[_TO_DISPATCH] = []
        work.after_commit(session, lambda: dispatch(
            [i for i in map(_committed_id, session.info.pop(_TO_DISPATCH, [])) if i]))
        work.after_rollback(session, lambda: session.info.pop(_TO_DISPATCH, None))
    pending.extend(queued)


def _committed_id(job: Job) -> int | None:
    """The id of a job the unit wrote; None for one a rolled-back savepoint dropped. Read
    from the object's identity, never from the database (an earlier hook may have ended
    the transaction, and an attribute load would begin another)."""
    state = sa_inspect(job)
    return state.identity[0] if state.persistent and state.identity else None


def dispatch(job_ids: list[int]) -> None:
    """Hand jobs to the task queue. A queue that cannot take them (Redis down) costs
    nothing: the rows stay queued, and the worker's sweep or `ocr --pending` finds them."""
    if not job_ids:
        return
    try:
        current_app.extensions["job_queue"].push(job_ids)
    except Exception:
        log.exception("job queue unavailable: jobs %s stay queued for the sweep", job_ids)


def locked(session, job_id: int) -> Job | None:
    """Job `job_id` as the database holds it now, its row locked for this transaction. A
    worker's session keeps its objects across commits (expire_on_commit is off): without
    populate_existing the job claimed earlier would be returned as it was then, and a
    running job would never see that it was cancelled or taken by another worker."""
    return session.get(Job, job_id, with_for_update=True, populate_existing=True)


def claim(session, job_id: int, worker: str, lease_seconds: int) -> Job | None:
    """Start job `job_id` for `worker` if it is waiting (queued, or running under a lease
    that ran out); None when it is done, failed or held by a live worker."""
    job = locked(session, job_id)
    moment = now()
    if job is None or not (job.state == JobState.QUEUED or job.lease_expired(moment)):
        return None
    job.start(worker, moment + timedelta(seconds=lease_seconds), moment)
    session.flush()
    return job


def renew(session, job_id: int, worker: str, lease_seconds: float,
          done: int | None = None, total: int | None = None) -> bool:
    """Extend the lease of a job this worker holds and record its progress in pages (an
    OCR job's); False if the job is no longer this worker's (cancelled, or its lease ran
    out and another took it)."""
    job = locked(session, job_id)
    if job is None or job.state != JobState.RUNNING or job.worker != worker:
        return False
    moment = now()
    job.lease_until, job.updated_at = moment + timedelta(seconds=lease_seconds), moment
    if done is not None:
        job.done_pages, job.total_pages = done, total
    return True


def complete_ocr(session, job_id: int, worker: str, result: ocr.Result) -> Document | None:
    """Store what OCR read as the file's text (marked as OCR, with the mean confidence),
    flag the document for the index, finish the job. None if the job is no longer this
    worker's (nothing is written then)."""
    job = locked(session, job_id)
    if job is None or job.state != JobState.RUNNING or job.worker != worker:
        return None
    stored = job.file
    session.refresh(stored.document)  # destroyed or withdrawn meanwhile, by another process
    if stored.document.status in GONE:
        # Destroyed or withdrawn while it was read: what OCR read is dropped (issue 17).
        job.cancel(GONE[stored.document.status], now())
        session.flush()
        return None
    if stored.text_status == "ok":
        # A PDF with text on its other pages: what OCR read of its scanned pages is added.
        if not result.empty:
            stored.text = finish(f"{stored.text}\n{result.text}", stored.pages, "").text
            stored.text_source = OCR
        stored.ocr_confidence = _rounded(result.confidence)
        stored.document.flag_for_index()
        job.finish(now())
        session.flush()
        return stored.document
    read = finish(result.text, result.pages, NO_TEXT_FOUND)
    stored.text, stored.text_status = read.text, read.status
    stored.text_error = read.error
    stored.text_source = OCR
    stored.ocr_confidence = _rounded(result.confidence)
    if stored.pages is None:
        stored.pages = result.pages
    document = stored.document
    document.flag_for_index()
    job.finish(now())
    session.flush()
    return document


def _rounded(confidence: float | None) -> float | None:
    return round(confidence, 4) if confidence is not None else None


def give_up(session, job_id: int, worker: str, reason: str, *, retry: bool) -> None:
    """A job that raised: queued again while attempts are left and the cause may pass
    (`retry`), else failed with the reason. The file keeps its bytes and its metadata;
    a job whose document was destroyed or withdrawn meanwhile is cancelled instead."""
    job = locked(session, job_id)
    if job is None or job.state != JobState.RUNNING or job.worker != worker:
        return
    session.refresh(job.file.document)
    if job.file.document.status in GONE:  # its blob went with it: nothing to retry
        job.cancel(GONE[job.file.document.status], now())
    elif retry and job.attempts < MAX_ATTEMPTS:
        job.requeue(now(), reason[:500])
    else:
        job.fail(reason, now())
        job.file.text_error = reason[:500]


def cancel_for_files(session, file_ids: list[int], reason: str) -> list[int]:
    """Cancel the jobs of files whose content is going (destroyed, withdrawn), in the
    caller's unit: a queued one is never run, a running one stops at its next page (its
    lease renewal finds it cancelled) and writes nothing. Returns their ids."""
    if not file_ids:
        return []
    found = session.execute(select(Job).where(
        Job.file_id.in_(file_ids),
        Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))).scalars().all()
    moment = now()
    for job in found:
        job.cancel(reason, moment)
        if job.kind == DOCX_PDF and job.file.access_copy_status == "queued":
            job.file.access_copy_status = None  # no PDF copy made, and none coming
    session.flush()
    return [job.id for job in found]


def requeue_expired(session) -> list[int]:
    """Queue again the jobs running under a lease that ran out (their worker died);
    returns their ids. A job that ran out of leases MAX_ATTEMPTS times is failed."""
    moment = now()
    expired = session.execute(select(Job).where(
        Job.state == JobState.RUNNING.value, Job.lease_until < moment)).scalars().all()
    for job in expired:
        if job.attempts >= MAX_ATTEMPTS and job.kind == DOCX_PDF:
            job.fail("PDF 转换多次中断，未完成", moment)
            job.file.access_copy_status, job.file.access_copy_error = "failed", job.error
        elif job.attempts >= MAX_ATTEMPTS:
            job.fail("文字识别多次中断，未完成", moment)
        else:
            job.requeue(moment, "上次识别中断（进程退出），已重新排队")
    session.flush()
    return sorted(job.id for job in expired if job.state == JobState.QUEUED)


def _kept():
    """Files of documents still in the archive: a withdrawn one is out of lists and search,
    a destroyed one's bytes are gone; neither is read again."""
    return StoredFile.document_id.in_(select(Document.id).where(
        Document.status == DocumentStatus.ACTIVE.value))


def unchecked_pdfs(session) -> list[tuple[int, str]]:
    """(id, sha256) of the PDFs with text whose pages without text were never counted
    (filed before scanned pages among text pages were looked for), and with no job."""
    has_job = select(Job.id).where(Job.file_id == StoredFile.id).exists()
    return [tuple(row) for row in session.execute(
        select(StoredFile.id, StoredFile.sha256).where(
            StoredFile.kind == "pdf", StoredFile.text_status == "ok",
            StoredFile.textless_pages.is_(None), ~has_job, _kept()).order_by(StoredFile.id))]


def record_textless(session, counts: dict[int, int]) -> None:
    """Record how many pages without text each of these PDFs has (file id -> pages)."""
    for file_id, pages in counts.items():
        session.get(StoredFile, file_id).textless_pages = pages
    session.flush()


def queue_missing(session) -> list[int]:
    """OCR jobs for files that need OCR and never had a job (filed before OCR existed),
    and for PDFs with text found to have pages without (`record_textless`)."""
    has_job = select(Job.id).where(Job.file_id == StoredFile.id).exists()
    files = session.execute(select(StoredFile).where(
        (StoredFile.kind.in_(IMAGE_KINDS) & (StoredFile.text_status == "skipped"))
        | ((StoredFile.kind == "pdf") & (StoredFile.text_status == "empty"))
        | ((StoredFile.kind == "pdf") & (StoredFile.text_status == "ok")
           & (StoredFile.textless_pages > 0)),
        ~has_job, _kept())).scalars().all()
    jobs = [Job(kind=OCR, file_id=f.id) for f in files]
    session.add_all(jobs)
    session.flush()
    return [job.id for job in jobs]


def waiting(session) -> list[int]:
    """Ids of the jobs queued now, oldest first."""
    return session.execute(select(Job.id).where(Job.state == JobState.QUEUED.value)
                           .order_by(Job.id)).scalars().all()


def latest_for_files(session, file_ids: list[int]) -> dict[int, Job]:
    """file id -> its newest job, for the files that have one."""
    if not file_ids:
        return {}
    newest = (select(func.max(Job.id)).where(Job.file_id.in_(file_ids)).group_by(Job.file_id))
    rows = session.execute(select(Job).where(Job.id.in_(newest))).scalars().all()
    return {job.file_id: job for job in rows}


def counts(session) -> dict[str, int]:
    """How many jobs are in each state."""
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    found = dict.fromkeys((state.value for state in JobState), 0)
    found.update({state: n for state, n in rows})
    return found


def recent_failures(session, limit: int = 10) -> list[Job]:
    """The newest failed jobs, with their files and documents (for the dashboard)."""
    return session.execute(select(Job).where(Job.state == JobState.FAILED.value)
                           .order_by(Job.id.desc()).limit(limit)).scalars().all()
