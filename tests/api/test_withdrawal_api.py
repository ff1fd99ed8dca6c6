"""撤销归档 (issue 18): a mis-filed document leaves the lists, search and lending but
keeps its tombstone, number, files and history; only the archive room withdraws, with a
reason, and nothing is purged."""

import json

import pytest

from archive import samples
from archive.extensions import db
from archive.models import AuditEvent, Document, Dossier
from tests.conftest import archive_state

PDF = samples.make_pdf("撤销测试", ["重复归档的认购书，买受人张伟。"])


@pytest.fixture
def filed(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer(name="张伟", department="XS"))
    keep = file_doc(dossier, title="认购书", category="销售", files=[("认购书.pdf", PDF)],
                    pages="2")
    twice = file_doc(dossier, title="认购书（重复）", category="销售",
                     files=[("认购书2.pdf", PDF + b"\n%dup")], pages="2")
    return dossier, keep, twice


def _row(document_id: int) -> tuple:
    db.session.expire_all()
    d = db.session.get(Document, document_id)
    return d.status, d.seq, d.group_id, d.dossier.remarks


def test_a_withdrawn_document_leaves_lists_search_and_lending(app, call, login_as, file_doc,
                                                             filed):
    dossier, keep, twice = filed
    assert call("officer", "GET", "/api/v1/search?q=认购书").json["total"] == 2
    state = archive_state(app)
    response = call("officer", "POST", f"/api/v1/documents/{twice.id}/withdraw",
                    json={"reason": "重复归档"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "withdrawn"
    # Nothing purged: the row, its files and blobs are all still there.
    assert archive_state(app) == state
    [event] = [json.loads(e.details) for e in db.session.query(AuditEvent)
               .filter_by(action="document.withdrawn")]
    assert event["reason"] == "重复归档" and event["seq"] == 2
    assert "a 组第 2 号文件撤销归档：重复归档（李档案）" in _row(twice.id)[3]

    # Search (the index and the database), the dossier's volume index, its counts.
    for user in ("officer", "staff"):
        found = call(user, "GET", "/api/v1/search?q=认购书").json
        assert [h["document_id"] for h in found["hits"]] == [keep.id], user
    groups = call("officer", "GET", f"/api/v1/dossiers/{dossier.id}").json["groups"]
    listed = [d["id"] for g in groups for d in g["documents"]]
    assert listed == [keep.id]
    client = login_as("staff")
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "认购书（重复）" not in page
    customer_page = client.get(f"/customers/{dossier.customer_id}").get_data(as_text=True)
    assert "<td>1</td>" in customer_page and "<td>2</td>" not in customer_page
    dashboard = client.get("/").get_data(as_text=True)
    assert "认购书（重复）" not in dashboard
    remarks = login_as("officer").get(f"/dossiers/{dossier.id}/remarks").get_data(as_text=True)
    assert "认购书（重复）" not in remarks.split("撤销归档")[0]

    # For the reader it is gone; the archive room sees its tombstone with the history.
    assert call("staff", "GET", f"/api/v1/documents/{twice.id}").status_code == 404
    assert call("officer", "GET", f"/api/v1/documents/{twice.id}").json["status"] == "withdrawn"
    tomb = login_as("officer").get(f"/documents/{twice.id}").get_data(as_text=True)
    assert "此文件已撤销归档" in tomb and "重复归档" in tomb
    officer_dossier = login_as("officer").get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "已撤销归档" in officer_dossier and "认购书（重复）" in officer_dossier

    # No loan takes it.
    loan = call("officer", "POST", "/api/v1/loans", json={
        "dossier_id": dossier.id, "document_ids": [twice.id], "kind": "read",
        "purpose": "核对", "borrower": "staff", "days": 3})
    assert loan.status_code in (404, 409, 422), loan.json
    # Its number is never given again.
    assert file_doc(dossier, title="补充协议", category="签约").seq == 3


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": 5.5},
                                  {"reason": "x" * 501}], ids=str)
