"""The level-change, grant, designation and copy-approval endpoints of /api/v1."""

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import clock, samples
from archive.models import ApprovalRequest, AuditEvent, Level

PDF = samples.make_pdf("认购书", ["客户何静认购翠湖苑。"])


@pytest.fixture
def doc(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("何静"))
    return file_doc(dossier, "何静 认购书", files=[("认购书.pdf", PDF)])


def test_raise_by_api_needs_two_approvers_and_search_follows(call, session, doc):
    assert call("staff", "GET", "/api/v1/search?q=何静").json["total"] == 1
    response = call("staff", "POST", f"/api/v1/documents/{doc.id}/classification",
                    {"to": "secret", "reason": "含收入证明"})
    assert response.status_code == 201, response.json
    change = response.json
    assert (change["from"]["key"], change["to"]["key"], change["status"]) == (
        "internal", "secret", "requested")
    assert [c["id"] for c in call("head", "GET", "/api/v1/classification-changes").json[
        "changes"]] == [change["id"]]

    first = call("head", "POST", f"/api/v1/classification-changes/{change['id']}/approve")
    assert first.status_code == 200 and first.json["status"] == "requested"
    again = call("head", "POST", f"/api/v1/classification-changes/{change['id']}/approve")
    assert again.status_code == 409 and again.json["error"]["code"] == "already_approved"
    done = call("gmoffice", "POST", f"/api/v1/classification-changes/{change['id']}/approve")
    assert done.json["status"] == "applied"
    assert done.json["dept_head"]["username"] == "head"
    assert done.json["gm_office"]["username"] == "gmoffice"

    assert call("staff", "GET", f"/api/v1/documents/{doc.id}").status_code == 404
    assert call("staff", "GET", "/api/v1/search?q=何静").json["total"] == 0
    history = call("head", "GET", f"/api/v1/documents/{doc.id}/classification-history").json
    assert history["classification"]["key"] == "secret"
    assert [c["status"] for c in history["changes"]] == ["applied"]


def test_requester_cannot_approve_by_api(call, session, doc):
    change = call("head", "POST", f"/api/v1/documents/{doc.id}/classification",
                  {"to": "秘密", "reason": "x"}).json
    response = call("head", "POST", f"/api/v1/classification-changes/{change['id']}/approve")
    assert response.status_code == 403 and "本人" in response.json["error"]["message"]
    # The head's asking decided the head's step (approvals.SELF_CONSENT); the 403 nothing.
    assert [(s.approver, s.decision) for s in session.get(ApprovalRequest, change["id"]).steps
            ] == [("customer_dept_head", "approved"), ("gm_office", None)]


def test_lowering_and_rejection_by_api(call, session, doc, file_doc):
    secret = file_doc(doc.dossier, "收入证明", classification="秘密")
    change = call("head", "POST", f"/api/v1/documents/{secret.id}/classification",
                  {"to": "internal", "reason": "解密"}).json
    rejected = call("gmoffice", "POST", f"/api/v1/classification-changes/{change['id']}/reject",
                    {"note": "暂不解密"})
    assert rejected.json["status"] == "rejected" and rejected.json["note"] == "暂不解密"
    session.refresh(secret)
    assert secret.classification == Level.SECRET
    change = call("head", "POST", f"/api/v1/documents/{secret.id}/classification",
                  {"to": "internal", "reason": "解密"}).json
    applied = call("gmoffice", "POST", f"/api/v1/classification-changes/{change['id']}/approve")
    assert applied.json["status"] == "applied"


def test_a_level_change_names_its_document_only_to_who_is_cleared_for_it(
        call, session, users, doc, file_doc):
    """A decider asked before the document was raised beyond them still sees the request
    (approvals.cleared_as_asked): its description withholds the title, as a loan does."""
    from archive.services import approvals

    secret = file_doc(doc.dossier, "收入证明", classification="秘密")
    change = call("head", "POST", f"/api/v1/documents/{secret.id}/classification",
                  {"to": "internal", "reason": "解密"}).json
    request = session.get(ApprovalRequest, change["id"])
    assert "收入证明" in approvals.describe(request, users["gmoffice"])
    described = approvals.describe(request, users["staff"])
    assert "收入证明" not in described and "题名不予显示" in described


def test_a_decider_never_cleared_for_a_document_does_not_see_its_level_change(
        call, session, users, departments, make_customer, make_dossier, file_doc):
    """A 秘密 document in a 机密 dossier is read at 机密: a level change of it is asked at
    机密, so a GM-office member cleared for 秘密 neither sees nor decides it (it was filed
    at the document's own level, and such a member could reject it: the review of
    cleared_as_asked)."""
    from archive.models import User
    from archive.services import work

    with work.unit(session):
        clerk = User(username="zb_clerk", display_name="总办文员", role="gm_office",
                     clearance=int(Level.SECRET), department_id=departments["ZB"].id,
                     password_hash=users["gmoffice"].password_hash)
        session.add(clerk)
    dossier = make_dossier(make_customer("机密户"), classification="机密")
    secret = file_doc(dossier, "机密户 收入证明", classification="秘密")
    change = call("officer", "POST", f"/api/v1/documents/{secret.id}/classification",
                  {"to": "internal", "reason": "解密"})
    assert change.status_code == 201, change.json
    request = session.get(ApprovalRequest, change.json["id"])
    assert request.subject_level == int(Level.CONFIDENTIAL)
    from archive.services import approvals

    assert not approvals.visible(clerk, request) and not approvals.may_decide(clerk, request)
    assert approvals.may_decide(users["gmoffice"], request)


