"""A search hit whose matching words were read by OCR is marked so in the lists (issue
20): 「OCR 识别」 with the engine's mean confidence on the search page, `ocr` in the API's
hit; a match in a text layer or in the title is not marked."""

import pytest

from archive import samples, worker
from archive.extensions import db
from tests.ocr.test_jobs import scan_png


@pytest.fixture
def contract_with_scan(app, file_doc, make_customer, make_dossier):
    """A document of two files: a PDF with a text layer first, a scanned repair slip after."""
    document = file_doc(make_dossier(make_customer()), "维修资料", "维修", files=[
        ("说明.pdf", samples.make_pdf("维修说明", ["业主已签收确认。"])),
        ("维修单.png", scan_png()),
    ])
    text_file, scan = document.files
    assert worker.run_job(app, scan.jobs[-1].id) == "done"
    db.session.expire_all()
    assert (text_file.text_source, scan.text_source) == ("", "ocr")
    return document


def test_a_hit_in_the_ocr_text_is_marked_in_the_api(call, contract_with_scan):
    scan = contract_with_scan.files[1]
    hit, = call("officer", "GET", "/api/v1/search?q=防水层").json["hits"]
    assert hit["document_id"] == contract_with_scan.id and "<mark>防水层</mark>" in hit["highlight"]
    assert hit["ocr"] == {"file_id": scan.id, "confidence": scan.ocr_confidence}
    assert scan.ocr_confidence > 0.9

    in_text_layer, = call("officer", "GET", "/api/v1/search?q=签收确认").json["hits"]
    in_title, = call("officer", "GET", "/api/v1/search?q=维修资料").json["hits"]
    assert in_text_layer["ocr"] is None and in_title["ocr"] is None


def test_a_hit_in_the_ocr_text_is_marked_on_the_search_page(login_as, contract_with_scan):
    client = login_as("officer")
    page = client.get("/search?q=防水层").get_data(as_text=True)
    confidence = f"{contract_with_scan.files[1].ocr_confidence:.2f}"
    assert f"OCR 识别 · 置信度 {confidence}" in page
    assert "OCR 识别" not in client.get("/search?q=签收确认").get_data(as_text=True)
