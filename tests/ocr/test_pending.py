"""`flask ocr --pending` finds the PDFs filed before OCR whose scanned pages sit among
text pages (a contract with a scanned signature page), counts each one's pages without
text once, and reads those pages (issue 20)."""

import io

from pypdf import PdfReader, PdfWriter

from archive import samples
from archive.extensions import db
from archive.models import Job, StoredFile
from tests import sample_pdfs


def mixed_pdf() -> bytes:
    """A text page, then a scanned page (「房地产买卖合同（扫描件）第1页」, no text layer)."""
    writer = PdfWriter()
    for data in (samples.make_pdf("房地产买卖合同", ["甲方：翠湖苑开发有限公司。乙方：张伟。"]),
                 sample_pdfs.scan_pdf(1)):
        writer.append(PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_ocr_pending_reads_the_scanned_pages_of_older_pdfs_with_text(app, file_doc, make_customer,
                                                                     make_dossier):
    dossier = make_dossier(make_customer())
    mixed = file_doc(dossier, "合同（签字页为扫描件）", "签约", files=[("合同.pdf", mixed_pdf())])
    text_only = file_doc(dossier, "入伙通知", "入伙", files=[
        ("通知.pdf", samples.make_pdf("入伙通知", ["请于十二月前办理入伙手续。"]))])
    # As if filed before this release: no job, and the pages without text never counted.
    db.session.query(Job).delete()
    for document in (mixed, text_only):
        document.files[0].textless_pages = None
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["ocr", "--pending"])
    assert result.exit_code == 0, result.output
    assert "待识别 1 个文件（其中 1 个为早先归档" in result.output and "完成 1 个" in result.output
    db.session.expire_all()
    stored = db.session.get(StoredFile, mixed.files[0].id)
    assert (stored.textless_pages, stored.jobs[-1].total_pages) == (1, 1)  # the scan only
    assert "翠湖苑开发" in stored.text and "扫描件）第1页" in stored.text
    assert stored.text_source == "ocr"
    plain = db.session.get(StoredFile, text_only.files[0].id)
    assert (plain.textless_pages, plain.jobs, plain.text_source) == (0, [], "")

    # Counted once: a second run reads no PDF again and finds nothing to do.
    again = app.test_cli_runner().invoke(args=["ocr", "--pending"])
    assert again.exit_code == 0 and "待识别 0 个文件" in again.output


def test_a_pdf_filed_now_has_its_pages_without_text_counted(app, file_doc, make_customer,
                                                            make_dossier):
    document = file_doc(make_dossier(make_customer()), "合同", "签约", files=[("合同.pdf", mixed_pdf())])
    assert document.files[0].textless_pages == 1
    assert db.session.query(Job).count() == 1


def test_ocr_pending_leaves_withdrawn_and_destroyed_files_alone(app, users, file_doc,
                                                                make_customer, make_dossier):
    from archive.services import withdrawal, work

    dossier = make_dossier(make_customer())
    withdrawn = file_doc(dossier, "重复归档的合同", "签约", files=[("合同.pdf", mixed_pdf())])
    scan = file_doc(dossier, "重复的扫描件", "签约", files=[("扫描.pdf", sample_pdfs.scan_pdf(1))])
    with work.unit(db.session):
        for document in (withdrawn, scan):
            withdrawal.withdraw_document(db.session, users["officer"], document.id,
                                         {"reason": "重复归档"})
    # As if filed before this release: no job, the pages without text never counted.
    db.session.query(Job).delete()
    db.session.get(StoredFile, withdrawn.files[0].id).textless_pages = None
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["ocr", "--pending"])
    assert result.exit_code == 0, result.output
    assert "待识别 0 个文件" in result.output
    assert db.session.query(Job).count() == 0
