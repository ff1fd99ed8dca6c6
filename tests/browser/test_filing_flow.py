"""A real headless Chromium files a PDF the way an archive officer would."""

from pathlib import Path

from archive import samples
from archive.extensions import db
from tests.conftest import PASSWORDS

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def test_officer_creates_customer_dossier_uploads_pdf_and_opens_volume_index(
        live_server, browser_page, tmp_path, departments):
    sales_id = str(departments["XS"].id)
    # SQLite transactions here take the write lock: end the test's own before the
    # server thread needs it.
    db.session.remove()
    page = browser_page
    pdf = tmp_path / "认购书.pdf"
    pdf.write_bytes(samples.make_pdf("认购书", ["客户刘洋认购锦绣花园5栋1单元0802，合同编号HT-2025-0102。"]))

    page.goto(live_server + "/login")
    page.fill("input[name=username]", "officer")
    page.fill("input[name=password]", PASSWORDS["officer"])
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/")

    page.goto(live_server + "/customers/new")
    page.fill("input[name=name]", "刘洋")
    page.select_option("select[name=department]", sales_id)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("text=已登记客户 刘洋")

    page.click("text=新建档案")
    page.select_option("select[name=project]", "锦绣花园")
    page.fill("input[name=building]", "5")
    page.fill("input[name=unit_no]", "1")
    page.fill("input[name=room]", "0802")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("text=已建立档案 锦绣花园-5栋1单元0802")

    page.click("text=归档文件")
    page.fill("input[name=title]", "认购书")
    page.select_option("select[name=category]", "销售")
    page.set_input_files("input[name=file]", str(pdf))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("text=已归档：a 组第 1 号《认购书》")

    row = page.locator("#group-a tr[data-seq='1']")
    assert row.locator("td").nth(0).inner_text() == "1"
    assert "认购书" in row.inner_text()

    page.click("text=卷内目录")
    page.wait_for_selector("h1.sheet-title")
    table = page.locator("table.volume-index[data-group='a']")
    assert "认购书" in table.inner_text() and "1" in table.locator("td").nth(0).inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "volume_index.png"), full_page=True)
    assert (ARTIFACTS / "volume_index.png").stat().st_size > 10_000
