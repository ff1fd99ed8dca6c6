"""Scans are filed at once and read by the OCR worker afterwards (issue 20): the job's
state on the document page, in the API and on the dashboard; failures kept with a
Chinese reason; nothing of it in the upload request."""

import io
import socket

import pytest
from PIL import Image

from archive import samples, worker
from archive.extensions import db
from archive.models import Job, StoredFile
from archive.services import jobs
from tests import sample_pdfs
from tests.conftest import archive_state

REPAIR_SLIP = ["房屋维修记录单", "卫生间顶棚漏水，已更换防水层"]


def scan_png(lines=REPAIR_SLIP) -> bytes:
    return samples.make_png(lines, size=(700, 300))


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer())


def test_the_network_is_blocked_in_ocr_tests():
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.create_connection(("pypi.org", 443))
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 9))


def test_an_upload_queues_ocr_and_search_finds_it_by_metadata_meanwhile(app, call, dossier):
    response = call("officer", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                    data={"title": "维修单扫描件", "category": "维修",
                          "file": (io.BytesIO(scan_png()), "维修单.png")})
    assert response.status_code == 201, response.json
    body = response.json
    stored = body["files"][0]
    # Nothing was read in the request: the job waits for the worker.
    assert (stored["text_status"], stored["ocr"]["state"], stored["text_source"]) == ("skipped", "queued", None)
    assert call("officer", "GET", "/api/v1/search?q=维修单扫描件").json["total"] == 1
    assert call("officer", "GET", "/api/v1/search?q=防水层").json["total"] == 0

    job_id = db.session.query(Job.id).scalar()
    assert worker.run_job(app, job_id) == "done"
    db.session.expire_all()
    after = call("officer", "GET", f"/api/v1/documents/{body['id']}").json["files"][0]
    assert (after["text_status"], after["text_source"], after["ocr"]["state"]) == ("ok", "ocr", "done")
    assert after["ocr_confidence"] > 0.9
    hits = call("officer", "GET", "/api/v1/search?q=防水层").json
    assert [hit["document_id"] for hit in hits["hits"]] == [body["id"]]


def test_the_document_page_and_dashboard_show_the_ocr_state(app, login_as, file_doc, dossier):
    document = file_doc(dossier, "维修单", "维修", files=[("维修单.png", scan_png())])
    client = login_as("officer")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "排队等待文字识别（OCR）" in page
    assert "排队 1 个" in client.get("/").get_data(as_text=True)
    worker.run_job(app, document.files[0].jobs[-1].id)
    db.session.expire_all()  # the worker's writes, as another process would see them
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "文字由 OCR 识别，平均置信度" in page
    assert "已完成 1 个" in client.get("/").get_data(as_text=True)


def test_a_text_pdf_or_docx_needs_no_ocr(app, file_doc, dossier):
    file_doc(dossier, "合同", "签约", files=[("合同.pdf", samples.make_pdf("合同", ["甲方乙方"]))])
    assert db.session.query(Job).count() == 0


def test_a_multipage_tiff_and_an_image_only_pdf_are_read_page_by_page(app, file_doc, dossier):
    tiff = samples.make_tiff(3, size=(420, 300))
    pdf = sample_pdfs.scan_pdf(2)
    document = file_doc(dossier, "扫描件", "其他", files=[("证书.tif", tiff), ("合同扫描.pdf", pdf)])
    for stored in document.files:
        assert worker.run_job(app, stored.jobs[-1].id) == "done"
    db.session.expire_all()
    tiff_file, pdf_file = document.files
    assert tiff_file.pages == 3 and tiff_file.jobs[-1].total_pages == 3
    for n in (1, 2, 3):
        assert f"扫描件第{n}页" in tiff_file.text.replace(" ", "")
    assert (pdf_file.pages, pdf_file.text_status) == (2, "ok")
    assert "第2页" in pdf_file.text


def test_a_photo_without_text_is_kept_with_no_text_and_no_failure(app, file_doc, dossier):
    import random

    rng = random.Random(7)
    photo = Image.new("RGB", (320, 240))
    photo.putdata([(rng.randrange(90, 140), rng.randrange(120, 200), rng.randrange(60, 90))
                   for _ in range(320 * 240)])
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=80)
    document = file_doc(dossier, "现场照片", "维修", files=[("照片.jpg", out.getvalue())])
    job = document.files[0].jobs[-1]
    assert worker.run_job(app, job.id) == "done"
    db.session.expire_all()
    stored = document.files[0]
    assert (stored.text, stored.text_status, stored.text_error) == ("", "empty", jobs.NO_TEXT_FOUND)


