"""External readers through the API (000:844, 003:97): the archive room registers the
reader with scans of the credential and of the notice or letter; 公检法 are decided by
the legal office, other units by the GM; the reader reads at the counter and receives
copies stamped on every page 「与原件核对无异 · 原件存于档案室」 with the loan number.
Every refusal leaves the rows and the storage as they were."""

import hashlib
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from archive import clock, samples
from archive.extensions import db
from archive.models import (
    ApprovalRequest,
    AuditEvent,
    ExternalReader,
    Loan,
    LoanCopy,
    LoanFile,
)
from archive.services.errors import IntegrityError
from tests.conftest import archive_state
from tests.sample_pdfs import scan_pdf

CREDENTIAL = samples.make_jpeg(["警官证 张警官"])
NOTICE = samples.make_pdf("协助调查通知书", ["请协助调取宋外查客户档案。"])
CONTRACT = scan_pdf(3)


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def dossier(make_customer, make_dossier, file_doc):
    """A 销售经营部 customer's dossier: a 3-page scanned contract and a paper original."""
    dossier = make_dossier(make_customer("宋外查"))
    file_doc(dossier, "宋外查 合同", "签约", files=[("合同.pdf", CONTRACT)])
    file_doc(dossier, "宋外查 认购书", pages="2")
    return dossier


def _form(dossier, reader_kind="police", *, credential=("警官证.jpg", CREDENTIAL),
          notice=("通知书.pdf", NOTICE), **fields) -> dict:
    form = {"reader_kind": reader_kind, "unit": "深圳市公安局南山分局", "name": "张警官",
            "credential_type": "警官证", "credential_number": "440305123456",
            "notice_number": "南公（刑）协字〔2026〕118号", "phone": "0755-26000000",
            "dossier_id": str(dossier.id), "purpose": "协助调查合同纠纷", "days": "3",
            **fields}
    if credential is not None:
        form["credential_scan"] = (io.BytesIO(credential[1]), credential[0])
    if notice is not None:
        form["notice_scan"] = (io.BytesIO(notice[1]), notice[0])
    return form


def _register(call, dossier, **kwargs):
    return call("officer", "POST", "/api/v1/loans/external", data=_form(dossier, **kwargs))


def _approve(call, user, loan):
    return call(user, "POST", f"/api/v1/approvals/{loan['approvals'][-1]['id']}/approve")


def _state(app) -> dict:
    db.session.expire_all()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {**archive_state(app), "loans": count(Loan), "readers": count(ExternalReader),
            "loan_files": count(LoanFile), "copies": count(LoanCopy),
            "requests": count(ApprovalRequest)}


def test_a_police_request_is_decided_by_the_legal_office_only(call, dossier):
    answer = _register(call, dossier)
    assert answer.status_code == 201, answer.json
    loan = answer.json
    assert (loan["kind"]["key"], loan["status"]["key"], loan["borrower"]) == (
        "read", "requested", None)
    reader = loan["external_reader"]
    assert (reader["kind"]["key"], reader["unit"], reader["name"], reader["notice_number"]) == (
        "police", "深圳市公安局南山分局", "张警官", "南公（刑）协字〔2026〕118号")
    assert sorted(s["purpose"] for s in reader["scans"]) == ["credential", "notice"]
    assert loan["approvals"][0]["kind"] == "loan_external_police"
    # 000:844: the legal office; neither the GM office, the head nor the GM decide.
    for other in ("gmoffice", "head", "gm"):
        refused = _approve(call, other, loan)
        assert refused.status_code in (403, 404), (other, refused.json)
    assert call("officer", "GET", f"/api/v1/loans/{loan['id']}").json["status"]["key"] == (
        "requested")
    assert _approve(call, "legal", loan).status_code == 200
    shown = call("legal", "GET", f"/api/v1/loans/{loan['id']}").json
    assert shown["status"]["key"] == "approved"
    assert shown["external_reader"]["credential_number"] == "440305123456"


