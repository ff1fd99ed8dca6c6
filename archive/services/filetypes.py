"""What an upload is, decided from its bytes, and every reason to refuse it before storing.

The name a browser sends is only a claim: the type comes from the content (magic bytes,
the zip directory of a DOCX, the decoding of text). The name is checked against that
content so a photo named report.pdf is refused rather than filed as a PDF.
"""

import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from archive.services.errors import Invalid, TooLarge, UnsupportedType


@dataclass(frozen=True)
class FileType:
    """An accepted upload's type: `kind` is the archive's own word for it."""

    kind: str  # 'pdf' 'docx' 'jpeg' 'png' 'tiff' 'txt' 'audio' 'video'
    mime: str
    extension: str  # canonical, e.g. '.pdf'
    carrier: str  # default carrier (载体) of this kind: 电子 照片 录音 录像


_CARRIERS = {"pdf": "电子", "docx": "电子", "txt": "电子", "jpeg": "照片", "png": "照片", "tiff": "照片",
             "audio": "录音", "video": "录像"}
_DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Extension -> the kind it promises. Extensions not listed here promise nothing.
_EXTENSION_KINDS = {
    ".pdf": "pdf", ".docx": "docx", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg",
    ".png": "png", ".tif": "tiff", ".tiff": "tiff", ".txt": "txt", ".text": "txt", ".csv": "txt",
    ".mp3": "audio", ".wav": "audio", ".m4a": "audio", ".aac": "audio", ".amr": "audio",
    ".ogg": "audio", ".oga": "audio", ".opus": "audio", ".flac": "audio", ".wma": "audio",
    ".mp4": "video", ".m4v": "video", ".mov": "video", ".avi": "video", ".mkv": "video",
    ".webm": "video", ".wmv": "video", ".3gp": "video", ".3g2": "video",
}
_KIND_NAMES = {"pdf": "PDF", "docx": "Word (DOCX)", "jpeg": "JPEG 图片", "png": "PNG 图片",
               "tiff": "TIFF 图片", "txt": "纯文本", "audio": "音频", "video": "视频"}


def kind_name(kind: str) -> str:
    """What a stored file is, in the words a reader knows (not its MIME type)."""
    return _KIND_NAMES.get(kind, kind)

# Magic numbers at the start of the file -> (kind, mime, extension).
_MAGIC = [
    (b"\xff\xd8\xff", ("jpeg", "image/jpeg", ".jpg")),
    (b"\x89PNG\r\n\x1a\n", ("png", "image/png", ".png")),
    (b"II*\x00", ("tiff", "image/tiff", ".tif")),
    (b"MM\x00*", ("tiff", "image/tiff", ".tif")),
    (b"II+\x00", ("tiff", "image/tiff", ".tif")),  # BigTIFF
    (b"MM\x00+", ("tiff", "image/tiff", ".tif")),
    (b"ID3", ("audio", "audio/mpeg", ".mp3")),
    (b"#!AMR", ("audio", "audio/amr", ".amr")),
    (b"fLaC", ("audio", "audio/flac", ".flac")),
    (b"OggS", ("audio", "audio/ogg", ".ogg")),
    (b"RIFF", None),  # WAV or AVI: the RIFF form type at offset 8 says which
    (b"\x1aE\xdf\xa3", ("video", "video/x-matroska", ".mkv")),
]
_RIFF_FORMS = {b"WAVE": ("audio", "audio/wav", ".wav"), b"AVI ": ("video", "video/x-msvideo", ".avi")}
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_ASF = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"
_ASF_VIDEO_STREAM = b"\xc0\xef\x19\xbc\x4d\x5b\xcf\x11\xa8\xfd\x00\x80\x5f\x5c\x44\x2b"
# HEIC/AVIF photos (iPhones) use the MP4 container too: a still image, not a video.
_STILL_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
# Files that are recognisably something the archive does not take: named in the refusal.
_KNOWN_REFUSED = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "旧版 Office 文件（.doc/.xls/.ppt）或加密的 Office 文件，请另存为 .docx 或 PDF"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
    (b"GIF8", "GIF 图片，请转换为 JPEG 或 PNG"),
    (b"{\\rtf", "RTF 文档，请另存为 .docx 或 PDF"),
]
_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# Pixels of one image (or one TIFF page) the archive takes. A 秘密 copy of an image is a
# stamped PDF of it, which decodes every pixel: 80 million take 240 MB and 2.4 s. An A3
# page scanned at 600 dpi is 70 million. Below Pillow's own decompression-bomb warning
# (89 million), so Pillow never warns about an image the archive keeps.
MAX_IMAGE_PIXELS = 80_000_000
_IMAGE_KINDS = ("png", "jpeg", "tiff")


