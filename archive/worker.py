"""The background worker: a huey task queue carrying job ids, and the loop that runs them.

huey keeps its queue in SQLite under instance/ (JOB_QUEUE_URL sqlite:///…, the default)
or in Redis (redis://…) once the archive runs on more than one machine. huey does not
acknowledge tasks, so a worker killed mid-task loses its message: the job's row holds
its state and lease (archive/services/jobs.py), and worker start-up, a sweep every
minute and `flask ocr --pending` queue again what a dead worker held.

`flask --app archive worker` runs a consumer at lower priority (nice) with the OCR
engine's threads capped, beside gunicorn (`make run` starts it).
"""

import logging
import os
import socket
import sys
import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import IntegrityError

from archive import clock
from archive.extensions import db
from archive.models import Job
from archive.services import conversion, destruction, indexing, jobs, nightly, ocr, work

log = logging.getLogger(__name__)

# Worker processes run this much nicer than the web server (0): pages stay fast during OCR.
NICENESS = 10
# A worker with a backlog writes the search index at most this often, taking what
# finished meanwhile in one write: a write per job cost a quarter of a page's OCR, and a
# write (0.4 s) every 10 s still 4 % of a worker's time (docs/ocr.md). When nothing
# waits, what finished is indexed at once; with a backlog a scan is searchable by its
# words at most a minute after its job.
INDEX_EVERY_SECONDS = 60
NIGHTLY_CHECK = "check_archive"


class Queue:
    """The app's task queue: `push(job_ids)` from the web, `consumer()` in the worker."""

    def __init__(self, app: Flask):
        self.app = app
        self.huey = make_huey(app.config["JOB_QUEUE_URL"])
        self.run_task = self.huey.task(name="run_job", retries=0)(self._run)
        # The scheduler's own tasks go ahead of a backlog of jobs where the storage orders
        # by priority (SQLite; on Redis only PriorityRedisHuey does): behind a night of OCR
        # the 02:30 check would run after its window closed, and do nothing.
        first = 10 if self.huey.storage.priority else None
        self.sweep_task = self.huey.periodic_task(_every_minute(), name="sweep",
                                                  priority=first)(self._sweep)
        # Every worker's scheduler fires it each minute; it runs once a night, in the night's
        # window, in the worker that claims the night (services/nightly.py).
        self.check_task = self.huey.periodic_task(_every_minute(), name="check_archive",
                                                  priority=first)(self._check_archive)
        self._indexed_at = 0.0  # time.monotonic() of this process's last index write

    def push(self, job_ids: list[int]) -> None:
        """Queue each job as a task of its own. Several go into huey's SQLite file in one
        transaction: one commit, and one wait for the disk (about 7 ms), instead of one
        each (a bulk import's unit of rows queues a dozen conversions)."""
        from huey.storage import SqliteStorage

        storage = self.huey.storage
        if len(job_ids) < 2 or self.huey.immediate or not isinstance(storage, SqliteStorage):
            for job_id in job_ids:
                self.run_task(job_id)
            return
        # huey's own SqliteStorage.enqueue, for the lot at once.
        rows = [(storage.name, storage.to_blob(self.huey.serialize_task(self.run_task.s(job_id))),
                 0) for job_id in job_ids]
        with storage.db(commit=True) as cursor:
            cursor.executemany("insert into task (queue, data, priority) values (?, ?, ?)", rows)

    def holds_jobs(self) -> bool:
        """Whether a job's message waits in the queue. The sweep and the nightly check,
        queued beside the jobs every minute by the scheduler, are not jobs: counting them
        made the queue never look empty to the sweep, which then never sent lost jobs
        again."""
        return any(task.name == self.run_task.name for task in self.huey.pending())

    def _run(self, job_id: int) -> None:
        with self.app.app_context():
            run_job(self.app, job_id, index=False)
            if (self.huey.pending_count() == 0
                    or time.monotonic() - self._indexed_at >= INDEX_EVERY_SECONDS):
                index_waiting()
                self._indexed_at = time.monotonic()
            db.session.remove()

    def _sweep(self) -> None:
        with self.app.app_context():
            sweep(self.app)
            db.session.remove()

    def _check_archive(self) -> None:
        with self.app.app_context():
            nightly_check(self.app)
            db.session.remove()


def make_huey(url: str):
    """A huey on `url`: sqlite:///path (embedded) or redis://host:port/db."""
    from huey import RedisHuey, SqliteHuey

    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("juanzong", url=url, results=False)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("juanzong", filename=str(path), results=False)
    raise ValueError(f"JOB_QUEUE_URL must be sqlite:///… or redis://…, not {url!r}")


