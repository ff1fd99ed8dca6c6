"""A real headless Chromium: staff ask for another department's customer file, the GM
approves in 待审批, staff open the customer's document until the grant runs out."""

from datetime import timedelta
from pathlib import Path

import pytest

from archive import clock, samples
from archive.extensions import db
from tests.conftest import PASSWORDS

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


def _sign_in(page, server, username):
    page.context.clear_cookies()
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")


def _shot(page, name, locator=None):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (locator or page).screenshot(path=str(path), **({} if locator else {"full_page": True}))
    assert path.stat().st_size > 5_000


def test_staff_ask_the_gm_approves_and_the_grant_runs_out(
        live_server, browser_page, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("丙客户", department="KF", code="KH-KF-7"), room="702")
    document = file_doc(dossier, "丙客户 维修记录", category="维修", files=[
        ("维修记录.pdf", samples.make_pdf("维修记录", ["丙客户报修。"]))])
    document_url = f"{live_server}/documents/{document.id}"
    # SQLite transactions here take the write lock: end the test's own before the
    # server thread needs it.
    db.session.remove()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    _sign_in(page, live_server, "staff")
    assert page.goto(document_url).status == 404
    page.goto(live_server + "/")
    page.click("nav >> text=我的申请")
    page.fill("#ask-access input[name=customer]", "丙客户")
    page.fill("#ask-access input[name=days]", "3")
    page.fill("#ask-access input[name=reason]", "协助客服处理投诉")
    page.click("#ask-access button[type=submit]")
    page.wait_for_selector("text=查阅申请已提交，待总经理或副总经理审批")
    assert page.locator("article.approval[data-status=pending]").count() == 1
    _shot(page, "approvals_mine")

    _sign_in(page, live_server, "gm")
    panel = page.locator("#todo")
    assert panel.locator("#todo-decisions .count").inner_text() == "1"
    assert "丙客户" in panel.inner_text()
    _shot(page, "dashboard_todo", panel)
    _shot(page, "dashboard")
    page.click("nav >> text=待审批")
    request = page.locator("article.approval").first
    assert "协助客服处理投诉" in request.inner_text()
    assert request.locator("tr[data-customer=KH-KF-7]").count() == 1
    _shot(page, "approvals_inbox")
    request.locator("textarea[name=note]").fill("同意，三天")
    request.locator("button:has-text('同意')").click()
    page.wait_for_selector("text=已批准，申请已生效")
    assert page.locator("article.approval").count() == 0

    _sign_in(page, live_server, "admin")
    page.click("nav >> text=系统管理")  # the routes hang on the administrator's home
    page.click("main >> text=审批路线")
    page.wait_for_selector("#propose-level_raise")
    _shot(page, "approval_routes")

    _sign_in(page, live_server, "staff")
    assert page.goto(document_url).status == 200
    assert page.locator("h1").inner_text() == "丙客户 维修记录"
    page.goto(live_server + "/approvals/mine")
    assert page.locator("article.approval[data-status=approved]").count() == 1

    clock.travel(timedelta(days=4))
    _sign_in(page, live_server, "staff")
    assert page.goto(document_url).status == 404
