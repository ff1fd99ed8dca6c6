"""A PDF whose text could not be read says why in Chinese, not in its parser's English,
and scans without a text layer are listed on the dashboard (issue 18)."""

import re

import pytest

from archive.services.extraction import pdf
from tests.sample_pdfs import scan_pdf

DAMAGED = [
    b"%PDF-1.4\nthis is not a pdf at all",
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    b"%PDF-1.4\n" + b"x" * 5000,
    b"%PDF-1.7\n" + bytes(range(256)) * 40,
]


def _english(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{2,}", text.replace("PDF", ""))


@pytest.mark.parametrize("data", DAMAGED)
def test_a_damaged_pdf_gives_its_reason_in_chinese(data):
    result = pdf.read(data)
    assert result.status == "failed" and result.error.startswith("PDF 文件已损坏或不完整")
    assert _english(result.error) == [], result.error


def test_the_reasons_name_what_is_wrong():
    assert pdf.damage(Exception("EOF marker not found")) == "缺少文件结束标记，文件可能未传完整"
    assert pdf.damage(Exception("startxref not found")) == "找不到交叉引用表"
    assert pdf.damage(Exception("some new pypdf complaint")) == "文件结构无法解析"


def test_the_document_page_shows_the_chinese_reason(login_as, make_customer, make_dossier,
                                                    file_doc):
    document = file_doc(make_dossier(make_customer()), "损坏的合同", "签约",
                        files=[("合同.pdf", DAMAGED[3])])
    assert document.files[0].text_status == "failed"
    page = login_as("officer").get(f"/documents/{document.id}").get_data(as_text=True)
    assert "PDF 文件已损坏或不完整（" in page and "），未提取文字" in page
    assert "Stream has ended" not in page and "EOF marker" not in page


def test_scans_without_a_text_layer_are_listed_on_the_dashboard(login_as, make_customer,
                                                                make_dossier, file_doc):
    scan = file_doc(make_dossier(make_customer()), "签字页扫描件", "签约",
                    files=[("扫描件.pdf", scan_pdf(1))])
    assert scan.files[0].text_status == "empty"
    page = login_as("officer").get("/").get_data(as_text=True)
    section = page.split('id="scans-without-text"')[1].split("</section>")[0]
    assert "签字页扫描件" in section
    other = login_as("service").get("/").get_data(as_text=True)  # another department's file
    assert "签字页扫描件" not in other
