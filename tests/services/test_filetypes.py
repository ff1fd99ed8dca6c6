"""Upload intake: the type comes from the content, and every refusal has its own code."""

import io
import time
import tracemalloc
import zipfile

import pytest
from PIL import Image

from archive import samples
from archive.services import filetypes
from archive.services.errors import Invalid, TooLarge, UnsupportedType
from archive.services.filetypes import inspect, safe_filename
from tests import hostile_files, sample_images

LIMITS = {"max_bytes": 2 * 2**20, "max_docx_uncompressed": 20 * 2**20}
OLE_DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def check(data: bytes, name: str, **limits):
    return inspect(data, name, **{**LIMITS, **limits})


def refused(error: type, code: str, data: bytes, name: str, **limits):
    with pytest.raises(error) as caught:
        check(data, name, **limits)
    assert caught.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)  # said in Chinese
    return caught.value


def plain_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return out.getvalue()


@pytest.fixture(scope="module")
def contract_pdf():
    return samples.make_pdf("房地产买卖合同", ["甲方：翠湖苑开发有限公司。乙方：张伟。"])


@pytest.fixture(scope="module")
def contract_docx():
    return samples.make_docx("认购书", ["客户认购翠湖苑3栋2单元1201。"])


# ---- accepted, by content ----------------------------------------------------------


def test_pdf_docx_and_photos_are_recognised_with_their_carrier(contract_pdf, contract_docx):
    found = {
        name: check(data, name)
        for name, data in [
            ("合同.pdf", contract_pdf), ("认购书.docx", contract_docx), ("现场.jpg", samples.make_jpeg()),
            ("现场.jpeg", samples.make_jpeg()), ("裂缝.png", samples.make_png()),
            ("扫描.tif", samples.make_tiff()), ("扫描.tiff", samples.make_tiff()),
        ]
    }
    assert {n: (t.kind, t.mime, t.extension, t.carrier) for n, t in found.items()} == {
        "合同.pdf": ("pdf", "application/pdf", ".pdf", "电子"),
        "认购书.docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     ".docx", "电子"),
        "现场.jpg": ("jpeg", "image/jpeg", ".jpg", "照片"),
        "现场.jpeg": ("jpeg", "image/jpeg", ".jpg", "照片"),
        "裂缝.png": ("png", "image/png", ".png", "照片"),
        "扫描.tif": ("tiff", "image/tiff", ".tif", "照片"),
        "扫描.tiff": ("tiff", "image/tiff", ".tif", "照片"),
    }


@pytest.mark.parametrize("data, name, kind, mime", [
    (samples.make_wav(), "通话录音.wav", "audio", "audio/wav"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400), "录音.mp3", "audio", "audio/mpeg"),
    (b"\xff\xfb\x90\x64" + bytes(400), "录音.mp3", "audio", "audio/mpeg"),
    (b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(200), "录音.aac", "audio", "audio/aac"),
    (samples.make_mp4(b"M4A "), "语音备忘录.m4a", "audio", "audio/mp4"),
    (b"#!AMR\n" + bytes(64), "电话录音.amr", "audio", "audio/amr"),
    (b"OggS\x00\x02" + bytes(64), "录音.ogg", "audio", "audio/ogg"),
    (b"fLaC\x00\x00\x00\x22" + bytes(64), "录音.flac", "audio", "audio/flac"),
    (samples.make_mp4(), "验房录像.mp4", "video", "video/mp4"),
    (samples.make_mp4(b"qt  "), "验房.mov", "video", "video/quicktime"),
    (samples.make_mp4(b"3gp4"), "手机录像.3gp", "video", "video/3gpp"),
    (b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(64), "监控.avi", "video", "video/x-msvideo"),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01" + bytes(64), "会议.mkv", "video", "video/x-matroska"),
])
def test_recordings_are_recognised_by_their_magic_bytes(data, name, kind, mime):
    found = check(data, name)
    assert (found.kind, found.mime) == (kind, mime)
    assert found.carrier == {"audio": "录音", "video": "录像"}[kind]


