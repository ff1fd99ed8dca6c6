"""Delivered copies of 秘密+ PDFs are stamped on every page; the stored blob is not
(002:29-47). 绝密 leaves only with the GM's approval (002:45)."""

import hashlib
import io
import re
import time
from datetime import timedelta

import pytest
from pypdf import PdfReader, Transformation
from sqlalchemy import select

from archive import clock, samples
from archive.models import AuditEvent, CopyApproval, Level
from archive.services import filetypes, filing, grants, stamping, work
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests import sample_images, sample_pdfs
from tests.conftest import archive_state

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
        assert "秘密" in text and "王销售" in text and f"{clock.local(stamp.at):%Y-%m-%d %H:%M}" in text
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


def test_secret_docx_leaves_only_to_the_gm_until_its_access_copy_is_made(app, session, users,
                                                                          dossier, file_doc):
    # The stamped copy of a DOCX is made from its PDF access copy (tests/test_docx_access_copies.py);
    # until the worker has made it, a cleared reader is told so.
    docx = samples.make_docx("情况说明", ["秘密资料"])
    document = file_doc(dossier, "情况说明", files=[("情况说明.docx", docx)],
                        classification="秘密")
    store = app.extensions["blob_store"]
    for purpose in ("preview", "download"):
        with pytest.raises(Conflict) as err:
            filing.read_for_delivery(session, users["head"], document.id, store=store,
                                     purpose=purpose)
        assert "PDF 副本正在生成" in err.value.message and err.value.code == "access_copy_pending"
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
    with work.unit(session):
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

    with work.unit(session):
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


# ---- hostile and unusual PDFs: stamped in time linear in the pages, or refused ----------


def _shared_content_pdf(pages: int, *, declared: int | None = None) -> bytes:
    """`pages` A4 pages drawing ONE content stream (object 4): a few KB per hundred pages.
    `declared` replaces the page tree's /Count."""
    return sample_pdfs.text_pages_pdf(pages, 100).replace(
        b"/Count %d >>" % pages, b"/Count %d >>" % (pages if declared is None else declared))


def _draw_matrix(page):
    """The matrix and the form XObject of the stamp: the last content stream of the page
    is `q a b c d e f cm /Name Do Q`."""
    last = page["/Contents"][-1].get_object().get_data().decode()
    match = re.fullmatch(r"q ((?:\S+ ){6})cm (/\S+) Do Q", last)
    form = page["/Resources"]["/XObject"][match.group(2)]
    return [float(v) for v in match.group(1).split()], form


def test_pages_sharing_one_content_stream_are_stamped_once_each_in_linear_time():
    hostile = _shared_content_pdf(500)  # 78 KB; ran past gunicorn's 30 s timeout
    assert len(hostile) < 100_000
    stamp = stamping.Stamp(Level.SECRET, "王销售", clock.now())
    started = time.perf_counter()
    stamped = stamping.stamp_pdf(hostile, stamp)
    # Guard against quadratic time only: measured 0.9 s (before: 27 s for 200 pages).
    assert time.perf_counter() - started < 10
    reader = PdfReader(io.BytesIO(stamped))
    assert len(reader.pages) == 500
    shared = {page["/Contents"][1].idnum for page in reader.pages}
    assert len(shared) == 1  # every page still draws the one original stream, not a copy
    assert stamped.count(b"HT-2024-0031") == 0  # ... kept compressed and written once
    # Per page a /Contents array and a resource entry: output linear in the pages.
    assert len(stamped) < len(hostile) + 60_000 + 500 * 150
    for page in (reader.pages[0], reader.pages[-1]):
        text = page.extract_text()
        assert text.count("王销售") == 4  # header, footer, two watermarks: once each
        assert "HT-2024-0031" in text


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_rotated_pages_carry_the_stamp_upright_as_shown(rotate):
    source = sample_pdfs.text_pages_pdf(1, 3).replace(
        b"/MediaBox [0 0 595 842]", b"/MediaBox [10 20 605 862] /Rotate %d" % rotate)
    page = PdfReader(io.BytesIO(stamping.stamp_pdf(
        source, stamping.Stamp(Level.SECRET, "王销售", clock.now())))).pages[0]
    assert page.rotation == rotate  # the page is not turned; the stamp is
    (a, b, c, d, e, f), form = _draw_matrix(page)
    width, height = (842, 595) if rotate in (90, 270) else (595, 842)
    assert [float(v) for v in form["/BBox"]] == [0, 0, width, height]
    # pypdf's own idea of the page as shown: turned by /Rotate, moved to the origin.
    box = page.mediabox
    shown = Transformation().translate(-float(box.left + box.width / 2),
                                       -float(box.bottom + box.height / 2)).rotate(-rotate)
    corners = [shown.apply_on(box.lower_left), shown.apply_on(box.upper_right)]
    shown = shown.translate(-min(x for x, _ in corners), -min(y for _, y in corners))
    for x, y in [(0, 0), (width, 0), (0, height), (width, height)]:
        on_page = (a * x + c * y + e, b * x + d * y + f)
        assert shown.apply_on(on_page) == pytest.approx((x, y), abs=0.01)


