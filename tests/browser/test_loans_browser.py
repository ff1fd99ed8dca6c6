"""A real headless Chromium: staff ask to take a dossier's paper originals out, the head
and the GM-office director approve in 待审批, the officer checks the loan out and back in
at the counter, and the register shows the row."""

from sqlalchemy import select

from archive.extensions import db
from archive.models import Loan
from tests.browser.pages import shot, sign_in


def _approve(page, server, username, note):
    sign_in(page, server, username)
    page.click("nav >> text=待审批")
    request = page.locator("article.approval").first
    assert "借阅（借出）" in request.inner_text()
    request.locator("textarea[name=note]").fill(note)
    request.locator("button:has-text('同意')").click()
    page.wait_for_selector(".flash")


def test_a_loan_from_the_request_form_through_the_inbox_counter_and_register(
        live_server, browser_page, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("宋借阅"), room="808")
    file_doc(dossier, "宋借阅 认购书", pages="3")
    file_doc(dossier, "宋借阅 合同", "签约", pages="4")
    dossier_url = f"{live_server}/dossiers/{dossier.id}"
    db.session.remove()  # the server thread needs SQLite's write lock
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "staff")
    page.goto(dossier_url)
    page.click("text=申请借阅")
    page.check("input[name=scope][value=whole]")
    page.check("input[name=kind][value=out]")
    page.fill("textarea[name=purpose]", "核对签约资料")
    shot(page, "loan_request_form")
    page.click("button:has-text('提交借阅申请')")
    page.wait_for_selector("text=已提交，等待审批")
    assert page.locator("dl.loan[data-status=requested]").count() == 1
    assert page.locator("tr[data-document]").count() == 2

    _approve(page, live_server, "head", "同意借出")
    _approve(page, live_server, "gmoffice", "准予借出")
    loan_id = db.session.execute(select(Loan.id)).scalar_one()
    db.session.remove()

    sign_in(page, live_server, "officer")
    page.click("nav >> text=借阅柜台")
    row = page.locator(f"tr[data-loan='{loan_id}']")
    assert row.get_attribute("data-status") == "approved"
    shot(page, "loan_counter")
    row.locator("text=办理出借").click()
    page.fill("form.checkout input[name=pages]", "7")
    page.click("form.checkout button[type=submit]")
    page.wait_for_selector("text=已出借，已登记件数和页数")
    assert page.locator("dl.loan[data-status=out]").count() == 1
    page.fill("form.check-in input[name=condition]", "完好")
    page.fill("form.check-in input[name=effect]", "核对合同条款")
    page.click("form.check-in button[type=submit]")
    page.wait_for_selector("text=已归还，已登记件数和页数")
    assert page.locator("dl.loan[data-status=returned]").count() == 1
    assert "周主任" in page.locator(".loan-request").inner_text()
    shot(page, "loan_page")

    page.click("nav >> text=借阅登记簿")
    row = page.locator(f"table.register tr[data-loan='{loan_id}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "王销售" and cells[13] == "已归还"
    assert (cells[11], cells[12]) == ("2/7", "2/7")
    assert "陈经理 同意（同意借出）；周主任 同意（准予借出）" == cells[10]
    shot(page, "loan_register")
    page.goto(f"{live_server}/loans/{loan_id}/form")
    assert "借阅档案申请表" in page.locator("h1").inner_text()
    shot(page, "loan_application_form")

    sign_in(page, live_server, "staff")
    page.click("nav >> text=我的借阅")
    assert page.locator(f"tr[data-loan='{loan_id}'][data-status=returned]").count() == 1
    shot(page, "loans_mine")
