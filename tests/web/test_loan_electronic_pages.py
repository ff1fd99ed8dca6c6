"""An electronic loan on its page: the borrower's 查看/下载 links, the view route delivering
the stamped PDF inline, and refusals as a Chinese error page that change nothing."""

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import clock, samples
from archive.extensions import db
from archive.models import AuditEvent, Loan
from archive.services import approvals, loans, work


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def lent(make_customer, make_dossier, file_doc, users):
    """An approved view-only electronic loan of one of two PDFs, to staff."""
    dossier = make_dossier(make_customer("秦电子"))
    pdf = samples.make_pdf("收入证明", ["客户收入证明。" * 40] * 6)
    lent_doc = file_doc(dossier, "秦电子 收入证明", files=[("收入证明.pdf", pdf)])
    other = file_doc(dossier, "秦电子 合同", "签约",
                     files=[("合同.pdf", samples.make_pdf("合同", ["合同"]))])
    with work.unit(db.session):
        loan = loans.request_loan(db.session, users["staff"], {
            "dossier_id": dossier.id, "document_ids": [lent_doc.id], "kind": "electronic",
            "purpose": "核对收入", "days": 5})
    with work.unit(db.session):
        approvals.approve(db.session, users["head"], loans.requests_of(db.session, loan)[0].id)
    return loan, lent_doc, other


def _url(loan, document, how="view"):
    return f"/loans/{loan.id}/documents/{document.id}/{how}"


def test_the_borrower_views_the_lent_document_stamped_inline(login_as, lent):
    loan, document, _other = lent
    client = login_as("staff")
    page = client.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert f'href="{_url(loan, document)}"' in page
    assert _url(loan, document, "download") not in page  # view only
    response = client.get(_url(loan, document))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["Cache-Control"] == "private, no-store"
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages]
    assert pages and all("王销售" in t and loan.number in t for t in pages)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "loan.viewed")
                               ).scalar_one()
    assert (event.actor_name, event.outcome, event.object_id) == ("staff", "ok", str(loan.id))
    assert loan.number in event.details


def test_refusals_are_chinese_pages_and_change_nothing(login_as, lent):
    loan, document, other = lent
    due = loan.due_at
    client = login_as("staff")
    refused = client.get(_url(loan, other))
    assert refused.status_code == 404 and "本次借阅中没有该文件" in refused.get_data(as_text=True)
    download = client.get(_url(loan, document, "download"))
    assert download.status_code == 403 and "仅限在线查看" in download.get_data(as_text=True)
    head = login_as("head").get(_url(loan, document))
    assert head.status_code == 403 and "借阅人本人" in head.get_data(as_text=True)
    # The head's page shows the loan, but no link to open through it.
    assert _url(loan, document) not in login_as("head").get(f"/loans/{loan.id}").get_data(
        as_text=True)
    clock.travel(timedelta(days=6))
    client = login_as("staff")
    late = client.get(_url(loan, document))
    assert late.status_code == 409 and "到期" in late.get_data(as_text=True)
    page = client.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert _url(loan, document) not in page and "借阅已到期" in page
    db.session.expire_all()
    assert (db.session.get(Loan, loan.id).status, db.session.get(Loan, loan.id).due_at) == (
        "approved", due)
    outcomes = db.session.execute(select(AuditEvent.actor_name, AuditEvent.outcome).where(
        AuditEvent.action.in_(("loan.viewed", "loan.downloaded"))).order_by(AuditEvent.seq)
    ).all()
    assert outcomes == [("staff", "denied"), ("staff", "denied"), ("head", "denied"),
                        ("staff", "denied")]
