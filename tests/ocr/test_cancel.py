"""OCR jobs of files that are destroyed or withdrawn are cancelled (issue 20): a queued
one in the destruction's (or withdrawal's) own transaction, so no worker reads it; a
running one stops at its next page and ends 'cancelled' with the reason, not 'failed',
writing nothing."""

import threading
from datetime import timedelta

import pytest

from archive import clock, samples, worker
from archive.extensions import db
from archive.models import Job, StoredFile
from archive.services import jobs, ocr, work
from tests.api.test_destruction_review import _destroyed
from tests.ocr.test_jobs import scan_png


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("销毁客户"))


def _scan(file_doc, dossier, files):
    # A complaint of 2024 whose retention has run out: the destruction tests' own.
    return file_doc(dossier, "投诉扫描件", "投诉", files=files, date="2024-01-10")


def test_a_destruction_cancels_the_queued_ocr_job_of_its_files(app, call, file_doc, dossier):
    scan = _scan(file_doc, dossier, [("投诉单.png", scan_png())])
    job_id = scan.files[0].jobs[-1].id
    _destroyed(call, scan)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.state, job.error) == ("cancelled", jobs.DESTROYED) and job.finished_at
    assert job.attempts == 0  # never claimed
    # Its message still waits in huey's queue: the worker takes it and runs nothing.
    assert worker.run_job(app, job_id) is None
    assert db.session.get(Job, job_id).state == "cancelled"
    assert jobs.waiting(db.session) == []


class DestroyedWhileReading:
    """The real engine; while it reads the first page, the document is destroyed."""

    name = "RapidOCR, interrupted"

    def __init__(self, destroy):
        self.destroy, self.pages = destroy, 0

    def read(self, image):
        if self.pages == 0:
            self.destroy()
        self.pages += 1
        return ocr.engine().read(image)


def test_a_running_job_whose_file_is_destroyed_ends_cancelled(app, call, file_doc, dossier):
    scan = _scan(file_doc, dossier, [("证书.tif", samples.make_tiff(3, size=(420, 300)))])
    stored_id, job_id = scan.files[0].id, scan.files[0].jobs[-1].id
    engine = DestroyedWhileReading(lambda: _destroyed(call, scan))
    assert worker.run_job(app, job_id, engine) == "cancelled"
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.state, job.error, job.attempts, job.done_pages) == ("cancelled", jobs.DESTROYED, 1, 0)
    assert engine.pages < 3  # stopped at the first page's end, not read to the last
    stored = db.session.get(StoredFile, stored_id)
    assert (stored.text, stored.text_source, stored.text_error) == ("", "", None)


def test_a_job_whose_file_was_destroyed_is_cancelled_not_retried(app, call, file_doc, dossier):
    scan = _scan(file_doc, dossier, [("投诉单.png", scan_png())])
    job_id = scan.files[0].jobs[-1].id
    _destroyed(call, scan)
    # As after a restore whose journal applied the destruction again: the job left queued.
    db.session.get(Job, job_id).requeue(clock.now())
    db.session.commit()
    assert worker.run_job(app, job_id) == "cancelled"  # its blob is gone: nothing to retry
    job = db.session.get(Job, job_id)
    assert (job.state, job.error, job.attempts) == ("cancelled", jobs.DESTROYED, 1)
    assert jobs.waiting(db.session) == []


def test_withdrawing_a_document_cancels_its_queued_ocr_job(app, call, file_doc, dossier):
    scan = file_doc(dossier, "重复归档的扫描件", "维修", files=[("维修单.png", scan_png())])
    job_id = scan.files[0].jobs[-1].id
    response = call("officer", "POST", f"/api/v1/documents/{scan.id}/withdraw",
                    {"reason": "重复归档"})
    assert response.status_code == 200, response.json
    assert response.json["files"][0]["ocr"]["state"] == "cancelled"
    db.session.expire_all()
    assert db.session.get(Job, job_id).error == jobs.WITHDRAWN
    assert worker.run_job(app, job_id) is None


def _in_another_worker(app, action) -> None:
    """Run `action(session)` in a unit of a session of its own, as another process would
    (this test's session is the worker's: a change made in it would be seen anyway)."""
    def run():
        with app.app_context():
            with work.unit(db.session):
                action(db.session)
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_a_running_job_cancelled_by_another_process_stops_and_writes_nothing(app, file_doc,
                                                                               dossier):
    scan = _scan(file_doc, dossier, [("证书.tif", samples.make_tiff(3, size=(420, 300)))])
    stored_id, job_id = scan.files[0].id, scan.files[0].jobs[-1].id
    db.session.commit()
    engine = DestroyedWhileReading(lambda: _in_another_worker(
        app, lambda session: jobs.cancel_for_files(session, [stored_id], jobs.WITHDRAWN)))
    assert worker.run_job(app, job_id, engine) == "cancelled"
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.state, job.error, job.attempts) == ("cancelled", jobs.WITHDRAWN, 1)
    assert engine.pages < 3  # its lease renewal saw the other session's cancellation
    stored = db.session.get(StoredFile, stored_id)
    assert (stored.text, stored.text_source) == ("", "")


def test_a_job_taken_over_by_another_worker_is_left_to_it(app, file_doc, dossier):
    scan = _scan(file_doc, dossier, [("证书.tif", samples.make_tiff(3, size=(420, 300)))])
    stored_id, job_id = scan.files[0].id, scan.files[0].jobs[-1].id
    db.session.commit()

    def take_over(session):  # as if this worker's lease had run out
        session.get(Job, job_id).lease_until = clock.now() - timedelta(seconds=1)
        session.flush()
        assert jobs.claim(session, job_id, "other-host:2", lease_seconds=300) is not None

    engine = DestroyedWhileReading(lambda: _in_another_worker(app, take_over))
    assert worker.run_job(app, job_id, engine) is None  # not this worker's any more
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert (job.state, job.worker, job.attempts) == ("running", "other-host:2", 2)
    assert engine.pages < 3
    assert db.session.get(StoredFile, stored_id).text_source == ""