def _every_minute():
    from huey import crontab

    return crontab(minute="*")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(app: Flask, job_id: int, engine: ocr.Engine | None = None, *,
            index: bool = True) -> str | None:
    """Run one job in this process, if it is waiting: claim it under a lease, read the
    file, OCR it page by page (renewing the lease), store the text and re-index the
    document (or, without `index`, leave it flagged for `index_waiting`). Returns the
    job's final state, or None if it was not this worker's to run."""
    session, me = db.session, worker_name()
    lease = app.config["OCR_LEASE_SECONDS"]
    with work.unit(session):
        job = jobs.claim(session, job_id, me, lease)
        if job is None:
            return None
        stored = job.file
        sha256, kind = stored.sha256, stored.kind
        # A PDF with text: only its pages without text are read.
        textless_only = stored.kind == "pdf" and stored.text_status == "ok"
        convert = job.kind == jobs.DOCX_PDF
    if convert:  # a DOCX's access copy: LibreOffice, not OCR
        return conversion.run_claimed(session, app.extensions["blob_store"], job_id, me, sha256,
                                      conversion.Settings.from_config(app.config))

    def progress(done: int, total: int) -> None:
        with work.unit(session):
            if not jobs.renew(session, job_id, me, lease, done, total):
                raise _LostLease

    try:
        data = app.extensions["blob_store"].get(sha256)  # verified against its hash
        result = ocr.recognise(data, kind, engine or ocr.engine(app.config["OCR_THREADS"]),
                               on_page=progress, textless_only=textless_only)
    except _LostLease:
        # Cancelled (its file destroyed or withdrawn), or taken by another worker.
        return "cancelled" if session.get(Job, job_id, populate_existing=True).state == "cancelled" else None
    except ocr.Unreadable as exc:
        with work.unit(session):
            jobs.give_up(session, job_id, me, str(exc), retry=False)
        return session.get(Job, job_id).state
    except Exception as exc:  # noqa: BLE001 - any other cause may pass: try again later
        log.exception("OCR job %s failed", job_id)
        with work.unit(session):
            jobs.give_up(session, job_id, me, f"文字识别出错：{str(exc)[:200] or type(exc).__name__}",
                         retry=True)
        state = session.get(Job, job_id).state
        if state == "queued":
            jobs.dispatch([job_id])
        return state
    with work.unit(session):
        document = jobs.complete_ocr(session, job_id, me, result)
    if document is None:
        return "cancelled" if session.get(Job, job_id, populate_existing=True).state == "cancelled" else None
    if index:
        indexing.index_after_commit(session, [document.id])
    return "done"


def nightly_check(app: Flask, me: str | None = None) -> int | None:
    """四性检测 in storage (services/preservation_storage.py), once a night however many
    workers run: in the night's window, the worker that claims tonight's row runs it,
    renewing its lease while it hashes the blobs; the others, and this one again, find it
    claimed. A worker killed mid-run is taken over once its lease ran out. Returns the
    id of the check's run if this call ran it. `me` names the worker (default: this
    process)."""
    from archive.services import preservation_storage

    session, me = db.session, me or worker_name()
    night = nightly.tonight(clock.now())
    if night is None:
        return None
    lease = app.config["NIGHTLY_LEASE_SECONDS"]
    try:
        with work.unit(session):
            run = nightly.claim(session, NIGHTLY_CHECK, night, me, lease)
    except IntegrityError:  # another worker inserted tonight's row at the same moment
        return None
    if run is None:
        return None
    run_id, renewed = run.id, time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal renewed
        if time.monotonic() - renewed >= lease / 3:
            with work.unit(session):
                if not nightly.renew(session, run_id, me, lease):
                    raise _LostLease
            renewed = time.monotonic()

    try:
        # The report and the claim's end are one unit: a run taken over since the last
        # renewal writes nothing (the other worker's run is the night's report).
        checked = preservation_storage.check_archive(
            session, app.extensions["blob_store"], app.extensions["search"], trigger="queue",
            progress=progress, still_ours=lambda: nightly.finish(session, run_id, me))
    except _LostLease:  # taken over: the other worker's run is the night's
        return None
    except Exception as exc:  # noqa: BLE001 - recorded on the claim; the next night runs anew
        log.exception("nightly storage check failed")
        work.discard(session)
        with work.unit(session):
            nightly.finish(session, run_id, me, f"{type(exc).__name__}: {exc}")
        return None
    return checked.id if checked is not None else None