def test_another_unit_is_decided_by_the_gm(call, dossier):
    loan = _register(call, dossier, reader_kind="unit", unit="深圳市住房和建设局",
                     notice=("介绍信.png", samples.make_png(["介绍信"]))).json
    assert loan["approvals"][0]["kind"] == "loan_external_unit"
    assert _approve(call, "legal", loan).status_code in (403, 404)
    assert _approve(call, "gm", loan).status_code == 200
    assert call("officer", "GET", f"/api/v1/loans/{loan['id']}").json["status"]["key"] == (
        "approved")


def test_without_a_credential_scan_nothing_is_registered_or_stored(app, call, dossier):
    before = _state(app)
    refused = _register(call, dossier, credential=None)
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "missing_scan"
    assert "证件扫描件" in refused.json["error"]["message"]
    # The notice was sent and is valid: it is not stored either.
    assert _state(app) == before
    no_notice = _register(call, dossier, notice=None)
    assert no_notice.status_code == 422 and "协助调查通知书" in no_notice.json["error"]["message"]
    assert _state(app) == before


def test_a_scan_that_is_not_a_pdf_or_an_image_is_refused(app, call, dossier):
    before = _state(app)
    docx = _register(call, dossier, credential=("证件.docx", samples.make_docx("证件", ["证件"])))
    assert docx.status_code == 415 and docx.json["error"]["code"] == "unsupported_scan"
    liar = _register(call, dossier, notice=("通知书.pdf", "这不是PDF".encode()))
    assert liar.status_code == 415
    assert _state(app) == before


def test_bad_particulars_are_refused_in_chinese_and_change_nothing(app, call, dossier):
    before = _state(app)
    for fields, field in (({"reader_kind": "press"}, "reader_kind"), ({"name": ""}, "name"),
                          ({"credential_number": ""}, "credential_number"),
                          ({"notice_number": " "}, "notice_number"), ({"days": "90"}, "due")):
        answer = _register(call, dossier, **fields)
        assert answer.status_code == 422, (fields, answer.json)
        assert answer.json["error"]["details"]["field"] == field
    # Only the archive room registers external readers.
    staff = call("staff", "POST", "/api/v1/loans/external", data=_form(dossier))
    assert staff.status_code == 403
    assert _state(app) == before


def test_a_failed_unit_removes_the_scans_it_stored(app, call, dossier):
    from archive.models import ApprovalRoute

    with app.app_context():
        route = db.session.scalar(select(ApprovalRoute).where(
            ApprovalRoute.kind == "loan_external_police"))
        route.active = False  # filing the request fails after the blobs are stored
        db.session.commit()
    before = _state(app)
    answer = _register(call, dossier)
    assert answer.status_code >= 400
    assert _state(app) == before


def test_filing_that_fails_keeps_a_blob_a_scan_holds(app, call, dossier):
    """A document upload that stored the same bytes and then rolled back removes only
    blobs nothing refers to: a loan's scan counts."""
    from archive.services import filing

    _register(call, dossier)
    digest = hashlib.sha256(NOTICE).hexdigest()
    store = app.extensions["blob_store"]
    filing._discard_unreferenced(db.session, store, [digest])
    assert store.get(digest) == NOTICE


def test_the_scans_are_stored_by_content_and_verified(app, call, dossier):
    loan = _register(call, dossier).json
    store = app.extensions["blob_store"]
    scans = {s["purpose"]: s for s in loan["external_reader"]["scans"]}
    credential = scans["credential"]
    assert credential["sha256"] == hashlib.sha256(CREDENTIAL).hexdigest()
    path = store.path_for(credential["sha256"])
    assert path == store.root / credential["sha256"][:2] / credential["sha256"][2:4] / (
        credential["sha256"])
    assert path.read_bytes() == CREDENTIAL and store.get(credential["sha256"]) == CREDENTIAL
    assert (credential["mime"], credential["size"]) == ("image/jpeg", len(CREDENTIAL))
    assert scans["notice"]["mime"] == "application/pdf"
    # The legal office reads the scans before deciding; each reading is audited.
    served = call("legal", "GET", credential["url"])
    assert (served.status_code, served.mimetype, served.data) == (200, "image/jpeg", CREDENTIAL)
    assert call("staff_public", "GET", credential["url"]).status_code == 404
    # Fixity: a changed blob is never served, and verify-storage names it.
    path.chmod(0o644)
    path.write_bytes(CREDENTIAL + b"x")
    with pytest.raises(IntegrityError):
        store.get(credential["sha256"])
    refused = call("legal", "GET", credential["url"])
    assert refused.json["error"]["code"] == "blob_corrupt" and CREDENTIAL not in refused.data
    assert [e.outcome for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "loan.scan_viewed").order_by(AuditEvent.id))] == ["ok", "error"]
    result = app.test_cli_runner().invoke(args=["verify-storage"])
    assert result.exit_code == 1 and credential["sha256"] in result.output
    assert "借阅" in result.output