def test_pages_sharing_resources_and_inherited_boxes_are_stamped():
    # The media box and the resources sit on the /Pages node, shared by every page.
    source = sample_pdfs.text_pages_pdf(3, 3)
    source = source.replace(b"/Count 3 >>", b"/Count 3 /MediaBox [0 0 595 842] /Resources 5 0 R >>")
    source = source.replace(b" /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>", b"")
    source = source.replace(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                            b"<< /Font << /F1 6 0 R >> >>\nendobj\n6 0 obj\n"
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    source = sample_pdfs.with_bad_startxref(source)  # object offsets moved: pypdf rebuilds the table
    stamped = stamping.stamp_pdf(source, stamping.Stamp(Level.SECRET, "王销售", clock.now()))
    for text in _pages(stamped):
        assert "HT-2024-0031" in text and text.count("王销售") == 4


@pytest.mark.parametrize("pages, declared, message", [
    (5001, None, "PDF 页数过多（共 5001 页，超过 5000 页的上限）"),
    (5001, 1, "PDF 页数过多（超过 5000 页的上限）"),  # a /Count that lies: the walk stops
])
def test_more_pages_than_the_limit_are_refused_quickly(pages, declared, message):
    data = _shared_content_pdf(pages, declared=declared)
    started = time.perf_counter()
    with pytest.raises(stamping.StampError) as err:
        stamping.stamp_pdf(data, stamping.Stamp(Level.SECRET, "王销售", clock.now()))
    assert time.perf_counter() - started < 5  # measured 0.2 s
    assert str(err.value) == message


def test_a_pdf_of_more_objects_than_can_be_rewritten_in_time_is_refused_quickly():
    # One page naming 30 001 empty forms: 4 MB that pypdf would read and copy for ~7 s
    # (90 000 of them: past the 10 s budget, and that copying cannot be interrupted).
    count = stamping.MAX_OBJECTS + 1
    forms = {10 + i: b"<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length 0 >>\nstream\n\nendstream"
             for i in range(count)}
    names = b" ".join(b"/X%d %d 0 R" % (i, 10 + i) for i in range(count))
    data = sample_pdfs.page_pdf(b"", b"/XObject 5 0 R", extra={5: b"<< %s >>" % names, **forms})
    started = time.perf_counter()
    with pytest.raises(stamping.StampError) as err:
        stamping.stamp_pdf(data, stamping.Stamp(Level.SECRET, "王销售", clock.now()))
    assert time.perf_counter() - started < 3  # measured 0.6 s
    assert str(err.value) == "PDF 结构过于复杂（共 30006 个对象，超过 30000 个的上限）"


def test_stamping_stops_at_its_time_budget(monkeypatch):
    monkeypatch.setattr(stamping, "TIME_BUDGET_SECONDS", 0)
    with pytest.raises(stamping.StampError) as err:
        stamping.stamp_pdf(samples.make_pdf("收入证明", LONG),
                           stamping.Stamp(Level.SECRET, "王销售", clock.now()))
    assert str(err.value) == "PDF 过于复杂，加盖水印超过 0 秒"


def test_a_secret_pdf_too_long_to_stamp_is_refused_with_a_reason(app, session, users, dossier,
                                                                  file_doc):
    data = _shared_content_pdf(5001)
    document = file_doc(dossier, "超长文件", files=[("超长.pdf", data)], classification="秘密")
    assert document.files[0].text_status == "failed"  # kept, flagged 未提取文字
    store = app.extensions["blob_store"]
    events = session.query(AuditEvent).count()
    for purpose in ("preview", "download"):
        with pytest.raises(Forbidden) as err:
            filing.read_for_delivery(session, users["head"], document.id, store=store,
                                     purpose=purpose)
        assert err.value.message.startswith("PDF 页数过多（共 5001 页，超过 5000 页的上限），无法加盖水印")
    denied = session.execute(select(AuditEvent.action, AuditEvent.outcome).where(
        AuditEvent.object_id == str(document.id), AuditEvent.outcome == "denied")).all()
    assert sorted(denied) == [("document.download", "denied"), ("document.preview", "denied")]
    assert session.query(AuditEvent).count() == events + 2
    assert _blob(app, document.files[0].sha256) == data


@pytest.mark.parametrize("box, refusal", [
    (b"[605 862 10 20]", None),  # corners in the other order: the same page
    (b"[0 0 1000000000 1000000000]", "PDF 页面尺寸异常（1e+09 × 1e+09 点）"),
    (b"[0 0 0.5 900]", "PDF 页面尺寸异常（0.5 × 900 点）"),
])
def test_odd_page_boxes_are_stamped_or_refused(box, refusal):
    source = sample_pdfs.text_pages_pdf(1, 3).replace(b"[0 0 595 842]", box)
    stamp = stamping.Stamp(Level.SECRET, "王销售", clock.now())
    if refusal is None:
        assert _pages(stamping.stamp_pdf(source, stamp))[0].count("王销售") == 4
        return
    with pytest.raises(stamping.StampError) as err:
        stamping.stamp_pdf(source, stamp)
    assert str(err.value) == refusal


# ---- images: converted a frame at a time, refused when too large ----------------------


def test_a_secret_multi_page_scan_becomes_one_stamped_page_per_frame(app, session, users,
                                                                      dossier, file_doc):
    tiff = samples.make_tiff(frames=3)
    document = file_doc(dossier, "签收单扫描件", "入伙", files=[("签收单.tif", tiff)],
                        classification="秘密")
    delivery = filing.read_for_delivery(session, users["head"], document.id,
                                        store=app.extensions["blob_store"], purpose="preview")
    assert delivery.stamped and delivery.mime == "application/pdf"
    assert [text.count("陈经理") for text in _pages(delivery.data)] == [4, 4, 4]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, past 89 million
@pytest.mark.parametrize("width, height, message", [
    (20_000, 20_000, "图像尺寸过大"),  # Pillow refuses it while reading the header
    (10_000, 9_000, "图像尺寸过大（10000 × 9000 像素）"),
])
def test_an_image_too_large_to_convert_is_a_stamp_error(width, height, message):
    started = time.perf_counter()
    with pytest.raises(stamping.StampError) as err:
        stamping.image_to_pdf(sample_images.huge_png(width, height))
    assert time.perf_counter() - started < 1
    assert str(err.value) == message


def test_an_image_too_large_to_deliver_is_refused_at_filing_and_nothing_is_stored(
        app, dossier, file_doc):
    before = archive_state(app)
    with pytest.raises(Invalid) as err:
        file_doc(dossier, "户型图", files=[("户型图.png", sample_images.huge_png(20_000, 20_000))],
                 classification="秘密")
    assert (err.value.code, err.value.status) == ("image_too_large", 422)
    assert archive_state(app) == before


def test_a_huge_image_filed_before_the_limit_is_refused_at_delivery_with_a_reason(
        app, session, users, dossier, file_doc, monkeypatch):
    png = sample_images.huge_png(20_000, 20_000)
    # As an earlier release filed it, without looking at the image's size.
    monkeypatch.setattr(filetypes, "_require_deliverable_size", lambda data: None)
    document = file_doc(dossier, "户型图", files=[("户型图.png", png)], classification="秘密")
    monkeypatch.undo()
    store = app.extensions["blob_store"]
    for purpose in ("preview", "download"):
        with pytest.raises(Forbidden) as err:
            filing.read_for_delivery(session, users["head"], document.id, store=store,
                                     purpose=purpose)
        assert err.value.message == "图像尺寸过大，无法加盖水印，不能提供；请联系档案员"
    delivery = filing.read_for_delivery(session, users["gm"], document.id, store=store)
    assert delivery.data == png and not delivery.stamped  # the GM sees everything, as stored
    outcomes = session.execute(select(AuditEvent.actor_name, AuditEvent.action, AuditEvent.outcome)
                               .where(AuditEvent.object_id == str(document.id))).all()
    assert ("head", "document.preview", "denied") in outcomes
    assert ("head", "document.download", "denied") in outcomes
    assert ("gm", "document.download", "ok") in outcomes
