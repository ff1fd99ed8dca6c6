"""Electronic loans (电子借阅) through the API: the borrower opens exactly the lent documents
until the due time, every page stamped with the borrower, the loan number and the time;
a view-only loan is not downloaded, 绝密 never; a level raise above the borrower's
clearance ends the loan for that document; nobody else opens through the loan; every
opening and every refusal is audited with the loan number, and a refusal changes nothing."""

import io
import json
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import clock, samples
from archive.extensions import db
from archive.models import AuditEvent, Loan
from archive.services import grants, work
from tests.conftest import archive_state

LONG = ["客户资料的密级统一定为公司内部文档，特殊资料有必要提高密级的，由经办部门与总经理办公室共同确定。" * 6] * 8


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def docs(make_customer, make_dossier, file_doc):
    """A 销售经营部 customer's dossier: a two-page PDF and a scan (内部), and a contract
    that is not lent."""
    dossier = make_dossier(make_customer("何电子"))
    return {
        "pdf": file_doc(dossier, "何电子 收入证明",
                        files=[("收入证明.pdf", samples.make_pdf("收入证明", LONG))]),
        "scan": file_doc(dossier, "何电子 签收单", "入伙",
                         files=[("签收单.png", samples.make_png(["入伙签收单"]))]),
        "other": file_doc(dossier, "何电子 合同", "签约",
                          files=[("合同.pdf", samples.make_pdf("合同", ["未借阅的合同"]))]),
    }


def _lend(call, borrower, documents, deciders, *, download=False, days=7, asker=None):
    """An electronic loan asked by `borrower` (or registered for them by `asker`, the
    archive room), approved by each of `deciders` in turn."""
    asked = call(asker or borrower, "POST", "/api/v1/loans", {
        "dossier_id": documents[0].dossier_id, "document_ids": [d.id for d in documents],
        "kind": "electronic", "purpose": "核对收入证明", "days": days,
        "may_download": download, "borrower": borrower})
    assert asked.status_code == 201, asked.json
    request_id = asked.json["approvals"][-1]["id"]
    for decider in deciders:
        decided = call(decider, "POST", f"/api/v1/approvals/{request_id}/approve")
        assert decided.status_code == 200, decided.json
    loan = call(borrower, "GET", f"/api/v1/loans/{asked.json['id']}").json
    assert loan["status"]["key"] == "approved"
    return loan


def _content(call, user, loan, document, download=False):
    query = "?download=1" if download else ""
    return call(user, "GET", f"/api/v1/loans/{loan['id']}/documents/{document.id}/content{query}")


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _events(action):
    db.session.expire_all()
    return [(e.actor_name, e.object_type, e.object_id, e.outcome, json.loads(e.details))
            for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                        .order_by(AuditEvent.seq)).scalars()]


def _unchanged(app, loan_id):
    """What a refusal must leave as it was: the loan row and the archive's rows and files."""
    db.session.expire_all()
    loan = db.session.get(Loan, loan_id)
    return (loan.status, loan.due_at, loan.may_download, [i.document_id for i in loan.items],
            db.session.query(Loan).count(), archive_state(app))


