"""A real headless Chromium: the officer uploads a ZIP with a manifest on 批量导入, the
worker files it (run here as the worker would), and the import's page reports every row
with its result and reason."""

from archive.extensions import db
from tests.api.test_imports_api import _run_queue
from tests.browser.pages import shot, sign_in
from tests.import_folders import mixed_folder, zip_folder


def test_a_zip_is_uploaded_imported_and_reported(app, live_server, browser_page, tmp_path):
    mixed_folder(tmp_path / "archive")
    upload = tmp_path / "档案.zip"
    upload.write_bytes(zip_folder(tmp_path / "archive", gbk=True))
    db.session.remove()  # the server thread needs SQLite's write lock
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "officer")
    page.click("nav >> text=批量导入")
    page.set_input_files("input[name=file]", str(upload))
    page.click("button:has-text('开始导入')")
    assert page.locator("strong.import-state").inner_text() == "排队中"

    assert _run_queue(app).count("run_import") == 1
    # The page refreshes itself every 3 s while the import waits or runs (a reload of the
    # test's own could be aborted by it: net::ERR_ABORTED, seen on PostgreSQL).
    page.wait_for_selector("strong.import-state:has-text('已完成')", timeout=15_000)
    assert page.locator(".import-progress").inner_text() == "9 / 9"
    assert page.locator("tr.row-filed").count() == 3
    assert page.locator("tr.row-skipped").count() == 1
    assert page.locator("tr.row-refused").count() == 5
    refused = page.locator("tr.row-refused").all_inner_texts()
    assert any("照片.pdf" in row and "PNG" in row for row in refused)  # GBK names read right
    shot(page, "import_report")
    page.locator("tr.row-filed a").first.click()
    assert page.locator("h1").inner_text().startswith("认购书")