def safe_filename(name: str) -> str:
    """The original file name to keep, stripped of surrounding blanks; refuses names that
    could address another path (separators, "..") or carry NUL/control characters."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise Invalid("文件名不能为空", code="bad_filename")
    if len(cleaned) > 255:
        raise Invalid("文件名过长：不能超过 255 个字符", code="bad_filename")
    if "/" in cleaned or "\\" in cleaned or cleaned in (".", ".."):
        raise Invalid("文件名不合法：不能包含路径分隔符或“..”", code="bad_filename")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cleaned):
        raise Invalid("文件名不合法：不能包含控制字符", code="bad_filename")
    return cleaned


def inspect(data: bytes, filename: str, *, max_bytes: int, max_docx_uncompressed: int) -> FileType:
    """The type of an upload, from its content; raises the domain error that refuses it.

    Refuses: a bad name (Invalid bad_filename), an empty file (Invalid empty_file), more than
    `max_bytes` (TooLarge too_large), content of no accepted type (UnsupportedType
    unsupported_type), a name whose extension promises another accepted type
    (UnsupportedType extension_mismatch), a DOCX that would inflate beyond
    `max_docx_uncompressed` or more than 200-fold (TooLarge zip_bomb), a broken DOCX
    (Invalid corrupt_docx), a PDF that needs a password to open (Invalid encrypted_pdf) and
    an image of more than MAX_IMAGE_PIXELS pixels (Invalid image_too_large).
    """
    name = safe_filename(filename)
    if not data:
        raise Invalid("文件为空（0 字节），请重新选择文件", code="empty_file")
    if len(data) > max_bytes:
        raise TooLarge(
            f"文件过大：{_size(len(data))}，单个文件不能超过 {_size(max_bytes)}", code="too_large"
        )
    extension = os.path.splitext(name)[1].lower()
    claimed = _EXTENSION_KINDS.get(extension)
    found = _sniff(data, extension, max_docx_uncompressed)
    if found is None or (claimed and found.kind != claimed):
        raise _refusal(data, extension, claimed, found)
    if found.kind == "pdf":
        _require_openable_pdf(data)
    if found.kind in _IMAGE_KINDS:
        _require_deliverable_size(data)
    return found


def _sniff(data: bytes, extension: str, max_docx_uncompressed: int) -> FileType | None:
    head = data[:64]
    if _PDF_HEADER.match(head):
        return _type("pdf", "application/pdf", ".pdf")
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data, extension, max_docx_uncompressed)
    for signature, found in _MAGIC:
        if head.startswith(signature):
            found = found or _RIFF_FORMS.get(head[8:12])
            return _type(*found) if found else None
    if _is_iso_media(head, len(data)):
        return None if head[8:12] in _STILL_IMAGE_BRANDS else _iso_media(head, extension)
    if head.startswith(_ASF):
        # WMA and WMV share the ASF container; a video stream header tells them apart.
        if extension == ".wma" or _ASF_VIDEO_STREAM not in data[:65536]:
            return _type("audio", "audio/x-ms-wma", ".wma")
        return _type("video", "video/x-ms-wmv", ".wmv")
    found = _mpeg_audio(head)
    if found:
        return found
    # Readers accept junk before the header (mail gateways, scanners prepend some), but
    # only with PDF objects following: a text about "%PDF-1.4" is still text.
    if _PDF_HEADER.search(data[:1024]) and b"endobj" in data:
        return _type("pdf", "application/pdf", ".pdf")
    if _is_text(data):
        return _type("txt", "text/plain", ".txt")
    return None


def _type(kind: str, mime: str, extension: str) -> FileType:
    return FileType(kind=kind, mime=mime, extension=extension, carrier=_CARRIERS[kind])


def _iso_media(head: bytes, extension: str) -> FileType:
    """MP4, M4A, MOV and 3GP share one container (ISO base media); the brand names it."""
    brand = head[8:12] if head[4:8] == b"ftyp" else b"qt  "
    if brand in (b"M4A ", b"M4B ") or _EXTENSION_KINDS.get(extension) == "audio":
        # The container alone cannot tell a recording from a film: an audio brand or an
        # audio name (a phone's .m4a voice memo) makes it audio.
        return _type("audio", "audio/mp4", ".m4a")
    if brand.startswith(b"3g2"):
        return _type("video", "video/3gpp2", ".3g2")
    if brand.startswith(b"3gp"):
        return _type("video", "video/3gpp", ".3gp")
    if brand == b"qt  ":
        return _type("video", "video/quicktime", ".mov")
    return _type("video", "video/mp4", ".mp4")


def _is_iso_media(head: bytes, length: int) -> bool:
    """An ISO base media box first: a known box type after a size that fits the file.

    The size check keeps a text starting "I'm free" from passing for a QuickTime movie.
    """
    size = int.from_bytes(head[:4], "big")
    box = head[4:8]
    return (box == b"ftyp" or box in _QUICKTIME_ATOMS) and (size in (0, 1) or 8 <= size <= length)


def _mpeg_audio(head: bytes) -> FileType | None:
    """An MP3 frame or an ADTS (raw AAC) header without any ID3 tag in front."""
    if len(head) < 4 or head[0] != 0xFF:
        return None
    if head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0x0F < 13:  # 12 sync bits, layer 00
        return _type("audio", "audio/aac", ".aac")
    if head[1] & 0xE0 != 0xE0:
        return None
    version, layer, bitrate, rate = (head[1] >> 3) & 3, (head[1] >> 1) & 3, head[2] >> 4, (head[2] >> 2) & 3
    if version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
        return _type("audio", "audio/mpeg", ".mp3")
    return None


def _is_text(data: bytes) -> bool:
    """Plain text: no NUL, next to no control characters, valid UTF-8 or GB18030."""
    if b"\x00" in data:
        return False
    if len(_CONTROL.findall(data[:65536])) > max(2, len(data[:65536]) // 1000):
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def _sniff_zip(data: bytes, extension: str, max_docx_uncompressed: int) -> FileType | None:
    """A DOCX or nothing: checks the declared sizes in the zip directory, never inflates."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        if extension == ".docx" or b"word/" in data[:65536]:
            raise Invalid(
                "Word 文件已损坏或不完整，无法打开；请重新导出或上传完整的文件", code="corrupt_docx"
            ) from exc
        return None
    names = {member.filename for member in members}
    if not {"[Content_Types].xml", "word/document.xml"} <= names:
        return None
    total = sum(member.file_size for member in members)
    if total > max_docx_uncompressed:
        raise TooLarge(
            f"Word 文件解压后达 {_size(total)}，超过 {_size(max_docx_uncompressed)} 的上限，疑似压缩炸弹，已拒收",
            code="zip_bomb",
        )
    for member in members:
        # Real documents compress text perhaps 10-fold; a member that claims to inflate
        # 200-fold beyond a megabyte is built to exhaust memory. Small parts are harmless.
        if member.file_size > 2**20 and member.file_size > 200 * max(member.compress_size, 1):
            raise TooLarge(
                f"Word 文件中的 {member.filename} 压缩比异常（超过 200 倍），疑似压缩炸弹，已拒收",
                code="zip_bomb",
            )
    return _type("docx", _DOCX_MIME, ".docx")


