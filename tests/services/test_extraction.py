"""Text and pages from real files; a damaged file is reported, never lost."""

import io
import random
import time

import docx
import pytest
from docx.oxml import parse_xml
from pypdf import PdfReader, PdfWriter

from archive import samples
from archive.services.extraction import MAX_TEXT_CHARS, extract
from archive.services.filetypes import inspect
from tests import hostile_files

LIMITS = {"max_bytes": 20 * 2**20, "max_docx_uncompressed": 200 * 2**20}


def read(data: bytes, name: str):
    return extract(data, inspect(data, name, **LIMITS))


def compact(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def long_contract():
    paragraphs = samples.chinese_paragraphs("签约", random.Random(11), 30, customer="张伟",
                                            room="翠湖苑3栋2单元1201", contract_no="HT-2024-0031")
    return paragraphs, samples.make_pdf("房地产买卖合同", paragraphs)


# ---- PDF ---------------------------------------------------------------------------


def test_pdf_gives_its_chinese_text_and_page_count(long_contract):
    paragraphs, data = long_contract
    result = read(data, "合同.pdf")
    assert (result.status, result.error) == ("ok", None)
    assert result.pages == len(PdfReader(io.BytesIO(data)).pages) > 1
    assert "房地产买卖合同" in result.text
    assert "HT-2024-0031" in result.text and "翠湖苑3栋2单元1201" in compact(result.text)
    assert compact(paragraphs[-1]) in compact(result.text)  # the last page too
    assert "\x00" not in result.text


def test_scan_without_text_layer_is_empty_with_its_pages():
    result = read(hostile_files.make_scan_pdf(pages=2), "扫描件.pdf")
    assert (result.status, result.pages, result.text) == ("empty", 2, "")
    assert "扫描件" in result.error


def test_owner_password_only_pdf_gives_its_text():
    result = read(hostile_files.make_owner_only_encrypted_pdf(), "合同.pdf")
    assert result.status == "ok" and "张伟" in result.text


def test_filled_form_fields_are_part_of_the_text():
    result = read(hostile_files.make_form_pdf({"客户姓名": "李娜", "房号": "锦绣花园2栋1单元302"}), "登记表.pdf")
    assert result.status == "ok"
    assert "客户姓名：李娜" in result.text and "房号：锦绣花园2栋1单元302" in result.text


def test_pdf_cut_in_half_is_failed_with_a_reason_and_no_garbage(long_contract):
    result = read(hostile_files.truncate(long_contract[1], 0.5), "合同.pdf")
    assert (result.status, result.pages, result.text) == ("failed", None, "")
    assert "不完整" in result.error


def test_pdf_that_lost_only_its_xref_and_trailer_keeps_all_its_text(long_contract):
    paragraphs, data = long_contract
    cut = data[: data.rindex(b"xref")]
    result = read(cut, "合同.pdf")
    assert result.status == "ok"
    assert result.pages is None  # unknown for a cut-off file, rather than a guess
    assert "不完整" in result.error
    assert compact(paragraphs[0]) in compact(result.text)
    assert compact(paragraphs[-1]) in compact(result.text)


def test_cut_off_pdf_reads_the_pages_whose_fonts_survived_and_no_others(long_contract):
    data = long_contract[1]
    # Re-saved by pypdf, each page's font follows it: the cut keeps the first pages whole.
    out = io.BytesIO()
    PdfWriter(clone_from=PdfReader(io.BytesIO(data))).write(out)
    resaved = out.getvalue()
    full = read(resaved, "合同.pdf").text
    last_page = resaved.rindex(b"/Type /Page\n")
    result = read(resaved[:last_page], "合同.pdf")
    assert result.status == "ok" and "不完整" in result.error
    assert 0 < len(result.text) < len(full)
    assert all(line in full for line in result.text.splitlines())  # partial, never garbled


def test_junk_after_the_end_of_a_pdf_does_not_make_it_cut_off(long_contract):
    result = read(long_contract[1] + b"\x00" * 5000, "合同.pdf")
    assert (result.status, result.error) == ("ok", None) and result.pages > 1


def test_garbage_after_a_pdf_header_fails_without_raising():
    result = read(b"%PDF-1.7\n" + bytes(range(256)) * 40, "合同.pdf")
    assert result.status == "failed" and result.error.startswith("PDF 文件已损坏")


# ---- DOCX --------------------------------------------------------------------------


def test_docx_gives_paragraphs_table_header_and_footer_and_stored_pages():
    data = samples.make_docx(
        "入伙通知书", ["请于三十日内办理入伙手续。"],
        table=[["房号", "业主"], ["翠湖苑3栋2单元1201", "张伟"]],
        header="翠湖苑物业服务中心", footer="第1页 共1页",
    )
    result = read(data, "入伙通知书.docx")
    assert result.status == "ok" and result.pages == 1
    lines = result.text.splitlines()
    assert lines[:4] == ["入伙通知书", "请于三十日内办理入伙手续。", "房号\t业主", "翠湖苑3栋2单元1201\t张伟"]
    assert "翠湖苑物业服务中心" in lines and "第1页 共1页" in lines


def test_docx_nested_tables_text_boxes_and_content_controls_are_read_once():
    document = docx.Document()
    outer = document.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "维修项目"
    outer.cell(0, 1).add_table(rows=1, cols=1).cell(0, 0).text = "卫生间防水"
    paragraph = document.add_paragraph("正文")
    paragraph._p.append(parse_xml(TEXT_BOX_RUN))
    document.element.body.insert(0, parse_xml(CONTENT_CONTROL))
    out = io.BytesIO()
    document.save(out)
    text = read(out.getvalue(), "维修.docx").text
    assert "维修项目" in text and "卫生间防水" in text
    assert text.count("文本框里的备注") == 1
    assert "客户签名：王芳" in text


def test_docx_pages_come_from_app_xml_estimate():
    paragraphs = samples.chinese_paragraphs("签约", random.Random(3), 40)
    result = read(samples.make_docx("合同", paragraphs), "合同.docx")
    assert result.pages and result.pages > 1


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
TEXT_BOX_RUN = f"""
<w:r {W} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
     xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
     xmlns:v="urn:schemas-microsoft-com:vml">
  <mc:AlternateContent>
    <mc:Choice Requires="wps"><wps:txbx><w:txbxContent>
      <w:p><w:r><w:t>文本框里的备注</w:t></w:r></w:p>
    </w:txbxContent></wps:txbx></mc:Choice>
    <mc:Fallback><v:textbox><w:txbxContent>
      <w:p><w:r><w:t>文本框里的备注</w:t></w:r></w:p>
    </w:txbxContent></v:textbox></mc:Fallback>
  </mc:AlternateContent>
</w:r>"""
CONTENT_CONTROL = f"""
<w:sdt {W}><w:sdtContent><w:p><w:r><w:t>客户签名：王芳</w:t></w:r></w:p></w:sdtContent></w:sdt>"""


# ---- text, images, recordings ------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_plain_text_is_decoded(encoding):
    result = read("来电记录：业主张伟反映漏水。\n".encode(encoding), "来电.txt")
    assert (result.text, result.pages, result.status) == ("来电记录：业主张伟反映漏水。\n", None, "ok")


@pytest.mark.parametrize("text,encoding", [
    ("檔案管理規範：維修記錄須於每月十日前移交總經理辦公室。\n", "big5"),
    ("档案管理规范：维修记录须于每月十日前移交总经理办公室。\n", "gbk"),
])
def test_legacy_chinese_encodings_are_told_apart(text, encoding):
    assert read(text.encode(encoding), "规范.txt").text == text


def test_huge_text_is_capped_with_a_note():
    result = read(("漏水" * 1000 + "\n").encode() * 3000, "日志.txt")
    assert len(result.text) == MAX_TEXT_CHARS and result.status == "ok" and result.error


@pytest.mark.parametrize("maker, name, pages", [
    (samples.make_jpeg, "现场.jpg", 1),
    (samples.make_png, "现场.png", 1),
    (lambda: samples.make_tiff(frames=3), "扫描.tif", 3),
    (samples.make_wav, "录音.wav", None),
    (samples.make_mp4, "录像.mp4", None),
])
def test_images_and_recordings_are_skipped(maker, name, pages):
    result = read(maker(), name)
    assert (result.status, result.text, result.pages, result.error) == ("skipped", "", pages, None)


def test_extracting_a_one_page_pdf_is_fast():
    data = samples.make_pdf("维修记录", samples.chinese_paragraphs("维修", random.Random(1), 4))
    ftype = inspect(data, "维修记录.pdf", **LIMITS)
    extract(data, ftype)
    started = time.perf_counter()
    for _ in range(5):
        extract(data, ftype)
    assert (time.perf_counter() - started) / 5 < 0.25  # measured ~15 ms; generous for CI