def test_bad_requests_change_nothing(call, session, doc):
    for body, status in (({"to": "顶级", "reason": "x"}, 422), ({"to": "秘密"}, 422),
                         ({"to": "内部", "reason": "x"}, 422)):
        response = call("staff", "POST", f"/api/v1/documents/{doc.id}/classification", body)
        assert response.status_code == status, body
    assert call("service", "POST", f"/api/v1/documents/{doc.id}/classification",
                {"to": "秘密", "reason": "x"}).status_code == 404
    assert call("staff", "POST", "/api/v1/classification-changes/999/approve").status_code == 404
    assert session.query(ApprovalRequest).count() == 0


def test_top_secret_content_needs_copy_approval(call, session, doc, file_doc):
    top = file_doc(doc.dossier, "绝密件", classification="绝密", actor="gm",
                   files=[("绝密.pdf", samples.make_pdf("绝密件", ["重大事项"]))])
    made = call("gm", "POST", "/api/v1/designations", {"user": "head", "document_id": top.id})
    assert made.status_code == 201
    assert call("gmoffice", "POST", "/api/v1/designations",
                {"user": "staff", "document_id": top.id}).status_code == 403
    refused = call("head", "GET", f"/api/v1/documents/{top.id}/content")
    assert refused.status_code == 403
    assert "总经理" in refused.json["error"]["message"]
    approval = call("gm", "POST", "/api/v1/copy-approvals",
                    {"user": "head", "document_id": top.id, "hours": 1, "reason": "报送"})
    assert approval.status_code == 201, approval.json
    content = call("head", "GET", f"/api/v1/documents/{top.id}/content")
    assert content.status_code == 200
    text = PdfReader(io.BytesIO(content.data)).pages[0].extract_text()
    assert "绝密" in text and "陈经理" in text
    revoked = call("gm", "POST", f"/api/v1/copy-approvals/{approval.json['id']}/revoke")
    assert revoked.status_code == 200
    assert call("head", "GET", f"/api/v1/documents/{top.id}/content").status_code == 403
    assert call("gm", "DELETE", f"/api/v1/designations/{made.json['id']}").status_code == 204
    assert call("head", "GET", f"/api/v1/documents/{top.id}").status_code == 404


def test_grant_by_api_opens_search_until_it_ends(call, session, doc):
    assert call("service", "GET", "/api/v1/search?q=何静").json["total"] == 0
    until = clock.local(clock.now() + timedelta(hours=2)).isoformat()
    grant = call("gm", "POST", "/api/v1/grants", {"user": "service", "customer_id":
                 doc.dossier.customer_id, "valid_until": until, "reason": "协查"})
    assert grant.status_code == 201, grant.json
    assert call("service", "GET", "/api/v1/search?q=何静").json["total"] == 1
    assert call("service", "GET", f"/api/v1/documents/{doc.id}").status_code == 200
    clock.travel(timedelta(hours=3))
    try:
        assert call("service", "GET", "/api/v1/search?q=何静").json["total"] == 0
        assert call("service", "GET", f"/api/v1/documents/{doc.id}").status_code == 404
    finally:
        clock.reset()
    assert call("head", "POST", "/api/v1/grants", {"user": "service", "department": "XS",
                "valid_until": until, "reason": "x"}).status_code == 403
    events = session.execute(select(AuditEvent.action).where(
        AuditEvent.action == "grant.created")).scalars().all()
    assert events == ["grant.created"]


def test_a_top_secret_change_nobody_is_designated_to_decide_is_refused(call, session,
                                                                       file_doc, doc):
    """Lowering a 绝密 document is the GM office's decision; none of it may read the
    document until the GM designates one (002:43), so the request would wait for ever."""
    top = file_doc(doc.dossier, "绝密 协议", "其他", classification="绝密", actor="gm")
    before = session.query(ApprovalRequest).count()
    refused = call("gm", "POST", f"/api/v1/documents/{top.id}/classification",
                   {"to": "秘密", "reason": "解密"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_approver"
    assert "总经理指定" in refused.json["error"]["message"]
    assert session.query(ApprovalRequest).count() == before
    assert call("gm", "POST", "/api/v1/designations",
                {"user": "gmoffice", "document_id": top.id}).status_code == 201
    asked = call("gm", "POST", f"/api/v1/documents/{top.id}/classification",
                 {"to": "秘密", "reason": "解密"})
    assert asked.status_code == 201, asked.json
