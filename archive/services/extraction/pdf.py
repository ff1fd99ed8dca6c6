"""Text and page count of a PDF from any producer, however damaged, in bounded time.

Producers differ in every way that matters here: fonts as CID fonts with or without a
Unicode map, Type 3 fonts, predefined Chinese CMaps; cross-reference tables or streams,
object streams, incremental updates; encryption with an empty user password; and the
damage uploads bring (cut off, trailer or xref lost, junk before the header). pypdf
reads all of these; this module decides what of its output is text, repairs what it
gives up on, and stops before a hostile or huge file can hold the upload request.
"""

import io
import logging
import re
import time

from archive.services.extraction import pdfium
from archive.services.extraction.pagetree import TooManyPages, require_at_most
from archive.services.extraction.result import (
    MAX_TEXT_CHARS,
    Extraction,
    failed,
    finish,
    page_list,
    reason,
)

# Extraction runs inside the upload request (gunicorn gives a worker 30 s): past this the
# remaining pages are left unread, and the file says so.
TIME_BUDGET_SECONDS = 15.0
# pypdf parses a page's whole content stream before its first operator, at a few seconds
# per megabyte; that cannot be interrupted, so a page drawing more than this is not read.
# Text pages are far below it (a dense 9-point page printed by Chromium: 160 KB); floor
# plans and maps exceed it, and hold little text.
MAX_PAGE_CONTENT_BYTES = 2**20

_EMPTY = "PDF 没有文字层（可能是扫描件），未提取到文字"
_CUT_OFF = "PDF 文件不完整（可能上传或下载中断）"
_REBUILT = "PDF 文件结构已损坏"

log = logging.getLogger(__name__)


class _Locked(Exception):
    """The PDF needs a password to be read."""


class _OutOfTime(BaseException):
    """Raised inside pypdf's operator loop when the budget is spent. A BaseException so
    that pypdf's own recovery (it skips a form XObject that raises Exception) lets it by."""


def read(data: bytes) -> Extraction:
    """Text and page count of the PDF `data`; never raises for bad content."""
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    truncated = not _has_eof_marker(data)
    try:
        reader, pages, rebuilt = _open(data)
    except _Locked:
        # filetypes refuses these; one that hides its /Encrypt key gets this far.
        return failed("PDF 文件已加密，需要密码才能读取内容")
    except TooManyPages as exc:
        # Kept and flagged like any PDF that cannot be read (docs/hardening.md); the
        # page count is left empty, as only the tree's own claim is known.
        return failed(f"{exc}，未提取文字")
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for damaged files
        return _second_reader(data, deadline, truncated) or failed(
            f"PDF 文件已损坏或不完整（{damage(exc)}），未提取文字")
    if rebuilt or not pages:
        # A page tree pypdf could not follow: PDFium may repair it and keep every page.
        repaired = _second_reader(data, deadline, truncated)
        if repaired is not None:
            return repaired
    if not pages:
        return failed("PDF 文件中没有任何页面", 0)
    damaged = truncated or rebuilt
    report = _Report(total=len(pages))
    parts = _pages_text(pages, damaged, deadline, report)
    parts.extend(_form_values(reader))
    text = "\n".join(part for part in parts if part)
    if damaged:
        # The page count of a damaged file is unknown: better none than a wrong one in the
        # volume index. The text that survived is still worth indexing.
        cause = _CUT_OFF if truncated else _REBUILT
        if not text.strip():
            return failed(f"{cause}，未能读取到文字")
        return finish(text, None, "", f"{cause}，仅提取到可读取部分的文字")
    if not text.strip() and report.problems():
        return failed(report.summary(), len(pages))
    result = finish(text, len(pages), _EMPTY, report.summary() or None)
    if result.status == "ok":
        result.textless_pages = report.textless
    return result