def test_the_borrower_opens_exactly_the_lent_documents_stamped_on_every_page(app, call, docs):
    loan = _lend(call, "staff", [docs["pdf"], docs["scan"]], ["head"])
    viewed = _content(call, "staff", loan, docs["pdf"])
    assert viewed.status_code == 200 and viewed.mimetype == "application/pdf"
    assert viewed.headers["Content-Disposition"].startswith("inline")
    assert viewed.headers["Cache-Control"] == "private, no-store"
    pages = _pages(viewed.data)
    assert len(pages) > 1
    for text in pages:  # 内部: the borrower, the loan number and the time, on every page
        assert "王销售" in text and "staff" in text and loan["number"] in text
        assert f"{clock.today():%Y-%m-%d}" in text
    assert "收入证明" in pages[0]
    # The stored file is unchanged: the stamp is on the copy.
    stored = docs["pdf"].files[0]
    assert app.extensions["blob_store"].get(stored.sha256) != viewed.data
    # A scan goes out as a PDF of the image, stamped too.
    scan = _content(call, "staff", loan, docs["scan"])
    assert scan.status_code == 200 and scan.mimetype == "application/pdf"
    assert all(loan["number"] in text for text in _pages(scan.data))

    before = _unchanged(app, loan["id"])
    other = _content(call, "staff", loan, docs["other"])  # same dossier, not lent
    assert other.status_code == 404 and "本次借阅中没有" in other.json["error"]["message"]
    assert _content(call, "staff", loan, docs["other"]).status_code == 404
    assert _unchanged(app, loan["id"]) == before

    viewed = _events("loan.viewed")
    assert [(e[0], e[2], e[3], e[4]["number"], e[4].get("document")) for e in viewed] == [
        ("staff", str(loan["id"]), "ok", loan["number"], docs["pdf"].id),
        ("staff", str(loan["id"]), "ok", loan["number"], docs["scan"].id),
        ("staff", str(loan["id"]), "denied", loan["number"], str(docs["other"].id)),
        ("staff", str(loan["id"]), "denied", loan["number"], str(docs["other"].id))]


def test_a_view_only_loan_is_not_downloaded(app, call, docs):
    loan = _lend(call, "staff", [docs["pdf"]], ["head"])
    before = _unchanged(app, loan["id"])
    refused = _content(call, "staff", loan, docs["pdf"], download=True)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "view_only"
    assert "仅限在线查看" in refused.json["error"]["message"]
    assert _unchanged(app, loan["id"]) == before
    [event] = _events("loan.downloaded")
    assert (event[3], event[4]["number"]) == ("denied", loan["number"])


def test_a_download_loan_is_downloaded_stamped_and_audited(call, docs):
    # 电子 with download leaves the room as a copy: the head, then the director (002:942).
    loan = _lend(call, "staff", [docs["pdf"]], ["head", "gmoffice"], download=True)
    got = _content(call, "staff", loan, docs["pdf"], download=True)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert all(loan["number"] in text and "王销售" in text for text in _pages(got.data))
    [event] = _events("loan.downloaded")
    assert (event[0], event[3], event[4]["number"], event[4]["document"]) == (
        "staff", "ok", loan["number"], docs["pdf"].id)


def test_access_stops_by_itself_at_the_due_time(app, call, docs):
    loan = _lend(call, "staff", [docs["pdf"]], ["head"], days=3)
    clock.travel(timedelta(days=3))  # the last day: still open until its end
    assert _content(call, "staff", loan, docs["pdf"]).status_code == 200
    clock.travel(timedelta(days=1))
    before = _unchanged(app, loan["id"])
    late = _content(call, "staff", loan, docs["pdf"])
    assert late.status_code == 409 and late.json["error"]["code"] == "loan_expired"
    assert "到期" in late.json["error"]["message"]
    assert _unchanged(app, loan["id"]) == before
    assert [e[3] for e in _events("loan.viewed")] == ["ok", "denied"]


def test_a_level_raise_above_the_borrowers_clearance_ends_the_loan(app, call, docs):
    loan = _lend(call, "staff", [docs["pdf"], docs["scan"]], ["head"])
    assert _content(call, "staff", loan, docs["pdf"]).status_code == 200
    # The real level-change flow (000:742): asked by the handling department, approved by
    # the head and the GM office. Electronic loans do not block it.
    change = call("staff_secret", "POST", f"/api/v1/documents/{docs['pdf'].id}/classification",
                  {"to": "secret", "reason": "含收入证明"})
    assert change.status_code == 201, change.json
    for decider in ("head", "gmoffice"):
        call(decider, "POST", f"/api/v1/classification-changes/{change.json['id']}/approve")
    db.session.expire_all()
    assert docs["pdf"].classification == 2
    before = _unchanged(app, loan["id"])
    ended = _content(call, "staff", loan, docs["pdf"])
    assert ended.status_code == 403 and ended.json["error"]["code"] == "not_cleared"
    assert "密级" in ended.json["error"]["message"]
    assert _unchanged(app, loan["id"]) == before
    # The rest of the loan is still open.
    assert _content(call, "staff", loan, docs["scan"]).status_code == 200