@pytest.mark.parametrize("text, encoding", [
    ("客户来电记录：翠湖苑3栋2单元1201 报修漏水。\n", "utf-8"),
    ("客户来电记录：报修漏水。\n", "utf-8-sig"),
    ("客户来电记录：报修漏水，已派维修技工上门。\r\n", "gb18030"),
])
def test_plain_text_in_utf8_or_gb18030_is_accepted(text, encoding):
    found = check(text.encode(encoding) * 20, "来电记录.txt")
    assert (found.kind, found.mime, found.carrier) == ("txt", "text/plain", "电子")


def test_a_name_without_or_with_an_unknown_extension_lets_the_content_decide(contract_pdf):
    assert check(contract_pdf, "扫描件").kind == "pdf"
    assert check(samples.make_png(), "IMG_0001.heic").kind == "png"
    assert check(samples.make_wav(), "录音.dat").kind == "audio"


def test_an_mp3_name_on_wav_content_is_fine_since_both_are_recordings():
    found = check(samples.make_wav(), "录音.mp3")
    assert (found.kind, found.mime, found.extension) == ("audio", "audio/wav", ".wav")


def test_owner_password_only_pdf_is_accepted():
    assert check(hostile_files.make_owner_only_encrypted_pdf(), "扫描仪导出.pdf").kind == "pdf"


def test_pdf_header_after_some_junk_is_still_a_pdf(contract_pdf):
    assert check(b"\r\n" * 100 + contract_pdf, "合同.pdf").kind == "pdf"


# ---- refused -----------------------------------------------------------------------


def test_empty_file_is_refused():
    refused(Invalid, "empty_file", b"", "合同.pdf")


def test_file_over_the_limit_is_refused(contract_pdf):
    error = refused(TooLarge, "too_large", contract_pdf, "合同.pdf", max_bytes=len(contract_pdf) - 1)
    assert error.status == 413


@pytest.mark.parametrize("data, name", [
    (OLE_DOC, "旧合同.doc"),
    (plain_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}), "台账.xlsx"),
    (plain_zip({"a.txt": b"hello"}), "资料.zip"),
    (b"MZ\x90\x00" + bytes(300), "setup.exe"),
    (b"GIF89a\x01\x00\x01\x00" + bytes(40), "动图.gif"),
    (samples.make_mp4(b"heic"), "IMG_0001.heic"),  # an iPhone photo, not a video
    (bytes(range(256)) * 8, "数据.bin"),
])
def test_content_of_another_type_is_unsupported(data, name):
    error = refused(UnsupportedType, "unsupported_type", data, name)
    assert error.status == 415


def test_old_word_file_is_refused_with_advice_to_save_as_docx():
    assert ".docx" in refused(UnsupportedType, "unsupported_type", OLE_DOC, "旧合同.doc").message


@pytest.mark.parametrize("maker, name", [
    (samples.make_png, "report.pdf"),
    (lambda: samples.make_pdf("合同", ["正文"]), "photo.jpg"),
    (lambda: plain_zip({"a.txt": b"hello"}), "x.docx"),
    (lambda: OLE_DOC, "renamed.docx"),
    (samples.make_jpeg, "scan.tiff"),
    (samples.make_wav, "录像.mp4"),
    (lambda: bytes(range(256)) * 8, "notes.txt"),
])
def test_an_extension_naming_another_type_is_refused(maker, name):
    error = refused(UnsupportedType, "extension_mismatch", maker(), name)
    assert name[name.rindex("."):] in error.message


def test_percent_pdf_beyond_the_first_kilobyte_is_not_a_pdf(contract_pdf):
    refused(UnsupportedType, "extension_mismatch", b"\x00" * 2048 + contract_pdf, "合同.pdf")


def test_a_text_that_merely_mentions_the_pdf_header_is_text():
    assert check("说明：PDF 文件以 %PDF-1.7 开头。\n".encode(), "说明.txt").kind == "txt"


def test_a_text_starting_with_a_quicktime_box_name_is_still_text():
    assert check(b"I'm free to visit on Monday.\n", "note.txt").kind == "txt"


