"""DOCX access copies (issue 18): LibreOffice makes a PDF of a filed DOCX on the job queue,
never in the request; the document page previews it, and at 秘密 and above a cleared
reader receives it stamped instead of the DOCX going to the GM only. The DOCX blob never
changes. LibreOffice takes 1–3 s to start: each test converts at most one file."""

import hashlib
import io
import shutil
import threading
import time
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import clock, samples, worker
from archive.extensions import db
from archive.models import AuditEvent, Job, StoredFile
from archive.services import conversion, jobs, work
from tests.conftest import archive_state

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: `make system-deps` installs "
           "libreoffice-writer-nogui")

NOTE = ["客户张伟于二〇二六年三月签订翠湖苑六栋一四〇二房认购书，定金已付。",
        "本说明仅供内部核对，涉及客户身份与付款信息。"]


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("张伟"))


def _docx() -> bytes:
    return samples.make_docx("认购情况说明", NOTE, table=[["房号", "定金"], ["6栋1402", "五万元"]])


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fresh(file_id: int) -> StoredFile:
    db.session.expire_all()  # the worker's writes, as another process would see them
    return db.session.get(StoredFile, file_id)


def _convert(app, stored: StoredFile) -> str | None:
    job = next(j for j in stored.jobs if j.kind == jobs.DOCX_PDF)
    return worker.run_job(app, job.id)


