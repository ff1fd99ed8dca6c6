"""External readers on the web: the archive room registers a 公检法 reader with the two
scans, a form without the credential scan comes back with the reason and stores nothing,
and once the legal office approves, the loan's page hands over a stamped copy."""

import io

from pypdf import PdfReader
from sqlalchemy import func, select

from archive import samples
from archive.extensions import db
from archive.models import ExternalReader, Loan, LoanCopy
from archive.services import approvals, loans, work
from tests.conftest import archive_state
from tests.sample_pdfs import scan_pdf


def _form(dossier, **files):
    return {"reader_kind": "police", "unit": "南山区人民检察院", "name": "林检察",
            "credential_type": "工作证", "credential_number": "JC-0755-01",
            "notice_number": "南检协〔2026〕7号", "dossier_number": dossier.number,
            "purpose": "协助调查", **files}


def _scan(name, data):
    return (io.BytesIO(data), name)


def test_the_archive_room_registers_a_reader_and_hands_over_a_stamped_copy(
        app, login_as, users, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("林外查"))
    document = file_doc(dossier, "林外查 合同", "签约", files=[("合同.pdf", scan_pdf(2))])
    client = login_as("officer")
    assert "登记外单位查阅" in client.get("/loans/external/new").get_data(as_text=True)

    before = archive_state(app)
    refused = client.post("/loans/external/new", data=_form(
        dossier, notice_scan=_scan("通知书.pdf", samples.make_pdf("通知书", ["协助调查"]))),
        content_type="multipart/form-data")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请上传查阅人证件扫描件" in page
    assert 'value="林检察"' in page  # the form comes back as typed
    assert archive_state(app) == before
    assert db.session.scalar(select(func.count()).select_from(Loan)) == 0

    done = client.post("/loans/external/new", data=_form(
        dossier, credential_scan=_scan("工作证.png", samples.make_png(["工作证"])),
        notice_scan=_scan("通知书.pdf", samples.make_pdf("通知书", ["协助调查"]))),
        content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    loan = db.session.scalar(select(Loan))
    assert done.headers["Location"].endswith(f"/loans/{loan.id}/external")
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "南山区人民检察院" in shown and "南检协〔2026〕7号" in shown
    assert "出具复制件" not in shown  # not approved yet
    scan = next(f for f in loan.scans if f.purpose == "credential")
    assert f"/loans/{loan.id}/external/scans/{scan.id}" in shown
    served = client.get(f"/loans/{loan.id}/external/scans/{scan.id}")
    assert served.status_code == 200 and served.mimetype == "image/png"

    with work.unit(db.session):
        request = loans.requests_of(db.session, loan)[0]
        approvals.approve(db.session, users["legal"], request.id)
    shown = client.get(f"/loans/{loan.id}/external").get_data(as_text=True)
    assert "出具复制件" in shown
    copy = client.post(f"/loans/{loan.id}/external/copies",
                       data={"document_id": document.id, "pages": "2"})
    assert copy.status_code == 200 and copy.mimetype == "application/pdf"
    (page,) = PdfReader(io.BytesIO(copy.data)).pages
    assert "与原件核对无异" in page.extract_text() and loan.number in page.extract_text()
    wrong = client.post(f"/loans/{loan.id}/external/copies",
                        data={"document_id": document.id, "pages": "7"})
    assert wrong.status_code == 302
    assert "页码“7”不正确" in client.get(wrong.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LoanCopy)) == 1
    assert db.session.scalar(select(ExternalReader.name)) == "林检察"


def test_only_the_archive_room_registers_external_readers(login_as):
    assert login_as("staff").get("/loans/external/new").status_code == 403