# What pypdf's messages about a damaged file mean, in the words the archive shows (the
# library's own English stays out of the catalogue: issue 18).
_DAMAGE = (
    ("EOF marker", "缺少文件结束标记，文件可能未传完整"),
    ("startxref", "找不到交叉引用表"),
    ("xref", "交叉引用表损坏"),
    ("trailer", "文件尾部无法读取"),
    ("Stream has ended", "文件内容提前结束"),
    ("Unexpected end", "文件内容提前结束"),
    ("empty file", "文件为空"),
    ("header", "文件头损坏"),
)


def damage(exc: BaseException) -> str:
    """A damaged PDF's reason in Chinese, from the reader's exception."""
    detail = reason(exc)
    return next((words for key, words in _DAMAGE if key.lower() in detail.lower()),
                "文件结构无法解析")


def _second_reader(data: bytes, deadline: float, truncated: bool) -> Extraction | None:
    """What PDFium reads of a file pypdf failed on; None for a cut-off file (PDFium
    would count the pages that survived as if they were all) or one PDFium cannot open."""
    if truncated:
        return None
    return pdfium.read(data, deadline)


class _Report:
    """What went wrong page by page, said once at the end."""

    def __init__(self, total: int):
        self.total = total
        self.unreadable: list[int] = []
        self.too_complex: list[int] = []
        self.unmapped: list[int] = []
        self.stopped_at: int | None = None
        self.textless = 0  # pages read whole that hold no text: scans, for OCR

    def problems(self) -> bool:
        return bool(self.unreadable or self.too_complex or self.unmapped or self.stopped_at)

    def summary(self) -> str:
        notes = []
        if self.unreadable and len(self.unreadable) == self.total:
            notes.append(f"PDF 文件已损坏：{self.total} 页均无法读取")
        elif self.unreadable:
            notes.append(f"第 {page_list(self.unreadable)} 页无法读取，其余页面已提取")
        if self.too_complex:
            notes.append(f"第 {page_list(self.too_complex)} 页图形过于复杂，未提取文字")
        if self.unmapped:
            notes.append(f"第 {page_list(self.unmapped)} 页的部分字体缺少 Unicode 映射，其文字无法识别")
        if self.stopped_at:
            left = f"{self.stopped_at}–{self.total}" if self.stopped_at < self.total else self.total
            notes.append(f"提取文字超过 {TIME_BUDGET_SECONDS:g} 秒，第 {left} 页未提取")
        return "；".join(notes)


def _pages_text(pages, damaged: bool, deadline: float, report: _Report) -> list[str]:
    parts, size = [], 0
    for number, page in enumerate(pages, start=1):
        if size >= MAX_TEXT_CHARS:
            break
        if time.monotonic() > deadline:
            report.stopped_at = number
            break
        try:
            # In a damaged file a page whose font lost its Unicode map decodes to
            # plausible-looking garbage: such a page is not read at all.
            if damaged and not _fonts_intact(page):
                continue
            contents = _contents(page)
            if _drawn_size(contents, page.get("/Resources"), set()) > MAX_PAGE_CONTENT_BYTES:
                report.too_complex.append(number)
                continue
            if not any(map(_TEXT_OPERATOR.search, contents)):
                report.textless += 1
                continue  # a scan or a figure: nothing to parse
            text, unmapped = _page_text(page, deadline)
            if not text.strip():
                report.textless += 1
        except _OutOfTime:
            report.stopped_at = number
            break
        except Exception:  # noqa: BLE001 - one bad page must not lose the rest
            log.info("PDF page %d unreadable", number, exc_info=True)
            report.unreadable.append(number)
            continue
        if unmapped:
            report.unmapped.append(number)
        parts.append(text)
        size += len(text)
    return parts