def _require_openable_pdf(data: bytes) -> None:
    """Refuse a PDF that only opens with a password; owner-only encryption is fine."""
    if b"/Encrypt" not in data:
        # Not encrypted: the trailer (or the xref stream's dictionary, never compressed)
        # would name /Encrypt. Skips parsing for almost every upload.
        return
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except NotImplementedError:
        locked = True  # an encryption handler pypdf cannot even try (e.g. certificates)
    except Exception:  # noqa: BLE001 - damaged files are kept; extraction reports them
        return
    if locked:
        raise Invalid("PDF 文件已加密，无法读取内容；请上传未加密的版本", code="encrypted_pdf")


def _require_deliverable_size(data: bytes) -> None:
    """Refuse an image with a page of more than MAX_IMAGE_PIXELS pixels: it could never
    leave the archive at 秘密 (see `stamping.image_to_pdf`). Only headers are read, and
    that matters: a PNG of a few hundred kilobytes can declare 400 million pixels."""
    from PIL import Image, ImageSequence

    from archive.services.extraction.pagetree import MAX_PAGES

    try:
        with Image.open(io.BytesIO(data)) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                width, height = frame.size
                if width * height > MAX_IMAGE_PIXELS:
                    page = f"第 {number} 页" if getattr(image, "n_frames", 1) > 1 else ""
                    raise _image_too_large(f"：{page}{width} × {height} 像素（{_megapixels(width * height)}）")
                if number >= MAX_PAGES:
                    break  # pages beyond cannot be delivered at 秘密 anyway
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own check, at twice its limit, fires while the header is read.
        raise _image_too_large("") from exc
    except Invalid:
        raise
    except Exception:  # noqa: BLE001 - a damaged image is kept; delivery says it cannot be read
        return


def _image_too_large(found: str) -> Invalid:
    return Invalid(
        f"图像尺寸过大{found}，超过 {_megapixels(MAX_IMAGE_PIXELS)}的上限；请降低分辨率后重新上传",
        code="image_too_large",
    )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 10_000:.0f} 万像素"


def _refusal(data: bytes, extension: str, claimed: str | None, found: FileType | None) -> UnsupportedType:
    actual = _KIND_NAMES[found.kind] if found else _describe_unknown(data)
    if claimed:
        return UnsupportedType(
            f"文件内容与扩展名不符：扩展名为 {extension}（{_KIND_NAMES[claimed]}），实际内容是{actual}",
            code="extension_mismatch",
        )
    return UnsupportedType(
        f"不支持的文件类型（{actual}）；可上传 PDF、Word (DOCX)、JPEG/PNG/TIFF 图片、纯文本、音频或视频",
        code="unsupported_type",
    )


def _describe_unknown(data: bytes) -> str:
    for signature, description in _KNOWN_REFUSED:
        if data.startswith(signature):
            return description
    if data.startswith(b"PK\x03\x04"):
        return "ZIP 压缩包或其他 Office 文件（不是 Word 文档）"
    if data[4:8] == b"ftyp" and data[8:12] in _STILL_IMAGE_BRANDS:
        return "HEIC/AVIF 图片，请转换为 JPEG 或 PNG"
    return "无法识别的格式"


def _size(count: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} 字节"
