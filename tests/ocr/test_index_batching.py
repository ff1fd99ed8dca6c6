"""A worker with a backlog writes the search index once for the jobs that finished
meanwhile, not once per job (a write cost a quarter of a page's OCR: docs/ocr.md); when
the queue is empty, everything that finished is searchable (issue 20)."""

import time

from archive import worker
from archive.extensions import db
from archive.models import Document
from tests.ocr.test_jobs import scan_png


def _found(call, words: str) -> int:
    return call("officer", "GET", "/api/v1/search", query_string={"q": words}).json["total"]


def test_a_backlog_is_indexed_in_one_write_once_the_queue_is_empty(app, call, file_doc,
                                                                    make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    first = file_doc(dossier, "维修单一", "维修", files=[("一.png", scan_png(["房屋维修记录单", "更换防水层"]))])
    file_doc(dossier, "维修单二", "维修", files=[("二.png", scan_png(["房屋维修记录单", "疏通下水管道"]))])
    queue = app.extensions["job_queue"]
    assert queue.huey.pending_count() == 2
    queue._indexed_at = time.monotonic()  # the index was just written

    queue.huey.execute(queue.huey.dequeue())  # the first job, with one behind it
    db.session.expire_all()
    assert db.session.get(Document, first.id).files[0].text_source == "ocr"
    assert db.session.get(Document, first.id).needs_index  # left for one write later
    assert _found(call, "防水层") == 0

    queue.huey.execute(queue.huey.dequeue())  # the last: the queue is empty now
    db.session.expire_all()
    assert (_found(call, "防水层"), _found(call, "疏通下水管道")) == (1, 1)
    assert not db.session.query(Document).filter_by(needs_index=True).count()


def test_the_sweep_indexes_what_a_worker_left_flagged(app, call, file_doc, make_customer,
                                                      make_dossier):
    document = file_doc(make_dossier(make_customer()), "维修单", "维修",
                        files=[("维修单.png", scan_png())])
    assert worker.run_job(app, document.files[0].jobs[-1].id, index=False) == "done"
    assert _found(call, "防水层") == 0
    worker.sweep(app)
    assert _found(call, "防水层") == 1


def test_the_sweep_sends_a_lost_job_again_beside_the_schedulers_own_tasks(
        app, file_doc, make_customer, make_dossier):
    # Every minute the scheduler queues the sweep and the nightly check beside the jobs:
    # a queue holding only those holds no job, and a job whose message was lost (a queue
    # emptied, Redis down at filing) must be sent again (it never was: the queue was
    # never empty).
    document = file_doc(make_dossier(make_customer()), "维修单", "维修",
                        files=[("维修单.png", scan_png())])
    job_id = document.files[0].jobs[-1].id
    queue = app.extensions["job_queue"]
    queue.huey.flush()  # the job's message is lost
    queue.sweep_task()
    queue.check_task()
    assert queue.huey.pending_count() == 2 and not queue.holds_jobs()
    assert worker.sweep(app) == [job_id]
    assert queue.holds_jobs()


def test_the_schedulers_tasks_run_ahead_of_a_backlog_of_jobs(
        app, file_doc, make_customer, make_dossier):
    # Behind a backlog the nightly check would reach the front after its window (02:30 to
    # 06:00) had closed and check nothing that night.
    dossier = make_dossier(make_customer())
    for n in (1, 2):
        file_doc(dossier, f"维修单{n}", "维修", files=[(f"{n}.png", scan_png())])
    queue = app.extensions["job_queue"]
    queue.check_task()
    queue.sweep_task()
    order = [queue.huey.dequeue().name for _ in range(4)]
    assert order[:2] == ["check_archive", "sweep"] and order[2:] == ["run_job", "run_job"]