def _page_text(page, deadline: float) -> tuple[str, bool]:
    """The text of one page, without what fonts lacking a Unicode map would make up;
    and whether there was such text."""
    parts: list[str] = []
    unmapped = False

    def check_time(*_):
        if time.monotonic() > deadline:
            raise _OutOfTime

    def collect(text, _cm, _tm, font, _size):
        nonlocal unmapped
        if not text:
            return
        if font is not None and _guessed(font, text):
            unmapped = unmapped or bool(text.strip())
            parts.append("\n" * text.count("\n"))  # keep the line breaks, not the letters
        else:
            parts.append(text)

    page.extract_text(visitor_operand_before=check_time, visitor_text=collect)
    return "".join(parts), unmapped


_IDENTITY = ("/Identity-H", "/Identity-V")


def _guessed(font, text: str) -> bool:
    """Whether pypdf had to guess this text: a composite font with Identity encoding and
    no ToUnicode map writes glyph numbers, which pypdf reads as UTF-16, giving letters
    from any script. Only a guess that reads as Chinese or ASCII is believed."""
    if font.get("/Subtype") != "/Type0" or "/ToUnicode" in font or font.get("/Encoding") not in _IDENTITY:
        return False
    return not all(_plausible(ch) for ch in text)


def _plausible(ch: str) -> bool:
    code = ord(ch)
    return (
        0x20 <= code < 0x7F or ch in "\n\r\t"
        or 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF  # CJK ideographs
        or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF  # CJK and full-width punctuation
    )


# Operators that can show text, directly or through a form XObject.
_TEXT_OPERATOR = re.compile(rb"Tj|TJ|Do|'|\"")


def _contents(page) -> list[bytes]:
    """The decoded content streams of a page."""
    from pypdf.generic import ArrayObject

    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
    return [stream.get_object().get_data() for stream in streams if stream is not None]


_DRAWN_XOBJECT = re.compile(rb"/([^\s/\[\]<>(){}%]+)\s*Do\b")


def _drawn_size(contents: list[bytes], resources, seen: set[int]) -> int:
    """Decoded bytes of `contents` and of the form XObjects they draw, nested ones too
    (each once), counted until they exceed what a page may hold. Forms a shared
    resource dictionary merely lists are not counted."""
    size = sum(map(len, contents))
    names = {_pdf_name(match) for data in contents for match in _DRAWN_XOBJECT.findall(data)}
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if names and hasattr(resources, "get") else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    for name in names & set(xobjects or ()):
        form = xobjects[name]
        if size > MAX_PAGE_CONTENT_BYTES:
            break
        if id(form) in seen or form.get("/Subtype") != "/Form":
            continue
        seen.add(id(form))
        size += _drawn_size([form.get_data()], form.get("/Resources"), seen)
    return size


def _pdf_name(raw: bytes) -> str:
    """A name as pypdf keys it: "/" and the bytes with #xx escapes decoded."""
    return "/" + re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes.fromhex(m.group(1).decode()), raw).decode("utf-8", "replace")


def _fonts_intact(page) -> bool:
    """Whether the page's resources, its fonts and their Unicode maps all survived."""
    resources = _resolved(page, "/Resources")
    fonts = _resolved(resources, "/Font") if resources else None
    if resources is None or (fonts is None and "/Font" in resources):
        return False
    for name in fonts or ():
        font = _resolved(fonts, name)
        if font is None:
            return False
        for key in ("/ToUnicode", "/DescendantFonts", "/Encoding", "/FontDescriptor", "/Widths"):
            if key in font and _resolved(font, key) is None:
                return False
    return True


def _resolved(dictionary, key: str):
    """dictionary[key] with references followed; None when the object is lost."""
    from pypdf.generic import NullObject

    if dictionary is None or key not in dictionary:
        return None
    value = dictionary.raw_get(key).get_object()
    return None if value is None or isinstance(value, NullObject) else value


# ---- opening and repairing ---------------------------------------------------------


