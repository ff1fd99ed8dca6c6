"""The auditor's 校验审计链 page in a browser: the check a look makes (signing nothing), the
签名检查点 button (a POST with its CSRF token) and the anchored result, and the same page
once the chain was recomputed in the database (screenshots under tests/artifacts)."""

import json

from sqlalchemy import update

from archive.extensions import db
from archive.models import AuditEvent
from tests.browser.pages import shot, sign_in
from tests.test_audit_anchor import _recompute_from

EVENTS = AuditEvent.__table__


def test_the_auditor_sees_the_anchored_check_and_a_recomputed_chain(live_server, browser_page):
    page = browser_page
    sign_in(page, live_server, "auditor")
    page.goto(live_server + "/audit")
    page.click("text=校验审计链")
    assert page.locator("[data-chain=ok]").is_visible()
    assert "已签名新的检查点" not in page.inner_text("main")  # a look signs nothing
    page.click("button:has-text('签名检查点')")
    assert page.locator("[data-chain=ok]").is_visible()
    assert "已签名新的检查点" in page.inner_text("main")
    shot(page, "audit_verify_anchored")
    page.goto(live_server + "/audit/verify")
    assert page.locator("[data-anchor='1']").is_visible()
    db.session.commit()
    with db.engine.begin() as con:
        con.execute(update(EVENTS).where(EVENTS.c.seq == 2)
                    .values(details=json.dumps({"rewritten": True})))
    _recompute_from(2)
    page.goto(live_server + "/audit/verify")
    assert page.locator("[data-chain=broken]").is_visible()
    assert "重算过" in page.inner_text("main")
    shot(page, "audit_verify_recomputed")