def test_a_withdrawal_needs_a_reason(app, call, filed, body):
    _dossier, _keep, twice = filed
    before, state = _row(twice.id), archive_state(app)
    response = call("officer", "POST", f"/api/v1/documents/{twice.id}/withdraw", json=body)
    assert response.status_code == 422 and response.json["error"]["message"]
    assert _row(twice.id) == before and archive_state(app) == state


def test_a_document_is_withdrawn_once(call, filed):
    _dossier, _keep, twice = filed
    assert call("officer", "POST", f"/api/v1/documents/{twice.id}/withdraw",
                json={"reason": "重复归档"}).status_code == 200
    before = _row(twice.id)
    again = call("officer", "POST", f"/api/v1/documents/{twice.id}/withdraw",
                 json={"reason": "重复归档"})
    assert again.status_code == 409 and again.json["error"]["code"] == "not_active"
    corrected = call("officer", "PATCH", f"/api/v1/documents/{twice.id}", json={"title": "x"})
    assert corrected.status_code == 409
    assert _row(twice.id) == before


def test_only_the_archive_room_withdraws(call, filed):
    _dossier, _keep, twice = filed
    before = _row(twice.id)
    for username in ("staff", "head", "auditor", "gm", "legal"):
        response = call(username, "POST", f"/api/v1/documents/{twice.id}/withdraw",
                        json={"reason": "重复归档"})
        assert response.status_code in (403, 404), username
    assert _row(twice.id) == before


def test_an_original_out_on_loan_is_not_withdrawn(call, make_customer, make_dossier,
                                                  file_doc):
    dossier = make_dossier(make_customer(name="宋借阅"))
    paper = file_doc(dossier, "宋借阅 认购书", pages="3")
    loan = call("officer", "POST", "/api/v1/loans", json={
        "dossier_id": dossier.id, "document_ids": [paper.id], "kind": "out",
        "purpose": "核对", "borrower": "gm", "days": 3})
    assert loan.status_code == 201, loan.json
    out = call("officer", "POST", f"/api/v1/loans/{loan.json['id']}/checkout",
               json={"items": 1, "pages": 3})
    assert out.status_code == 200, out.json
    before = _row(paper.id)
    response = call("officer", "POST", f"/api/v1/documents/{paper.id}/withdraw",
                    json={"reason": "归错客户"})
    assert response.status_code == 409 and response.json["error"]["code"] == "on_loan"
    assert "归还后才能撤销归档" in response.json["error"]["message"]
    assert _row(paper.id) == before
    assert db.session.get(Dossier, dossier.id) is not None


def test_the_withdraw_form_without_a_reason_changes_nothing(app, login_as, filed):
    _dossier, _keep, twice = filed
    before, state = _row(twice.id), archive_state(app)
    client = login_as("officer")
    response = client.post(f"/documents/{twice.id}/withdraw", data={"reason": ""})
    assert response.status_code == 302
    assert "请填写撤销原因" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _row(twice.id) == before and archive_state(app) == state
    assert login_as("staff").post(f"/documents/{twice.id}/withdraw",
                                  data={"reason": "重复"}).status_code == 403
    assert _row(twice.id) == before


def test_a_loan_of_a_withdrawn_document_is_refused_as_withdrawn_not_destroyed(call, filed):
    """Approving a loan whose document was withdrawn meanwhile said it was destroyed."""
    dossier, _keep, twice = filed
    asked = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": dossier.id, "kind": "read", "purpose": "核对", "days": 3,
        "document_ids": [twice.id]})
    assert asked.status_code == 201, asked.json
    assert call("officer", "POST", f"/api/v1/documents/{twice.id}/withdraw",
                json={"reason": "重复归档"}).status_code == 200
    refused = call("head", "POST", f"/api/v1/approvals/{asked.json['approvals'][-1]['id']}/approve")
    assert refused.status_code == 409
    assert "撤销归档" in refused.json["error"]["message"]
    assert "销毁" not in refused.json["error"]["message"]
