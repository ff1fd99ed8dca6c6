"""PDFs from many producers, and the damage uploads bring.

Every file ends one of three ways: filed with its text (Chinese as written, and
findable), filed and flagged 未提取文字 with the reason (damaged or unreadable, but kept),
or refused with a Chinese error code and nothing stored. Nothing raises, nothing hangs.
"""

import io
import time

import pytest
from pypdf import PdfReader

from archive import samples
from archive.services import finder
from archive.services.errors import Invalid
from archive.services.extraction import extract, pagetree, pdf
from archive.services.filetypes import inspect
from tests import hostile_files, sample_pdfs
from tests.conftest import archive_state

LIMITS = {"max_bytes": 20 * 2**20, "max_docx_uncompressed": 200 * 2**20}
CONTRACT = sample_pdfs.CONTRACT
CUT_OFF = "PDF 文件不完整（可能上传或下载中断）"
NO_TEXT_LAYER = "PDF 没有文字层（可能是扫描件），未提取到文字"


def read(data: bytes, name: str = "合同.pdf"):
    return extract(data, inspect(data, name, **LIMITS))


def compact(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def fpdf_contract():
    return samples.make_pdf("房地产买卖合同", [CONTRACT])


CHROMIUM_CONTRACT = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>房地产买卖合同</title></head><body style="font-family: 'Noto Sans CJK SC'">
<h1>房地产买卖合同</h1><p>{CONTRACT}</p>
<h2>第二章 付款</h2><p>{sample_pdfs.RADICAL_PRONE}</p>
<p style="font-family: 'Noto Serif CJK SC'">買受人逾期付款超過三十日的，出賣人有權解除合同。</p>
<table border="1"><tr><td>房号</td><td>业主</td></tr><tr><td>翠湖苑3栋2单元1201</td><td>张伟</td></tr></table>
</body></html>"""
CHROMIUM_LONG = "<!doctype html><meta charset='utf-8'><body>" + "".join(
    f"<h2>第{n}条</h2><p>{CONTRACT}</p><p style='page-break-after: always'>维修记录第{n}页。</p>"
    for n in range(1, 6)) + "</body>"


@pytest.fixture(scope="session")
def chromium():
    """PDFs printed by headless Chromium, made once per test session (a browser start)."""
    return sample_pdfs.chromium_pdfs({"contract": CHROMIUM_CONTRACT, "long": CHROMIUM_LONG})


# ---- producers: filed with their text --------------------------------------------------


def test_chromium_print_gives_the_chinese_as_written_not_radical_look_alikes(chromium):
    result = read(chromium["contract"])
    assert (result.status, result.pages, result.error) == ("ok", 1, None)
    assert compact(CONTRACT) in compact(result.text)
    # Chromium's ToUnicode maps name 长 as ⻓ (U+2ED3), 方 as ⽅ (U+2F45) and so on.
    assert sample_pdfs.RADICAL_PRONE in compact(result.text)
    assert not [ch for ch in result.text if 0x2E80 <= ord(ch) <= 0x2FDF]
    assert "買受人逾期付款超過三十日的" in result.text and "房号 业主" in result.text


def test_chromium_pdf_keeps_every_page_and_its_outline(chromium):
    reader = PdfReader(io.BytesIO(chromium["long"]))
    assert len(reader.pages) == 5 and [item["/Title"] for item in reader.outline][:2] == ["第1条", "第2条"]
    result = read(chromium["long"])
    assert (result.status, result.pages) == ("ok", 5)
    # Digits come from another font: pypdf puts spaces around them ("第 1 页"), which
    # search ignores.
    assert all(f"维修记录第{n}页" in compact(result.text) for n in range(1, 6))


def test_chromium_pdf_is_filed_and_found_by_its_chinese_text(session, users, chromium,
                                                            make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), "合同打印件", "签约",
                        files=[("合同.pdf", chromium["contract"])])
    stored = document.files[0]
    assert (stored.text_status, stored.text_error, stored.pages) == ("ok", None, 1)
    for query in ("长门见车马", "甲方", "翠湖苑3栋2单元1201"):
        _, result, _ = finder.search(session, users["officer"], {"q": query})
        assert [hit.document_id for hit in result.hits] == [document.id], query


@pytest.mark.parametrize("maker", [
    pytest.param(lambda: sample_pdfs.predefined_cmap_pdf(CONTRACT, "GBK-EUC-H"), id="STSong GBK-EUC-H"),
    pytest.param(lambda: sample_pdfs.predefined_cmap_pdf(CONTRACT, "GB-EUC-H"), id="STSong GB-EUC-H"),
    pytest.param(lambda: sample_pdfs.predefined_cmap_pdf(CONTRACT, "UniGB-UCS2-H"), id="STSong UniGB-UCS2-H"),
    pytest.param(lambda: sample_pdfs.predefined_cmap_pdf(CONTRACT, "UniGB-UTF16-H"), id="STSong UniGB-UTF16-H"),
    pytest.param(lambda: sample_pdfs.identity_font_pdf(CONTRACT), id="CID Identity-H with ToUnicode"),
    pytest.param(lambda: sample_pdfs.object_stream_pdf(CONTRACT), id="object stream + xref stream"),
    pytest.param(lambda: sample_pdfs.linearized_pdf(CONTRACT), id="linearized"),
    pytest.param(lambda: sample_pdfs.pdfa_pdf("房地产买卖合同", CONTRACT), id="PDF/A-2B"),
])
def test_chinese_text_comes_out_whatever_the_font_encoding_and_file_structure(maker):
    result = read(maker())
    assert (result.status, result.pages, result.error) == ("ok", 1, None)
    assert compact(CONTRACT) in compact(result.text)


def test_big5_text_in_a_traditional_chinese_cmap():
    result = read(sample_pdfs.predefined_cmap_pdf("買受人逾期付款", "ETen-B5-H"))
    assert (result.status, result.text) == ("ok", "買受人逾期付款")


def test_incremental_update_gives_the_current_revision_only():
    data, before, after = sample_pdfs.revised_contract()
    assert data.count(b"%%EOF") == 2 and b"/Prev" in data
    result = read(data)
    assert (result.status, result.pages, result.text) == ("ok", 1, after)
    assert before not in result.text


def test_bookmarks_do_not_change_the_text(fpdf_contract):
    plain = read(fpdf_contract)
    result = read(sample_pdfs.with_outline(fpdf_contract, ["第一章 总则", "第一节 定义"]))
    assert (result.status, result.pages, result.text) == ("ok", 1, plain.text)


def test_a_form_without_page_content_gives_its_filled_in_values():
    data = sample_pdfs.form_only_pdf({"客户姓名": "李娜", "房号": "锦绣花园2栋1单元302"})
    result = read(data)
    assert (result.status, result.pages) == ("ok", 1)
    # Text fields and the chosen list entry; a checkbox's state name is not text.
    assert result.text.splitlines() == ["付款方式：按揭", "客户姓名：李娜", "房号：锦绣花园2栋1单元302"]


# ---- scans: filed, no text layer ---------------------------------------------------------


@pytest.mark.parametrize("maker, pages", [
    pytest.param(lambda: sample_pdfs.scan_pdf(3), 3, id="JPEG (Pillow)"),
    pytest.param(lambda: sample_pdfs.scan_pdf(2, bilevel=True), 2, id="CCITT G4 (Pillow)"),
    pytest.param(sample_pdfs.jbig2_scan_pdf, 1, id="JBIG2, never decoded"),
    pytest.param(lambda: hostile_files.make_scan_pdf(2), 2, id="JPEG (fpdf2)"),
])
def test_scans_are_empty_with_their_page_count(maker, pages):
    result = read(maker())
    assert (result.status, result.pages, result.text, result.error) == ("empty", pages, "", NO_TEXT_LAYER)


def test_a_bilevel_scan_really_is_ccitt_encoded():
    image = PdfReader(io.BytesIO(sample_pdfs.scan_pdf(1, bilevel=True))).pages[0]["/Resources"]["/XObject"]
    assert next(iter(image.values())).get_object()["/Filter"] == ["/CCITTFaxDecode"]


# ---- encryption: readable without a password is filed, a password is refused ------------

ALGORITHMS = ["RC4-40", "RC4-128", "AES-128", "AES-256-R5", "AES-256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_owner_password_only_is_read_like_any_pdf(fpdf_contract, algorithm):
    """It opens without asking (it only forbids printing or editing): refusing it would
    make users strip the protection before filing, for nothing."""
    result = read(sample_pdfs.encrypted(fpdf_contract, algorithm))
    assert (result.status, result.pages, result.error) == ("ok", 1, None)
    assert compact(CONTRACT) in compact(result.text)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_user_password_is_refused_and_nothing_is_stored(app, fpdf_contract, make_customer,
                                                        make_dossier, file_doc, algorithm):
    dossier = make_dossier(make_customer())
    locked = sample_pdfs.encrypted(fpdf_contract, algorithm, user_password="1234")
    before = archive_state(app)
    with pytest.raises(Invalid) as caught:
        file_doc(dossier, "加密合同", "签约", files=[("合同.pdf", locked)])
    assert caught.value.code == "encrypted_pdf" and "加密" in caught.value.message
    assert archive_state(app) == before


def test_owner_password_only_pdf_is_filed_with_its_text(fpdf_contract, make_customer, make_dossier,
                                                        file_doc):
    protected = sample_pdfs.encrypted(fpdf_contract, "AES-256")
    stored = file_doc(make_dossier(make_customer()), files=[("合同.pdf", protected)]).files[0]
    assert (stored.text_status, stored.pages) == ("ok", 1) and "张伟" in stored.text


# ---- damage: kept, flagged with the reason ---------------------------------------------


@pytest.mark.parametrize("damage", [
    pytest.param(sample_pdfs.with_junk_before_header, id="junk before the header"),
    pytest.param(sample_pdfs.with_bad_startxref, id="startxref points past the end"),
])
def test_damage_pypdf_repairs_leaves_a_complete_reading(fpdf_contract, damage):
    result = read(damage(fpdf_contract))
    assert (result.status, result.pages, result.error) == ("ok", 1, None)
    assert compact(CONTRACT) in compact(result.text)


@pytest.mark.parametrize("damage", [
    pytest.param(sample_pdfs.without_trailer, id="xref, trailer and startxref lost"),
    pytest.param(sample_pdfs.with_junk_after_end, id="junk with its own %%EOF appended"),
])
def test_a_pdf_with_a_broken_structure_is_repaired_by_pdfium_and_flagged(fpdf_contract, damage):
    # PDFium rebuilds the cross-reference table and follows the file's own page tree, so
    # its page count is the document's (tests/services/test_pdf_fallback.py).
    result = read(damage(fpdf_contract))
    assert (result.status, result.pages) == ("ok", 1)
    assert result.error == "PDF 文件结构已损坏，已由备用阅读器 PDFium 修复读取"
    assert compact(CONTRACT) in compact(result.text)


def test_a_pdf_no_reader_can_follow_is_rebuilt_and_flagged():
    result = read(sample_pdfs.missing_page_tree(sample_pdfs.identity_font_pdf()))
    assert (result.status, result.pages) == ("ok", None)  # the page count is not trusted
    assert result.error == "PDF 文件结构已损坏，仅提取到可读取部分的文字"
    assert compact(CONTRACT) in compact(result.text)


@pytest.mark.parametrize("producer", ["fpdf2", "chromium", "object stream", "linearized"])
@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.9, 0.99])
def test_a_cut_off_pdf_is_flagged_and_never_gives_garbled_text(chromium, fpdf_contract, producer, fraction):
    data = {"fpdf2": fpdf_contract, "chromium": chromium["contract"],
            "object stream": sample_pdfs.object_stream_pdf(), "linearized": sample_pdfs.linearized_pdf()}[producer]
    whole = compact(read(data).text)
    result = read(hostile_files.truncate(data, fraction))
    assert result.pages is None and result.status in ("ok", "failed")
    assert result.error.startswith(CUT_OFF if result.status == "ok" else ("PDF 文件不完整", "PDF 文件已损坏或不完整"))
    assert all(compact(line) in whole for line in result.text.splitlines())  # partial, never garbled


def test_a_cut_off_pdf_is_filed_and_flagged_unread(app, make_customer, make_dossier, file_doc, fpdf_contract):
    document = file_doc(make_dossier(make_customer()), "残缺合同", "签约",
                        files=[("合同.pdf", hostile_files.truncate(fpdf_contract, 0.5))])
    stored = document.files[0]
    assert (stored.text_status, stored.text, stored.pages) == ("failed", "", None)
    assert stored.text_error == f"{CUT_OFF}，未能读取到文字"
    assert document.text_problems == [stored]  # shown as 未提取文字 with this reason
    assert len(archive_state(app)["blobs"]) == 1


def test_text_from_a_font_without_a_unicode_map_is_not_made_up():
    """Glyph numbers read as UTF-16 give letters from any script (૾એஷୈ...): left out, and said."""
    result = read(sample_pdfs.identity_font_pdf(CONTRACT, to_unicode=False, first_glyph=2000))
    assert (result.status, result.pages) == ("ok", 1)
    assert compact(result.text) == "ContractHT-2024-0031"
    assert result.error == "第 1 页的部分字体缺少 Unicode 映射，其文字无法识别"


def test_zero_length_streams_are_an_empty_page():
    result = read(sample_pdfs.zero_length_streams_pdf())
    assert (result.status, result.pages, result.error) == ("empty", 1, NO_TEXT_LAYER)


# ---- hostile files: bounded in time, never raising -----------------------------------------


@pytest.mark.parametrize("maker, status, error", [
    pytest.param(sample_pdfs.page_tree_cycle, "failed", "PDF 文件结构已损坏，未能读取到文字", id="page tree cycle"),
    pytest.param(sample_pdfs.page_tree_bomb, "failed", "PDF 页数过多（共 64000000 页，超过 5000 页的上限），未提取文字",
                 id="page tree bomb"),
    pytest.param(sample_pdfs.nested_array_bomb, "empty", NO_TEXT_LAYER, id="nested arrays"),
    pytest.param(sample_pdfs.heavy_page_pdf, "failed", "第 1 页图形过于复杂，未提取文字", id="huge content"),
    pytest.param(lambda: sample_pdfs.heavy_page_pdf(in_form=True), "failed", "第 1 页图形过于复杂，未提取文字",
                 id="huge form XObject"),
])
def test_hostile_structures_end_quickly_with_a_reason(maker, status, error):
    data = maker()
    started = time.perf_counter()
    result = read(data)
    assert time.perf_counter() - started < 10  # each < 0.1 s (the page tree bomb took 2 s before its /Count was read)
    assert (result.status, result.text, result.error) == (status, "", error)


def test_a_form_xobject_drawing_itself_is_read_once():
    result = read(sample_pdfs.form_xobject_loop())
    assert (result.status, compact(result.text)) == ("ok", "Loop")


def test_two_thousand_pages_are_counted_quickly():
    data = sample_pdfs.blank_pages(2000)
    started = time.perf_counter()
    result = read(data)
    assert time.perf_counter() - started < 3  # measured ~0.2 s
    assert (result.status, result.pages) == ("empty", 2000)


def shared_page_tree(width: int, depth: int, *, honest: bool = True) -> bytes:
    """width**depth pages of contract text, a few kilobytes: each /Pages node lists the
    node below it `width` times, the last lists one page (and its one content stream).
    Not `honest`: every node claims /Count 1."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for level in range(depth):
        kids = b" ".join([b"%d 0 R" % (level + 3)] * width)
        count = width ** (depth - level) if honest else 1
        objects[level + 2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    page, content, font = depth + 2, depth + 3, depth + 4
    objects[page] = (b"<< /Type /Page /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >>"
                     b" /Contents %d 0 R >>" % (font, content))
    objects[content] = sample_pdfs.stream(b"BT /F1 12 Tf 72 760 Td (HT-2024-0031) Tj ET")
    objects[font] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    return sample_pdfs.assemble(objects)


@pytest.mark.parametrize("honest, error", [
    (True, "PDF 页数过多（共 97336 页，超过 5000 页的上限），未提取文字"),
    (False, "PDF 页数过多（超过 5000 页的上限），未提取文字"),  # /Count 1: the walk stops past 5 000
])
def test_a_hundred_thousand_pages_are_kept_unread_without_opening_the_page_tree(honest, error):
    data = shared_page_tree(46, 3, honest=honest)  # 97 336 pages, under pypdf's own limit
    assert len(data) < 4096
    started = time.perf_counter()
    result = read(data)
    # Opening the tree took 1.5 s and the pages filled the whole 15 s budget.
    assert time.perf_counter() - started < 3  # measured 0.01 s (0.2 s for the walk)
    assert (result.status, result.pages, result.text, result.error) == ("failed", None, "", error)


def test_the_page_limit_itself_is_read():
    data = sample_pdfs.blank_pages(pagetree.MAX_PAGES)
    result = read(data)
    assert (result.status, result.pages) == ("empty", pagetree.MAX_PAGES)
    with pytest.raises(pagetree.TooManyPages):
        pagetree.require_at_most(PdfReader(io.BytesIO(data)), pagetree.MAX_PAGES - 1)


def test_reading_stops_at_the_time_budget_and_says_which_pages_were_left(monkeypatch):
    data = sample_pdfs.text_pages_pdf(pages=200, operators_per_page=100)  # ~10 ms a page
    monkeypatch.setattr(pdf, "TIME_BUDGET_SECONDS", 0.3)
    started = time.perf_counter()
    result = read(data)
    assert time.perf_counter() - started < 2
    assert (result.status, result.pages) == ("ok", 200)
    read_pages = result.text.count("HT-2024-0031") // 100
    assert 0 < read_pages < 200
    assert result.error == f"提取文字超过 0.3 秒，第 {read_pages + 1}–200 页未提取"


def test_a_page_that_alone_outlasts_the_budget_is_cut_off_inside(monkeypatch):
    monkeypatch.setattr(pdf, "TIME_BUDGET_SECONDS", 0.05)
    result = read(sample_pdfs.text_pages_pdf(pages=1, operators_per_page=10_000))
    assert (result.status, result.text) == ("failed", "")
    assert result.error == "提取文字超过 0.05 秒，第 1 页未提取"


# ---- the samples are what they claim ----------------------------------------------------


def test_structural_samples_have_the_structure_they_name():
    packed = sample_pdfs.object_stream_pdf()
    assert b"/Type /ObjStm" in packed and b"/Type /XRef" in packed and b"\nxref\n" not in packed
    linear = sample_pdfs.linearized_pdf()
    assert linear.index(b"/Linearized 1") < 40 and linear.count(b"\nxref\n") == 2
    assert int(linear.split(b"/L ")[1][:10]) == len(linear)
    assert read(sample_pdfs.with_junk_before_header(packed)).status == "ok"
