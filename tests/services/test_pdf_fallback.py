"""PDFs whose page tree pypdf cannot follow are read by the second reader (PDFium):
every page counted, the text found, the file flagged as repaired (issue 20)."""

import pytest

from archive.services import finder
from archive.services.extraction import pdf, pdfium
from tests import sample_pdfs

TEXTS = ("房地产买卖合同第一页", "付款方式第二页", "交付条件第三页")


@pytest.mark.parametrize("damage", ["reference", "open kids"])
def test_an_invalid_page_tree_is_read_whole_by_pdfium_and_flagged(damage):
    data = sample_pdfs.invalid_page_tree(damage, TEXTS)
    result = pdf.read(data)
    assert (result.status, result.pages, result.error) == ("ok", 3, pdfium.REPAIRED)
    assert result.text.split() == list(TEXTS)


@pytest.mark.parametrize("damage", ["reference", "open kids"])
def test_the_invalid_page_tree_fixtures_are_ones_pypdf_cannot_follow(damage):
    from pypdf import PdfReader

    reader = PdfReader(_bytes_io(sample_pdfs.invalid_page_tree(damage)), strict=False)
    try:
        pages = len(reader.pages)
    except Exception:  # noqa: BLE001 - pypdf's own words vary with the damage
        pages = None
    assert pages in (None, 0)


def test_an_invalid_page_tree_pdf_is_filed_with_its_pages_and_found(session, make_customer, make_dossier,
                                                                    file_doc, users):
    dossier = make_dossier(make_customer())
    document = file_doc(dossier, "购房合同", "签约",
                        files=[("合同.pdf", sample_pdfs.invalid_page_tree("open kids", TEXTS))])
    stored = document.files[0]
    assert (document.pages, stored.pages, stored.text_status) == (3, 3, "ok")
    assert stored.text_error == pdfium.REPAIRED
    _, found, _ = finder.search(session, users["officer"], {"q": "交付条件"})
    assert [hit.document_id for hit in found.hits] == [document.id]


def test_a_scan_pdfium_repairs_is_empty_and_waits_for_ocr():
    scan = sample_pdfs.scan_pdf(2)
    closing = scan.index(b"]", scan.index(b"/Kids ["))
    damaged = scan[:closing] + b" " + scan[closing + 1:]  # the /Kids array left open
    result = pdf.read(damaged)
    assert (result.status, result.pages) == ("empty", 2)
    assert result.error.startswith(pdfium.REPAIRED)


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)
