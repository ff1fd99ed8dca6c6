"""Delivered copies of 秘密+ PDFs are stamped on every page; the stored blob is not
(002:29-47). 绝密 leaves only with the GM's approval (002:45)."""

import hashlib
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import samples
from archive.models import AuditEvent, CopyApproval, Level
from archive.services import clock, filing, grants, stamping
from archive.services.errors import Forbidden, Invalid, NotFound

LONG = ["客户资料的密级统一定为公司内部文档，特殊资料有必要提高密级的，由经办部门与总经理办公室共同确定。" * 6] * 8


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("郑秘"))


def _pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]



def _blob(app, sha):
    return app.extensions["blob_store"].path_for(sha).read_bytes()


def test_stamp_pdf_marks_every_page_and_keeps_the_text():
    original = samples.make_pdf("收入证明", LONG)
    assert len(_pages(original)) > 1
    stamp = stamping.Stamp(Level.SECRET, "王销售", clock.now())
    stamped = stamping.stamp_pdf(original, stamp)
    pages = _pages(stamped)
    assert len(pages) == len(_pages(original))
    for text in pages:
        assert "秘密" in text and "王销售" in text and f"{stamp.at:%Y-%m-%d %H:%M}" in text
    assert "收入证明" in pages[0]


def test_unreadable_pdf_is_a_stamp_error():
    with pytest.raises(stamping.StampError):
        stamping.stamp_pdf(b"%PDF-1.4\nnot really", stamping.Stamp(Level.SECRET, "x", clock.now()))


def test_secret_download_is_stamped_and_the_blob_is_unchanged(app, session, users, dossier,
                                                                 file_doc):
    pdf = samples.make_pdf("收入证明", LONG)
    document = file_doc(dossier, "收入证明", files=[("收入证明.pdf", pdf)], classification="秘密")
    sha = document.files[0].sha256
    delivery = filing.read_for_delivery(session, users["head"], document.id,
                                        store=app.extensions["blob_store"])
    assert delivery.stamped and delivery.data != pdf
    for text in _pages(delivery.data):
        assert "秘密" in text and users["head"].display_name in text
    assert hashlib.sha256(_blob(app, sha)).hexdigest() == sha
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "document.download")
                            ).scalars().one()
    assert '"stamped": true' in event.details


def test_internal_download_is_the_stored_bytes(app, session, users, dossier, file_doc):
    pdf = samples.make_pdf("认购书", ["内部资料"])
    document = file_doc(dossier, "认购书", files=[("认购书.pdf", pdf)])
    delivery = filing.read_for_delivery(session, users["staff"], document.id,
                                        store=app.extensions["blob_store"])
    assert not delivery.stamped and delivery.data == pdf


def test_secret_docx_leaves_only_to_the_gm_as_it_cannot_be_stamped(app, session, users,
                                                                    dossier, file_doc):
    docx = samples.make_docx("情况说明", ["秘密资料"])
    document = file_doc(dossier, "情况说明", files=[("情况说明.docx", docx)],
                        classification="秘密")
    store = app.extensions["blob_store"]
    for purpose in ("preview", "download"):
        with pytest.raises(Forbidden) as err:
            filing.read_for_delivery(session, users["head"], document.id, store=store,
                                     purpose=purpose)
        assert "水印" in err.value.message
    delivery = filing.read_for_delivery(session, users["gm"], document.id, store=store)
    assert delivery.data == docx and not delivery.stamped
    outcomes = session.execute(select(AuditEvent.actor_name, AuditEvent.action,
                                      AuditEvent.outcome).where(
        AuditEvent.object_id == str(document.id), AuditEvent.action.startswith("document.p")
        | AuditEvent.action.startswith("document.d"))).all()
    assert ("head", "document.preview", "denied") in outcomes
    assert ("head", "document.download", "denied") in outcomes
    assert ("gm", "document.download", "ok") in outcomes


def test_secret_scan_is_delivered_as_a_stamped_pdf(app, session, users, dossier, file_doc):
    png = samples.make_png(["入伙签收单"])
    document = file_doc(dossier, "签收单扫描件", "入伙", files=[("签收单.png", png)],
                        classification="秘密")
    store = app.extensions["blob_store"]
    delivery = filing.read_for_delivery(session, users["head"], document.id, store=store,
                                        purpose="preview")
    assert delivery.stamped and delivery.mime == "application/pdf"
    assert delivery.filename == "签收单.png.pdf"
    text = PdfReader(io.BytesIO(delivery.data)).pages[0].extract_text()
    assert "秘密" in text and "陈经理" in text
    assert hashlib.sha256(store.get(document.files[0].sha256)).digest() == \
        hashlib.sha256(png).digest()


def test_top_secret_needs_gm_copy_approval_to_download(app, session, users, dossier, file_doc):
    pdf = samples.make_pdf("重大决策", LONG)
    document = file_doc(dossier, "重大决策", files=[("决策.pdf", pdf)], classification="绝密",
                        actor="gm")
    store = app.extensions["blob_store"]
    officer = users["officer"]
    with pytest.raises(NotFound):  # not designated: it does not exist for them
        filing.read_for_delivery(session, officer, document.id, store=store)
    grants.designate(session, users["gm"], {"user": "officer", "document_id": document.id})

    preview = filing.read_for_delivery(session, officer, document.id, store=store,
                                       purpose="preview")
    assert preview.stamped
    assert all("绝密" in t and officer.display_name in t for t in _pages(preview.data))

    with pytest.raises(Forbidden) as err:
        filing.read_for_delivery(session, officer, document.id, store=store)
    assert "未经总经理批准" in err.value.message
    denied = session.execute(select(AuditEvent).where(
        AuditEvent.action == "document.download", AuditEvent.outcome == "denied")).scalars().all()
    assert len(denied) == 1 and denied[0].actor_name == "officer"

    grants.approve_copy(session, users["gm"], {"user": "officer", "document_id": document.id,
                                               "hours": 2, "reason": "报送董事会"})
    delivery = filing.read_for_delivery(session, officer, document.id, store=store)
    assert delivery.stamped and "绝密" in _pages(delivery.data)[0]

    clock.travel(timedelta(hours=3))
    try:
        with pytest.raises(Forbidden):
            filing.read_for_delivery(session, officer, document.id, store=store)
    finally:
        clock.reset()
    assert hashlib.sha256(_blob(app, document.files[0].sha256)).hexdigest() == \
        document.files[0].sha256


def test_copy_approval_refusals(session, users, dossier, file_doc):
    internal = file_doc(dossier, "认购书")
    top = file_doc(dossier, "绝密件", classification="绝密", actor="gm")
    with pytest.raises(Forbidden):
        grants.approve_copy(session, users["gmoffice"], {"user": "officer",
                            "document_id": top.id, "reason": "x"})
    with pytest.raises(Invalid):
        grants.approve_copy(session, users["gm"], {"user": "officer",
                            "document_id": internal.id, "reason": "x"})
    with pytest.raises(Invalid):  # not designated: an approval would open nothing
        grants.approve_copy(session, users["gm"], {"user": "officer",
                            "document_id": top.id, "reason": "x"})
    assert session.query(CopyApproval).count() == 0
