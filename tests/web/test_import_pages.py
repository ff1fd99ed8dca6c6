"""The 批量导入 page (issue 19): the archive room uploads a ZIP, sees it queued, then its
progress and report, and downloads the report; refusals are shown in Chinese."""

import io

from archive.extensions import db
from archive.models import Import
from tests.api.test_imports_api import _run_queue
from tests.conftest import archive_state
from tests.import_folders import mixed_folder, zip_folder


def test_an_officer_imports_a_zip_and_reads_its_report(app, login_as, tmp_path):
    client = login_as("officer")
    page = client.get("/imports")
    assert page.status_code == 200 and "批量导入" in page.text and 'name="file"' in page.text
    mixed_folder(tmp_path / "archive")
    sent = client.post("/imports", data={"file": (io.BytesIO(zip_folder(tmp_path / "archive", gbk=True)),
                                                  "档案.zip")}, content_type="multipart/form-data")
    assert sent.status_code == 302
    queued = client.get(sent.headers["Location"])
    assert "排队中" in queued.text and "0 / 9" in queued.text and 'http-equiv="refresh"' in queued.text
    _run_queue(app)
    done = client.get(sent.headers["Location"])
    assert "已完成" in done.text and "9 / 9" in done.text and 'http-equiv="refresh"' not in done.text
    assert "已归档 3 行，已跳过（已归档）1 行，拒收 5 行" in done.text
    assert "PDF 文件已加密" in done.text and "类别只能是" in done.text
    report = client.get(sent.headers["Location"] + "/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "行号,结果,客户,档案号,题名,文件ID,原因" in report.text
    listing = client.get("/imports")
    assert "档案.zip" in listing.text


def test_a_broken_upload_is_refused_in_chinese_and_changes_nothing(app, login_as):
    client = login_as("officer")
    before = archive_state(app)
    sent = client.post("/imports", data={"file": (io.BytesIO(b"not a zip"), "档案.zip")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "不是有效的 ZIP 压缩包" in sent.text
    empty = client.post("/imports", data={}, follow_redirects=True)
    assert "请选择要导入的 ZIP 压缩包" in empty.text
    assert archive_state(app) == before and db.session.query(Import).count() == 0


def test_staff_have_no_import_page(login_as):
    client = login_as("staff")
    assert client.get("/imports").status_code == 403
    assert "/imports" not in client.get("/").text