def index_waiting() -> None:
    """Index in one write the documents whose jobs finished without it (flagged)."""
    if indexing.waiting(db.session):
        indexing.index_after_commit(db.session, [])
    db.session.commit()  # end the read: on SQLite it would hold a snapshot


class _LostLease(Exception):
    """The job was cancelled, or its lease ran out and another worker took it: stop,
    write nothing."""


def sweep(app: Flask) -> list[int]:
    """Queue again the jobs of dead workers (lease run out) and, when the queue holds no
    message at all, every job still queued (its message was lost: a queue emptied or
    replaced, Redis down at filing); returns their ids. Claiming is idempotent, so a job
    sent twice runs once; sending only to an idle queue keeps a long backlog from being
    sent again and again."""
    session = db.session
    with work.unit(session):
        ids = jobs.requeue_expired(session)
        if not app.extensions["job_queue"].holds_jobs():
            ids = sorted(set(ids) | set(jobs.waiting(session)))
    jobs.dispatch(ids)
    index_waiting()  # what a worker finished and left for a later write
    # A destruction's removed text out of PostgreSQL's pages: VACUUM FULL holds the table
    # for as long as rewriting every file's text takes, so it waits for the night's
    # window (`flask destruction-sweep` runs it at once, when an operator chooses to).
    if nightly.tonight(clock.now()) is not None:
        destruction.compact(session)
    return ids


def _cap_threads(threads: int) -> None:
    """Keep the engine's libraries to `threads` threads each (set before they load)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass


def init_app(app: Flask) -> None:
    app.extensions["job_queue"] = Queue(app)

    @app.cli.command("worker")
    @click.option("--threads", type=int, default=None, help="worker threads in this process (default 1)")
    def worker_command(threads):
        """Run the background worker (OCR) until stopped, at lower priority."""
        os.nice(NICENESS)
        _cap_threads(app.config["OCR_THREADS"])
        logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
        ids = sweep(app)  # what dead workers held: their leases ran out
        db.session.remove()
        click.echo(f"后台任务进程已启动（{worker_name()}），重新排队 {len(ids)} 个中断的任务", err=True)
        queue = app.extensions["job_queue"]
        consumer = queue.huey.create_consumer(workers=threads or 1, worker_type="thread",
                                              initial_delay=0.1, backoff=1.15, max_delay=2.0)
        consumer.run()

    @app.cli.command("ocr")
    @click.option("--pending", is_flag=True, required=True,
                  help="run every job waiting, and OCR files filed before OCR existed")
    def ocr_command(pending):
        """OCR what is waiting, here and now, with a progress bar (after a crash, or for
        files filed before this release)."""
        session = db.session
        counts = {}
        unchecked = jobs.unchecked_pdfs(session)
        session.commit()
        # PDFs with text filed before their scanned pages were counted: read once each.
        with click.progressbar(unchecked, label="检查早先归档的 PDF 中的扫描页", file=sys.stderr) as bar:
            for file_id, sha256 in bar:
                try:
                    counts[file_id] = ocr.textless_pages(app.extensions["blob_store"].get(sha256))
                except Exception:  # noqa: BLE001 - a blob away is counted on a later run
                    log.exception("could not count the pages without text of file %s", file_id)
        with work.unit(session):
            jobs.record_textless(session, counts)
            added = jobs.queue_missing(session)
        sweep(app)
        waiting = jobs.waiting(session)
        session.commit()
        click.echo(f"待识别 {len(waiting)} 个文件（其中 {len(added)} 个为早先归档、尚未识别的文件）")
        if not waiting:
            return
        _cap_threads(app.config["OCR_THREADS"])
        engine = ocr.engine(app.config["OCR_THREADS"])
        states: dict[str | None, int] = {}
        indexed_at = time.monotonic()
        with click.progressbar(waiting, label="文字识别", file=sys.stderr) as bar:
            for job_id in bar:
                state = run_job(app, job_id, engine, index=False)
                states[state] = states.get(state, 0) + 1
                if time.monotonic() - indexed_at >= INDEX_EVERY_SECONDS:
                    index_waiting()
                    indexed_at = time.monotonic()
        index_waiting()
        click.echo(f"完成 {states.get('done', 0)} 个，失败 {states.get('failed', 0)} 个，"
                   f"由其他进程处理 {states.get(None, 0)} 个")
        if states.get("failed"):
            sys.exit(1)
