"""A real headless Chromium: the officer sees a document's 四性检测 table, the dashboard
alarm of a failed storage check and its report."""

import os

from archive import samples
from archive.extensions import db
from tests import hostile_files
from tests.browser.pages import shot, sign_in


def test_document_checks_alarm_and_report(app, live_server, browser_page, make_customer,
                                          make_dossier, file_doc):
    dossier = make_dossier(make_customer("严检测"), room="808")
    good = file_doc(dossier, "认购书", "销售", date="2024-03-01",
                    files=[("认购书.pdf", samples.make_pdf("认购书", ["认购书正文。"]))])
    locked = file_doc(dossier, "买卖合同", "签约",
                      files=[("合同.pdf", hostile_files.make_owner_only_encrypted_pdf())])
    blob = app.extensions["blob_store"].path_for(good.files[0].sha256)
    os.chmod(blob, 0o644)
    blob.write_bytes(blob.read_bytes()[:-4] + b"rot!")
    db.session.remove()  # the CLI run and the server thread need SQLite's write lock
    assert app.test_cli_runner().invoke(args=["check-archive"]).exit_code == 1
    db.session.remove()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server, "officer")
    assert page.locator("section.preservation-alarm").count() == 1
    shot(page, "preservation_alarm")
    page.click("section.preservation-alarm >> text=查看检测报告")
    assert "已损坏" in page.locator("table.preservation-items").inner_text()
    shot(page, "preservation_report")
    page.goto(f"{live_server}/documents/{locked.id}")
    row = page.locator("table.preservation-checks tr[data-item=encryption]")
    assert "未通过" in row.inner_text()
    shot(page, "preservation_document")
