"""A real headless Chromium: the officer proposes a batch from the review queue, the
GM-office director approves in 待审批 naming two supervisors, both confirm with their
passwords on the batch page, and the 清册 prints (issue 17)."""


from archive import samples
from archive.extensions import db
from tests.browser.pages import shot, sign_in
from tests.conftest import PASSWORDS


def test_proposal_approval_witnessed_execution_and_the_printed_register(
        live_server, browser_page, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("卫投诉"), room="909")
    pdf = samples.make_pdf("投诉处理记录", ["业主投诉楼道照明损坏，已维修。"])
    old = file_doc(dossier, "楼道照明投诉", "投诉", files=[("ts.pdf", pdf)], date="2023-06-01")
    db.session.remove()  # the server thread needs SQLite's write lock
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "officer")
    page.click("nav >> text=到期鉴定")
    row = page.locator(f"tr[data-document='{old.id}']")
    assert "2024-06-01" in row.inner_text()
    row.locator("input[name=items]").check()
    page.fill("#propose textarea[name=reason]", "投诉记录保管一年期满，经鉴定无保存价值")
    shot(page, "destruction_review_queue")
    page.click("button:has-text('列入销毁清单并报批')")
    page.wait_for_selector("text=销毁清单已提交审批")
    assert page.locator("dd[data-status=pending]").count() == 1

    sign_in(page, live_server, "gmoffice")
    page.click("nav >> text=待审批")
    request = page.locator("article.approval").first
    assert "销毁清单" in request.inner_text()
    request.locator("select[name=supervisor1]").select_option("auditor")
    request.locator("select[name=supervisor2]").select_option("legal")
    shot(page, "destruction_approval")
    request.locator("button:has-text('同意')").click()
    page.wait_for_selector(".flash")

    sign_in(page, live_server, "officer")
    page.click("nav >> text=销毁")
    page.locator("table.destructions a").first.click()
    assert page.locator("dd[data-status=approved]").count() == 1
    page.fill("input[name=supervisor1_password]", PASSWORDS["auditor"])
    page.fill("input[name=supervisor2_password]", PASSWORDS["legal"])
    page.fill("input[name=paper_method]", "碎纸机粉碎")
    page.fill("input[name=paper_place]", "档案室")
    shot(page, "destruction_execution")
    page.click("button:has-text('确认销毁')")
    page.wait_for_selector("text=销毁已执行完毕")
    assert page.locator("dd[data-status=done]").count() == 1
    assert page.locator(f"tr[data-document='{old.id}'][data-state=destroyed]").count() == 1
    assert "楼道照明投诉" in page.locator("table.register").inner_text()
    shot(page, "destruction_register")

    link = page.locator("a:has-text('打印销毁清册及证明')").get_attribute("href")
    certificate = page.request.get(live_server + link)  # with the officer's session
    assert certificate.ok and certificate.body().startswith(b"%PDF")
