"""A real headless Chromium: staff submit a transfer batch, the officer receives it at
the archive room counting copies and pages, and the printed 清单 shows both signatures."""

from archive.extensions import db
from tests.browser.pages import shot, sign_in


def test_a_batch_is_prepared_and_received(live_server, browser_page, make_customer,
                                          make_dossier, file_doc):
    dossier = make_dossier(make_customer("严移交"), room="707")
    doc = file_doc(dossier, "认购书", "销售", actor="staff", pages="4")
    db.session.remove()  # the server thread needs SQLite's write lock
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "staff")
    page.click("nav >> text=移交")
    page.click("text=新建移交清单")
    page.locator(f"tr[data-document='{doc.id}'] input[name=items]").check()
    page.fill("textarea[name=note]", "十二月移交")
    shot(page, "transfer_new")
    page.click("button:has-text('提交移交')")
    page.wait_for_selector("text=移交清单已提交")
    assert page.locator("dd[data-status=submitted]").count() == 1

    sign_in(page, live_server, "officer")
    page.click("nav >> text=移交")
    page.locator("table.transfers a").first.click()
    page.fill(f"input[name=count-{doc.id}]", "1")
    page.fill(f"input[name=pages-{doc.id}]", "4")
    shot(page, "transfer_receive")
    page.click("button:has-text('清点无误，签收')")
    page.wait_for_selector("text=已清点签收")
    assert page.locator("dd[data-status=received]").count() == 1
    assert page.locator(f"tr[data-document='{doc.id}'][data-outcome=received]").count() == 1
    page.click("text=打印移交清单及签收单")
    assert "李档案" in page.locator("table.signatures").inner_text()
    assert "王销售" in page.locator("table.signatures").inner_text()
    shot(page, "transfer_sheet")