def _open(data: bytes):
    """(reader, pages, rebuilt): the file as pypdf reads it, or as `_rebuilt` repairs it."""
    try:
        reader, pages = _reader(data)
        return reader, pages, False
    except (_Locked, TooManyPages):
        raise
    except Exception as exc:
        repaired = _rebuilt(data)
        if repaired is None:
            raise
        try:
            reader, pages = _reader(repaired)
        except TooManyPages:
            raise
        except Exception:  # noqa: BLE001 - the first error says more
            raise exc from None
        return reader, pages, True


def _reader(data: bytes):
    from pypdf import PdfReader

    # strict=False: real-world PDFs break the spec in many small ways (bad xref offsets,
    # junk before the header, missing objects) that pypdf repairs, e.g. by rebuilding
    # the xref table. An empty user password is tried on opening.
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt("").value:
        raise _Locked
    # pypdf opens the whole page tree at the first question about pages.
    require_at_most(reader)
    return reader, list(reader.pages)


_OBJECT_HEADER = re.compile(rb"(\d{1,10})\s+(\d{1,5})\s+obj\b")
_REFERENCE = re.compile(rb"(\d{1,10})\s+\d{1,5}\s+R\b")
_PAGE_TYPE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def _rebuilt(data: bytes) -> bytes | None:
    """A PDF pypdf gave up on made readable: a new page tree over the page objects
    still present, and a new trailer.

    A cut-off file has lost its trailer (and often its catalog and page tree); others
    lost them to a bad edit or junk with its own %%EOF appended. With a trailer appended
    whose xref offset points nowhere, pypdf rebuilds the table by scanning the objects.
    """
    headers = list(_OBJECT_HEADER.finditer(data))
    if headers and b"endobj" not in data[headers[-1].start() :]:
        # The object the cut went through is dropped whole: half a Unicode map or half a
        # content stream reads as wrong text rather than no text.
        data, headers = data[: headers[-1].start()], headers[:-1]
    pages: dict[int, bytes] = {}  # an object rewritten by an update is one page, not two
    # New objects must not take the number of a lost one that something still refers to.
    highest = max((int(m.group(1)) for m in _REFERENCE.finditer(data)), default=0)
    for match in headers:
        number = int(match.group(1))
        highest = max(highest, number)
        body = data[match.end() : match.end() + 4096]
        body = body.split(b"endobj", 1)[0].split(b"stream", 1)[0]
        if _PAGE_TYPE.search(body):
            pages.setdefault(number, b"%d %s R" % (number, match.group(2)))
    if not pages:
        return None
    tree, catalog = highest + 1, highest + 2
    kids = b" ".join(pages.values())
    return data + b"".join((
        b"\n",
        b"%d 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (tree, kids, len(pages)),
        b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (catalog, tree),
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n0\n%%%%EOF\n" % (catalog + 1, catalog),
    ))


def _has_eof_marker(data: bytes) -> bool:
    # Every revision of a PDF ends with %%EOF after its objects; a cut-off upload loses
    # the last one (and its xref). Junk appended after it does not make a file cut off.
    return data.rfind(b"%%EOF") > data.rfind(b"endobj")


# ---- forms -------------------------------------------------------------------------


def _form_values(reader) -> list[str]:
    """Filled-in AcroForm fields as "name：value" lines (forms keep their data there):
    text fields and the chosen options of list and combo boxes."""
    try:
        fields = reader.get_fields() or {}
        lines = []
        for qualified, field in fields.items():
            value = _field_value(field)
            if value:
                lines.append(f"{field.get('/T', qualified)}：{value}")
        return lines
    except Exception:  # noqa: BLE001 - a broken form must not cost the page text
        log.info("PDF form fields unreadable", exc_info=True)
        return []


def _field_value(field) -> str:
    if field.get("/FT") not in ("/Tx", "/Ch"):
        return ""  # buttons hold state names (/Yes, /Off), not text
    value = field.get("/V")
    if isinstance(value, list):
        value = "、".join(str(item) for item in value)
    return str(value).strip() if isinstance(value, str) else ""