def test_the_counter_checks_an_external_loan_out_and_back(call, dossier):
    loan = _register(call, dossier, reader_kind="unit").json
    _approve(call, "gm", loan)
    url = f"/api/v1/loans/{loan['id']}"
    out = call("officer", "POST", f"{url}/checkout", {"items": 2, "pages": 5})
    assert out.status_code == 200 and out.json["status"]["key"] == "out"
    back = call("officer", "POST", f"{url}/return",
                {"items": 2, "pages": 5, "condition": "完好", "effect": "作为诉讼证据"})
    assert back.json["status"]["key"] == "returned" and back.json["loss_reports"] == []


def _document_id(dossier, title):
    return next(d.id for d in dossier.documents if d.title == title)


def test_a_copy_is_stamped_on_every_page_with_the_loan_number(app, call, dossier):
    loan = _register(call, dossier).json
    _approve(call, "legal", loan)
    contract = _document_id(dossier, "宋外查 合同")
    answer = call("officer", "POST", f"/api/v1/loans/{loan['id']}/copies",
                  {"document_id": contract, "pages": "1,3"})
    assert answer.status_code == 200, answer.data[:300]
    assert answer.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(answer.data)).pages
    assert len(pages) == 2
    for page in pages:
        text = page.extract_text()
        assert "与原件核对无异" in text and "原件存于档案室" in text and loan["number"] in text
    copies = call("officer", "GET", f"/api/v1/loans/{loan['id']}").json[
        "external_reader"]["copies"]
    assert [(c["document_id"], c["pages"], c["page_count"]) for c in copies] == [
        (contract, "1,3", 2)]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "loan.copy_made")) == 1


def test_copies_are_refused_before_approval_and_outside_the_loan(app, call, dossier, paper):
    loan = _register(call, dossier).json
    url = f"/api/v1/loans/{loan['id']}/copies"
    contract = _document_id(dossier, "宋外查 合同")
    before = _state(app)
    early = call("officer", "POST", url, {"document_id": contract, "pages": "1"})
    assert early.status_code == 409 and early.json["error"]["code"] == "not_approved"
    assert _state(app) == before
    _approve(call, "legal", loan)
    before = _state(app)
    for body, status, code in (
            ({"document_id": paper, "pages": "1"}, 422, "not_in_loan"),
            ({"document_id": _document_id(dossier, "宋外查 认购书"), "pages": "1"}, 422,
             "no_copyable_file"),
            ({"document_id": contract, "pages": "2-9"}, 422, "invalid"),
            ({"document_id": contract, "pages": ""}, 422, "invalid")):
        answer = call("officer", "POST", url, body)
        assert (answer.status_code, answer.json["error"]["code"]) == (status, code), body
    assert call("legal", "POST", url, {"document_id": contract, "pages": "1"}
                ).status_code == 403
    assert _state(app) == before


def test_a_staff_loan_gets_no_external_copy(app, call, dossier):
    staff_loan = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": dossier.id, "kind": "read", "purpose": "核对", "days": 3}).json
    call("head", "POST", f"/api/v1/approvals/{staff_loan['approvals'][-1]['id']}/approve")
    answer = call("officer", "POST", f"/api/v1/loans/{staff_loan['id']}/copies",
                  {"document_id": _document_id(dossier, "宋外查 合同"), "pages": "1"})
    assert answer.status_code == 409 and answer.json["error"]["code"] == "not_external"
    assert staff_loan["external_reader"] is None


@pytest.fixture
def paper(make_customer, make_dossier, file_doc):
    """The id of a document in another dossier."""
    other = make_dossier(make_customer("宋别人"), room="1202")
    return file_doc(other, "宋别人 合同", "签约", files=[("合同.pdf", CONTRACT)]).id