def test_password_protected_pdf_is_refused():
    error = refused(Invalid, "encrypted_pdf", hostile_files.make_encrypted_pdf("secret"), "合同.pdf")
    assert "加密" in error.message


def test_truncated_docx_is_refused_as_corrupt(contract_docx):
    refused(Invalid, "corrupt_docx", contract_docx[: len(contract_docx) // 2], "认购书.docx")


def test_docx_over_the_uncompressed_limit_is_refused_before_parsing(contract_docx):
    refused(TooLarge, "zip_bomb", contract_docx, "认购书.docx", max_docx_uncompressed=10_000)


def test_docx_member_with_an_absurd_compression_ratio_is_refused():
    bomb = plain_zip({
        "[Content_Types].xml": b"<Types/>",
        "word/document.xml": b"<w:document/>",
        "word/media/image1.bin": bytes(3 * 2**20),  # 3 MB of zeros deflate ~1000-fold
    })
    refused(TooLarge, "zip_bomb", bomb, "认购书.docx", max_docx_uncompressed=100 * 2**20)


def test_zip_bomb_is_refused_fast_without_inflating_it():
    bomb = hostile_files.make_zip_bomb_docx()
    tracemalloc.start()
    started = time.perf_counter()
    refused(TooLarge, "zip_bomb", bomb, "合同.docx", max_docx_uncompressed=2**30 * 4,
            max_bytes=len(bomb) + 1)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10 * 2**20  # the payload is 1.1 GB; nothing near it was allocated


# ---- names -------------------------------------------------------------------------


def test_safe_filename_keeps_the_original_name_stripped():
    assert safe_filename("  翠湖苑 3栋 维修记录(1).pdf \n") == "翠湖苑 3栋 维修记录(1).pdf"
    assert safe_filename("a..b.pdf") == "a..b.pdf"


@pytest.mark.parametrize("name", [
    "../x.pdf", "a/b.pdf", "a\\b.pdf", "..", ".", "/etc/passwd", "x\x00.pdf", "a\nb.pdf",
    "", "   ", "合" * 256, "invoice\u202efdp.exe",
])
def test_names_that_could_escape_or_hide_are_refused(name):
    with pytest.raises(Invalid) as caught:
        safe_filename(name)
    assert caught.value.code == "bad_filename"


def test_inspect_refuses_a_bad_name_too(contract_pdf):
    refused(Invalid, "bad_filename", contract_pdf, "../合同.pdf")


# ---- images that could never leave the archive at 秘密 --------------------------------


@pytest.mark.parametrize("width, height, message", [
    # Past twice Pillow's limit: Pillow itself refuses while the header is read.
    (20_000, 20_000, "图像尺寸过大，超过 8000 万像素的上限；请降低分辨率后重新上传"),
    (10_000, 9_000, "图像尺寸过大：10000 × 9000 像素（9000 万像素），超过 8000 万像素的上限；"
                    "请降低分辨率后重新上传"),
])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, past 89 million
def test_an_image_of_too_many_pixels_is_refused_from_its_header(width, height, message):
    png = sample_images.huge_png(width, height)
    assert len(png) < 100_000
    tracemalloc.start()
    started = time.perf_counter()
    error = refused(Invalid, "image_too_large", png, "扫描件.png")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert error.message == message and error.status == 422
    assert elapsed < 1.0 and peak < 10 * 2**20  # no pixel was decoded


def test_an_image_at_the_pixel_limit_is_accepted():
    assert filetypes.MAX_IMAGE_PIXELS == 10_000 * 8_000
    assert check(sample_images.huge_png(10_000, 8_000), "扫描件.png").kind == "png"


def test_every_page_of_a_tiff_is_measured(monkeypatch):
    first, second = Image.new("L", (100, 100), 255), Image.new("L", (300, 200), 255)
    out = io.BytesIO()
    first.save(out, "TIFF", save_all=True, append_images=[second])
    monkeypatch.setattr(filetypes, "MAX_IMAGE_PIXELS", 50_000)
    error = refused(Invalid, "image_too_large", out.getvalue(), "扫描.tif")
    assert error.message.startswith("图像尺寸过大：第 2 页300 × 200 像素")