def _corrupt_docx() -> bytes:
    """A package filing accepts (a zip with the parts a DOCX names) whose document part is
    not XML: python-docx and LibreOffice both fail on it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Override PartName="/word/document.xml" '
                         'ContentType="application/vnd.openxmlformats-officedocument.'
                         'wordprocessingml.document.main+xml"/></Types>')
        package.writestr("word/document.xml", "这不是 XML <<<")
    return out.getvalue()


@needs_soffice
def test_a_filed_docx_is_converted_by_the_worker_and_previewed_as_pdf(app, call, login_as,
                                                                     dossier):
    docx = _docx()
    response = call("officer", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                    data={"title": "认购情况说明", "category": "销售",
                          "file": (io.BytesIO(docx), "认购情况说明.docx")})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["files"][0]["access_copy"] == {"state": "queued", "sha256": None, "error": None}
    assert body["files"][0]["ocr"] is None  # the conversion job is not an OCR job
    page = login_as("staff").get(f"/documents/{body['id']}").get_data(as_text=True)
    assert "正在生成 PDF 预览副本" in page and "pdf-preview" not in page

    stored = db.session.get(StoredFile, body["files"][0]["id"])
    assert _convert(app, stored) == "done"
    stored = _fresh(stored.id)
    store = app.extensions["blob_store"]
    copy = store.get(stored.access_copy_sha256)  # a blob of its own, verified on read
    text = _text(copy)
    assert "认购情况说明" in text and "定金已付" in text and "五万元" in text
    assert stored.sha256 == hashlib.sha256(docx).hexdigest() == body["files"][0]["sha256"]
    assert store.get(stored.sha256) == docx  # the DOCX unchanged
    assert call("officer", "GET", f"/api/v1/documents/{body['id']}").json["files"][0][
        "access_copy"] == {"state": "ok", "sha256": stored.access_copy_sha256, "error": None}

    client = login_as("staff")
    page = client.get(f"/documents/{body['id']}").get_data(as_text=True)
    preview_url = f"/documents/{body['id']}/files/{stored.id}/preview"
    assert "pdf-preview" in page and preview_url in page and "正在生成" not in page
    preview = client.get(preview_url)
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.data == copy  # below 秘密: the access copy as LibreOffice made it
    download = client.get(f"/documents/{body['id']}/files/{stored.id}/download")
    assert download.data == docx  # the download is the original
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "document.preview")).scalars().one()
    assert '"copy_of": "access_copy"' in event.details


@needs_soffice
def test_a_secret_docx_reaches_a_cleared_reader_as_a_stamped_pdf_and_no_one_else(
        app, session, users, login_as, call, dossier, file_doc):
    docx = _docx()
    document = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", docx)],
                        classification="秘密")
    head = login_as("head")
    pending = head.get(f"/documents/{document.id}/files/{document.files[0].id}/download")
    assert pending.status_code == 409 and "PDF 副本正在生成" in pending.get_data(as_text=True)
    assert _convert(app, document.files[0]) == "done"
    stored = _fresh(document.files[0].id)

    page = head.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "pdf-preview" in page and "加盖水印的 PDF" in page
    for purpose in ("preview", "download"):
        response = head.get(f"/documents/{document.id}/files/{stored.id}/{purpose}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert "no-store" in response.headers["Cache-Control"]
        for text in [p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages]:
            assert "秘密" in text and "陈经理" in text
        assert "定金已付" in _text(response.data)
    api = call("head", "GET", f"/api/v1/documents/{document.id}/content")
    assert api.status_code == 200 and api.mimetype == "application/pdf"
    assert "陈经理" in _text(api.data)

    # Not cleared for 秘密: neither the copy nor the original, and nothing is written.
    before = archive_state(app)
    for purpose in ("preview", "download"):
        refused = login_as("staff").get(f"/documents/{document.id}/files/{stored.id}/{purpose}")
        assert refused.status_code in (403, 404)
    assert call("staff", "GET", f"/api/v1/documents/{document.id}/content").status_code in (403, 404)
    assert archive_state(app) == before
    # The GM downloads the original DOCX, as before.
    gm = login_as("gm").get(f"/documents/{document.id}/files/{stored.id}/download")
    assert gm.data == docx
    assert app.extensions["blob_store"].get(stored.sha256) == docx


@needs_soffice
def test_a_docx_libreoffice_cannot_read_fails_with_a_chinese_reason_and_the_page_says_so(
        app, login_as, dossier, file_doc):
    document = file_doc(dossier, "损坏的说明", files=[("损坏.docx", _corrupt_docx())])
    stored = document.files[0]
    before = archive_state(app)
    assert _convert(app, stored) == "failed"
    stored = _fresh(stored.id)
    assert (stored.access_copy_status, stored.access_copy_sha256) == ("failed", None)
    assert stored.access_copy_error == conversion.UNREADABLE
    assert archive_state(app) == before  # no blob, no row: the DOCX kept as it was
    job = db.session.execute(select(Job).where(Job.file_id == stored.id)).scalars().one()
    assert (job.state, job.attempts) == ("failed", 1)  # not retried: it would fail again
    client = login_as("officer")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "PDF 预览副本生成失败：LibreOffice 无法打开此 Word 文件" in page
    assert "pdf-preview" not in page
    preview = client.get(f"/documents/{document.id}/files/{stored.id}/preview")
    assert preview.status_code == 409
    assert "未能转换为 PDF" in preview.get_data(as_text=True)


def test_the_upload_request_never_runs_libreoffice(app, call, dossier, tmp_path):
    marker = tmp_path / "ran"
    fake = tmp_path / "soffice"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    app.config["SOFFICE_BINARY"] = str(fake)
    response = call("officer", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                    data={"title": "认购情况说明", "category": "销售",
                          "file": (io.BytesIO(_docx()), "认购情况说明.docx")})
    assert response.status_code == 201 and not marker.exists()
    assert response.json["files"][0]["access_copy"]["state"] == "queued"
    stored = db.session.get(StoredFile, response.json["files"][0]["id"])
    assert _convert(app, stored) == "failed"  # the worker ran it; it wrote no PDF
    assert marker.exists()


def test_a_conversion_killed_on_overrun_or_with_its_worker_is_queued_again(app, dossier,
                                                                           file_doc, tmp_path):
    slow = tmp_path / "soffice"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    app.config.update(SOFFICE_BINARY=str(slow), CONVERSION_TIMEOUT_SECONDS=0.3)
    document = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", _docx())])
    stored = document.files[0]
    job_id = next(j.id for j in stored.jobs if j.kind == jobs.DOCX_PDF)
    started = clock.now()
    assert worker.run_job(app, job_id) == "queued"  # killed at its limit, tried again later
    job = db.session.get(Job, job_id)
    assert (job.attempts, job.error) == (1, "PDF 转换超过 0.3 秒未完成，已中止")
    assert _fresh(stored.id).access_copy_status == "queued"

    # A worker killed mid-conversion: its lease runs out and the sweep queues the job again.
    jobs.claim(db.session, job_id, "dead-host:1", lease_seconds=60)
    db.session.commit()
    clock.travel(timedelta(seconds=120))
    try:
        assert job_id in worker.sweep(app)
    finally:
        clock.travel(-timedelta(seconds=120))
    job = db.session.get(Job, job_id)
    assert (job.state, job.attempts) == ("queued", 2)
    # The last attempt overruns too: failed, and the file says why.
    assert worker.run_job(app, job_id) == "failed"
    stored = _fresh(stored.id)
    assert stored.access_copy_status == "failed"
    assert stored.access_copy_error == "PDF 转换超过 0.3 秒未完成，已中止"
    assert (clock.now() - started).total_seconds() < 30  # the sleeping process was killed


def _convert_in_thread(app, job_id: int) -> tuple[threading.Thread, dict]:
    """run_job in a thread of its own (its own app context and session), as a worker."""
    outcome = {}
    db.session.commit()  # a transaction here holds SQLite's write lock (BEGIN IMMEDIATE)

    def run():
        with app.app_context():
            outcome["state"] = worker.run_job(app, job_id)
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_running(thread, job_id: int) -> Job:
    for _ in range(600):
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        db.session.commit()
        if job.state == "running" or not thread.is_alive():
            return job
        time.sleep(0.05)
    raise AssertionError("the conversion never started")


@needs_soffice
def test_a_conversion_longer_than_the_lease_keeps_its_lease_and_runs_once(app, dossier, file_doc,
                                                                          tmp_path):
    # LibreOffice slowed down by a real shell in front of it: the conversion lasts several
    # leases of one second, as a big DOCX would last several of five minutes.
    slow = tmp_path / "soffice"
    slow.write_text(f'#!/bin/sh\nsleep 3\nexec {shutil.which("soffice")} "$@"\n')
    slow.chmod(0o755)
    app.config.update(SOFFICE_BINARY=str(slow), OCR_LEASE_SECONDS=1, CONVERSION_TIMEOUT_SECONDS=120)
    document = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", _docx())])
    stored = document.files[0]
    job_id = next(j.id for j in stored.jobs if j.kind == jobs.DOCX_PDF)
    thread, outcome = _convert_in_thread(app, job_id)
    try:
        assert _wait_running(thread, job_id).state == "running"
        time.sleep(2)  # two leases: without renewal, the job would look abandoned now
        taken = []
        while thread.is_alive():  # a second worker, and the sweep, find a live lease
            db.session.expire_all()
            taken.append(jobs.claim(db.session, job_id, "other-host:1", lease_seconds=60))
            assert jobs.requeue_expired(db.session) == []
            db.session.commit()
            time.sleep(0.3)
    finally:
        thread.join()
    assert taken and taken == [None] * len(taken)
    assert outcome["state"] == "done"
    job = db.session.get(Job, job_id)
    assert (job.state, job.attempts, job.worker) == ("done", 1, worker.worker_name())
    stored = _fresh(stored.id)
    assert stored.access_copy_status == "ok"
    assert "定金已付" in _text(app.extensions["blob_store"].get(stored.access_copy_sha256))


def test_a_conversion_whose_file_is_withdrawn_meanwhile_is_stopped_and_writes_nothing(
        app, dossier, file_doc, tmp_path):
    marker = tmp_path / "still-running"
    slow = tmp_path / "soffice"
    slow.write_text(f"#!/bin/sh\nsleep 30\ntouch {marker}\n")
    slow.chmod(0o755)
    app.config.update(SOFFICE_BINARY=str(slow), OCR_LEASE_SECONDS=1, CONVERSION_TIMEOUT_SECONDS=120)
    document = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", _docx())])
    stored = document.files[0]
    job_id = next(j.id for j in stored.jobs if j.kind == jobs.DOCX_PDF)
    before = archive_state(app)
    started = time.monotonic()
    thread, outcome = _convert_in_thread(app, job_id)
    try:
        assert _wait_running(thread, job_id).state == "running"
        with work.unit(db.session):
            assert jobs.cancel_for_files(db.session, [stored.id], jobs.WITHDRAWN) == [job_id]
    finally:
        thread.join()
    # Stopped at its next lease renewal (a third of a second), not after LibreOffice's 30 s.
    assert outcome["state"] == "cancelled"
    assert time.monotonic() - started < 20
    assert not marker.exists()
    job = db.session.get(Job, job_id)
    assert (job.state, job.error) == ("cancelled", jobs.WITHDRAWN)
    stored = _fresh(stored.id)
    assert (stored.access_copy_status, stored.access_copy_sha256) == (None, None)
    assert archive_state(app) == before


@needs_soffice
def test_convert_pending_makes_copies_of_docx_filed_before_and_shares_identical_bytes(
        app, dossier, file_doc):
    docx = _docx()
    first = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", docx)])
    db.session.query(Job).delete()  # as if filed before access copies existed
    db.session.get(StoredFile, first.files[0].id).access_copy_status = None
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["convert", "--pending"])
    assert result.exit_code == 0, result.output
    assert "待转换 1 个 Word 文件" in result.output and "完成 1 个" in result.output
    converted = _fresh(first.files[0].id)
    assert converted.access_copy_status == "ok"
    assert "定金已付" in _text(app.extensions["blob_store"].get(converted.access_copy_sha256))

    # The same bytes filed again share the copy: no second conversion.
    again = file_doc(dossier, "认购情况说明（复印）", files=[("副本.docx", docx)],
                     confirm_duplicate="1")
    copy = again.files[0]
    assert (copy.access_copy_status, copy.access_copy_sha256) == ("ok", converted.access_copy_sha256)
    assert not [j for j in copy.jobs if j.kind == jobs.DOCX_PDF]


@needs_soffice
def test_a_destruction_purges_the_access_copy_with_the_docx(app, users, dossier, file_doc):
    from archive.services import approvals, destruction
    from tests.conftest import PASSWORDS

    document = file_doc(dossier, "投诉记录", "投诉", files=[("投诉记录.docx", _docx())],
                        date="2022-01-01")
    assert _convert(app, document.files[0]) == "done"
    stored = _fresh(document.files[0].id)
    store = app.extensions["blob_store"]
    assert store.exists(stored.access_copy_sha256)
    checked = app.test_cli_runner().invoke(args=["verify-storage"])
    assert checked.exit_code == 0 and "检查了 2 个存储对象" in checked.output
    with work.unit(db.session):
        batch = destruction.propose(db.session, users["officer"],
                                    {"items": [document.id], "reason": "期满"})
        approvals.approve(db.session, users["gmoffice"], destruction.requests_of(batch)[0].id,
                          "", {"supervisors": ["auditor", "legal"]})
        batch_id = batch.id
    destruction.execute(db.session, users["officer"], batch_id, {
        "supervisors": [{"username": "auditor", "password": PASSWORDS["auditor"]},
                        {"username": "legal", "password": PASSWORDS["legal"]}]}, store=store)
    stored = _fresh(stored.id)
    assert stored.document.status == "destroyed"
    assert not store.exists(stored.sha256) and not store.exists(stored.access_copy_sha256)


@needs_soffice
def test_an_electronic_loan_of_a_docx_opens_its_access_copy_stamped(app, call, dossier,
                                                                    file_doc):
    document = file_doc(dossier, "认购情况说明", files=[("认购情况说明.docx", _docx())])
    asked = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": dossier.id, "document_ids": [document.id], "kind": "electronic",
        "purpose": "核对认购情况", "days": 7, "may_download": False, "borrower": "staff"})
    assert asked.status_code == 201, asked.json
    decided = call("head", "POST", f"/api/v1/approvals/{asked.json['approvals'][-1]['id']}/approve")
    assert decided.status_code == 200, decided.json
    number = asked.json["number"]
    url = f"/api/v1/loans/{asked.json['id']}/documents/{document.id}/content"
    pending = call("staff", "GET", url)  # no copy yet: nothing that could carry the stamp
    assert pending.status_code == 403 and pending.json["error"]["code"] == "not_stampable"
    assert _convert(app, document.files[0]) == "done"
    opened = call("staff", "GET", url)
    assert opened.status_code == 200 and opened.mimetype == "application/pdf"
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(opened.data)).pages]
    assert all(number in text and "王销售" in text for text in pages)
    assert "定金已付" in "".join(pages)


def test_a_withdrawn_docx_is_not_converted_and_says_no_copy_is_coming(app, call, dossier,
                                                                      file_doc):
    document = file_doc(dossier, "重复归档的说明", files=[("说明.docx", _docx())])
    stored = document.files[0]
    job_id = next(j.id for j in stored.jobs if j.kind == jobs.DOCX_PDF)
    withdrawn = call("officer", "POST", f"/api/v1/documents/{document.id}/withdraw",
                     {"reason": "重复归档"})
    assert withdrawn.status_code == 200, withdrawn.json
    before = archive_state(app)
    assert worker.run_job(app, job_id) is None  # cancelled: LibreOffice never runs
    stored = _fresh(stored.id)
    assert db.session.get(Job, job_id).state == "cancelled"
    assert (stored.access_copy_status, stored.access_copy_sha256) == (None, None)
    assert archive_state(app) == before