def test_top_secret_is_never_downloaded_through_a_loan(call, make_customer, make_dossier,
                                                        file_doc, users):
    top = make_dossier(make_customer("孙绝密"), room="0606", actor="gm", classification="绝密")
    document = file_doc(top, "孙绝密 协议", actor="gm",
                        files=[("协议.pdf", samples.make_pdf("协议", ["重大事项"]))])
    with work.unit(db.session):
        grants.designate(db.session, users["gm"], {"user": "staff_secret", "dossier_id": top.id})
    # 绝密: the GM decides (002:43); 3 days at most.
    loan = _lend(call, "staff_secret", [document], ["gm"], days=2)
    viewed = _content(call, "staff_secret", loan, document)
    assert viewed.status_code == 200
    assert all("绝密" in t and loan["number"] in t and "冯秘密" in t for t in _pages(viewed.data))
    refused = _content(call, "staff_secret", loan, document, download=True)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "top_secret_download"
    assert "绝密" in refused.json["error"]["message"]
    # Not even the GM, who approved it and reads everything, opens through the loan.
    assert _content(call, "gm", loan, document).status_code == 403


def test_nobody_but_the_borrower_opens_through_the_loan(app, call, docs):
    loan = _lend(call, "staff", [docs["pdf"]], ["head"])
    before = _unchanged(app, loan["id"])
    # The head who approved it sees the loan, but may not open through it.
    head = _content(call, "head", loan, docs["pdf"])
    assert head.status_code == 403 and "借阅人本人" in head.json["error"]["message"]
    assert _content(call, "officer", loan, docs["pdf"]).status_code == 403  # the register
    # Who may not even know of the loan is told it does not exist, like a missing one.
    hidden = _content(call, "service", loan, docs["pdf"])
    missing = call("service", "GET", f"/api/v1/loans/987654/documents/{docs['pdf'].id}/content")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json and loan["number"] not in hidden.get_data(as_text=True)
    assert _unchanged(app, loan["id"]) == before
    refusals = [(e[0], e[3]) for e in _events("loan.viewed")]
    assert refusals == [("head", "denied"), ("officer", "denied")]


def test_a_loan_that_is_not_open_opens_nothing(call, docs):
    asked = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": docs["pdf"].dossier_id, "document_ids": [docs["pdf"].id],
        "kind": "electronic", "purpose": "核对", "days": 3})
    pending = asked.json
    refused = _content(call, "staff", pending, docs["pdf"])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_approved"
    reading = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": docs["pdf"].dossier_id, "document_ids": [docs["pdf"].id],
        "kind": "read", "purpose": "核对", "days": 3}).json
    call("head", "POST", f"/api/v1/approvals/{reading['approvals'][-1]['id']}/approve")
    not_electronic = _content(call, "staff", reading, docs["pdf"])
    assert not_electronic.status_code == 409
    assert not_electronic.json["error"]["code"] == "not_electronic"
    assert _events("loan.viewed")[-1][3] == "denied"


def test_search_visibility_is_unchanged_by_a_loan(call, make_customer, make_dossier, file_doc):
    # Another department's customer file, registered by the archive room for staff (002:67:
    # the GM's stage follows the head's).
    kf = make_dossier(make_customer("丁客服", department="KF"), room="0909")
    document = file_doc(kf, "丁客服 维修记录", "维修",
                        files=[("维修.pdf", samples.make_pdf("维修记录", ["卫生间漏水维修"]))])
    loan = _lend(call, "staff", [document], ["head", "gm"], asker="officer")
    assert _content(call, "staff", loan, document).status_code == 200
    # The loan's page is the only way in: search and the document itself stay closed.
    assert call("staff", "GET", "/api/v1/search?q=丁客服").json["total"] == 0
    assert call("service", "GET", "/api/v1/search?q=丁客服").json["total"] == 1
    assert call("staff", "GET", f"/api/v1/documents/{document.id}").status_code == 404
    assert call("staff", "GET", f"/api/v1/documents/{document.id}/content").status_code == 404
