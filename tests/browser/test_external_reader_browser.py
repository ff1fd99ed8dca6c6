"""A real headless Chromium: the officer registers a 公检法 reader at the counter with the
credential and notice scans, the legal office approves in 待审批 after opening the
notice, and the officer hands over a copy stamped on every page with the loan number."""

import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from archive import samples
from archive.extensions import db
from archive.models import Loan
from tests.browser.pages import shot, sign_in
from tests.sample_pdfs import scan_pdf


def test_a_police_reader_through_the_legal_office_and_a_stamped_copy(
        live_server, browser_page, make_customer, make_dossier, file_doc, tmp_path):
    dossier = make_dossier(make_customer("林外查"), room="909")
    file_doc(dossier, "林外查 合同", "签约", files=[("合同.pdf", scan_pdf(2))])
    number = dossier.number
    credential, notice = tmp_path / "警官证.png", tmp_path / "通知书.pdf"
    credential.write_bytes(samples.make_png(["警官证"]))
    notice.write_bytes(samples.make_pdf("协助调查通知书", ["请协助调取林外查档案。"]))
    db.session.remove()  # the server thread needs SQLite's write lock
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "officer")
    page.click("nav >> text=借阅柜台")
    page.click("text=登记外单位查阅")
    page.check("input[name=reader_kind][value=police]")
    for name, value in (("unit", "深圳市公安局南山分局"), ("name", "张警官"),
                        ("credential_type", "警官证"), ("credential_number", "440305123456"),
                        ("notice_number", "南公协字〔2026〕118号"), ("dossier_number", number)):
        page.fill(f"input[name={name}]", value)
    page.fill("textarea[name=purpose]", "协助调查合同纠纷")
    page.set_input_files("input[name=credential_scan]", str(credential))
    page.set_input_files("input[name=notice_scan]", str(notice))
    shot(page, "external_reader_form")
    page.click("button:has-text('登记并提交审批')")
    page.wait_for_selector("text=已登记，等待审批")
    assert page.locator("dl.external-reader[data-reader=police]").count() == 1

    sign_in(page, live_server, "legal")
    page.click("nav >> text=待审批")
    request = page.locator("article.approval").first
    assert "张警官" in request.inner_text()
    request.locator("button:has-text('同意')").click()
    page.wait_for_selector(".flash")
    loan = db.session.execute(select(Loan)).scalar_one()
    loan_id, loan_number = loan.id, loan.number
    assert loan.status == "approved"
    db.session.remove()

    sign_in(page, live_server, "officer")
    page.goto(f"{live_server}/loans/{loan_id}/external")
    page.fill("form.loan-copy input[name=pages]", "1-2")
    shot(page, "external_reader_copy")
    with page.expect_download() as download:
        page.click("form.loan-copy button[type=submit]")
    pages = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages
    assert len(pages) == 2
    assert all("与原件核对无异" in p.extract_text() and loan_number in p.extract_text()
               for p in pages)
    page.goto(f"{live_server}/loans/{loan_id}/external")
    assert page.locator("table.loan-copies tr[data-copy]").count() == 1
