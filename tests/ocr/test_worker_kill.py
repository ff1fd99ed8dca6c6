"""A worker killed by SIGKILL in the middle of a job: huey loses the task it had taken,
the job's lease runs out, and the next worker's start-up queues it again; the job is
run again to the end and the document found by its words (issue 20)."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from archive import samples
from archive.clock import now
from archive.extensions import db
from archive.models import Job, StoredFile

LEASE_SECONDS = 3
PAGES = ["第一页：房地产买卖合同", "第二页：付款方式按揭贷款", "第三页：交付标准精装修",
         "第四页：违约责任条款", "第五页：争议解决方式仲裁", "第六页：签字盖章生效"]


def _worker(app) -> subprocess.Popen:
    root = Path(app.config["INSTANCE_DIR"]).parent
    env = {**os.environ, "INSTANCE_DIR": str(root / "instance"),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "STORAGE_DIR": str(app.config["STORAGE_DIR"]), "INDEX_DIR": str(app.config["INDEX_DIR"]),
           "SEARCH_BACKEND": app.config["SEARCH_BACKEND"], "JOB_QUEUE_URL": app.config["JOB_QUEUE_URL"],
           "OCR_LEASE_SECONDS": str(LEASE_SECONDS), "SECRET_KEY": "test-only-key"}
    flask = Path(sys.executable).parent / "flask"
    return subprocess.Popen([str(flask), "--app", "archive", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _job(job_id: int) -> Job:
    db.session.expire_all()  # the worker writes from another process
    job = db.session.get(Job, job_id)
    # End the transaction at once: outside a request it holds SQLite's write lock, which
    # the worker needs to renew its lease.
    db.session.commit()
    return job


def _wait_for(job_id: int, test, timeout: float = 300.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(job_id)
        if test(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stayed {job.state} ({job.done_pages} pages done)")


def test_a_job_of_a_killed_worker_is_run_again_by_the_next(app, file_doc, make_customer,
                                                           make_dossier, call):
    frames = [samples.page_image([line], (700, 300)) for line in PAGES]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    tiff = out.getvalue()
    document = file_doc(make_dossier(make_customer()), "合同扫描件", "签约",
                        files=[("合同.tif", tiff)])
    job_id = document.files[0].jobs[-1].id

    first = _worker(app)
    try:
        running = _wait_for(job_id, lambda job: job.state == "running" and job.done_pages >= 1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert running.done_pages < len(PAGES)  # killed mid-job
    killed = _job(job_id)
    assert (killed.state, killed.attempts) == ("running", 1)
    assert db.session.get(StoredFile, document.files[0].id).text == ""
    # Nobody heard of the death: the lease runs out, and the next worker takes the job up.
    while _job(job_id).lease_until >= now():
        time.sleep(0.2)

    second = _worker(app)
    try:
        # Done, and the index written after the job's commit.
        done = _wait_for(job_id, lambda job: job.state == "failed" or (
            job.state == "done" and not job.file.document.needs_index))
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    assert (done.state, done.attempts, done.done_pages) == ("done", 2, len(PAGES))
    stored = db.session.get(StoredFile, document.files[0].id)
    assert (stored.text_status, stored.text_source, stored.pages) == ("ok", "ocr", len(PAGES))
    hits = call("officer", "GET", "/api/v1/search?q=签字盖章").json["hits"]
    assert [hit["document_id"] for hit in hits] == [document.id]