def test_a_corrupt_image_fails_with_a_chinese_reason_and_is_kept(app, file_doc, dossier, login_as, call):
    png = scan_png()
    broken = png[: len(png) // 2] + bytes(len(png) - len(png) // 2)  # the pixels are lost
    document = file_doc(dossier, "损坏的扫描件", "维修", files=[("坏图.png", broken)])
    before = archive_state(app)
    assert worker.run_job(app, document.files[0].jobs[-1].id) == "failed"
    db.session.expire_all()
    job = document.files[0].jobs[-1]
    assert job.state == "failed" and job.error.startswith("图像文件已损坏，无法识别文字")
    assert archive_state(app) == before  # the document, its file and the blob are kept
    body = call("officer", "GET", f"/api/v1/documents/{document.id}")
    assert body.status_code == 200 and body.json["files"][0]["ocr"]["state"] == "failed"
    client = login_as("officer")
    page = client.get(f"/documents/{document.id}")
    assert page.status_code == 200 and "文字识别（OCR）失败：图像文件已损坏" in page.get_data(as_text=True)
    assert "坏图.png：图像文件已损坏" in client.get("/").get_data(as_text=True)


def test_a_job_another_worker_holds_is_not_run_twice(app, file_doc, dossier):
    document = file_doc(dossier, "维修单", "维修", files=[("维修单.png", scan_png())])
    job_id = document.files[0].jobs[-1].id
    jobs.claim(db.session, job_id, "other:1", lease_seconds=300)
    db.session.commit()
    assert worker.run_job(app, job_id) is None
    assert db.session.get(Job, job_id).worker == "other:1"


def test_ocr_pending_reads_files_filed_before_ocr_existed(app, file_doc, dossier):
    document = file_doc(dossier, "维修单", "维修", files=[("维修单.png", scan_png())])
    db.session.query(Job).delete()  # as if filed before this release
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["ocr", "--pending"])
    assert result.exit_code == 0, result.output
    assert "待识别 1 个文件（其中 1 个为早先归档" in result.output and "完成 1 个" in result.output
    stored = db.session.get(StoredFile, document.files[0].id)
    db.session.refresh(stored)
    assert "防水层" in stored.text and stored.text_source == "ocr"


def test_the_scanned_pages_of_a_pdf_with_text_are_read_too(app, file_doc, dossier):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    text_page = samples.make_pdf("房地产买卖合同", ["甲方：翠湖苑开发有限公司。乙方：张伟。"])
    signed_page = sample_pdfs.scan_pdf(1)  # 房地产买卖合同（扫描件）第1页, no text layer
    for data in (text_page, signed_page):
        writer.append(PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    document = file_doc(dossier, "合同（签字页为扫描件）", "签约", files=[("合同.pdf", out.getvalue())])
    stored = document.files[0]
    assert (stored.text_status, stored.pages) == ("ok", 2) and "翠湖苑开发" in stored.text
    assert worker.run_job(app, stored.jobs[-1].id) == "done"
    db.session.expire_all()
    stored = db.session.get(StoredFile, stored.id)
    assert stored.jobs[-1].total_pages == 1  # the text page is not read again
    assert "翠湖苑开发" in stored.text and "扫描件）第1页" in stored.text
    assert stored.text_source == "ocr" and stored.pages == 2


def test_a_job_that_fails_for_a_passing_reason_is_retried_then_failed(app, file_doc, dossier):
    document = file_doc(dossier, "维修单", "维修", files=[("维修单.png", scan_png())])
    stored = document.files[0]
    blob = app.extensions["blob_store"].path_for(stored.sha256)
    kept = blob.read_bytes()
    blob.unlink()  # the storage volume is away for a moment
    job_id = stored.jobs[-1].id
    assert worker.run_job(app, job_id) == "queued"
    job = db.session.get(Job, job_id)
    assert (job.attempts, job.error) == (1, f"文字识别出错：存储文件缺失：{stored.sha256}")
    blob.write_bytes(kept)  # back again: the next attempt reads the file
    assert worker.run_job(app, job_id) == "done"
    assert db.session.get(Job, job_id).attempts == 2

    again = file_doc(dossier, "维修单二", "维修", files=[("维修单二.png", scan_png(["第二张维修单"]))])
    app.extensions["blob_store"].path_for(again.files[0].sha256).unlink()
    job_id = again.files[0].jobs[-1].id
    states = [worker.run_job(app, job_id) for _ in range(jobs.MAX_ATTEMPTS)]
    assert states == ["queued", "queued", "failed"]
    assert db.session.get(StoredFile, again.files[0].id).text_error.startswith("文字识别出错：存储文件缺失")


def test_a_queued_job_whose_message_was_lost_is_sent_again_when_the_queue_is_idle(app, file_doc, dossier):
    queue = app.extensions["job_queue"].huey
    document = file_doc(dossier, "维修单", "维修", files=[("维修单.png", scan_png())])
    job_id = document.files[0].jobs[-1].id
    assert queue.pending_count() == 1
    assert worker.sweep(app) == []  # its message waits in the queue: not sent twice
    assert queue.pending_count() == 1
    queue.flush()  # the queue lost its messages (Redis restarted empty)
    assert worker.sweep(app) == [job_id]
    assert queue.pending_count() == 1
