"""Text and page count of an accepted upload, for the index and the volume index.

Runs inside the upload request, after `filetypes.inspect` accepted the bytes. It never
raises for bad content: a file whose text cannot be read is still filed, with the reason
kept in `error`, because losing the document would be worse than not finding it by text.
"""

import io
import itertools
import logging
import re
import zipfile
from dataclasses import dataclass

from archive.services.filetypes import FileType

# A bigger extraction is cut here: it is not a document anyone reads whole, and the
# search index and the database row should not grow without bound.
MAX_TEXT_CHARS = 5_000_000

# Extracted text goes into the database and the index: NUL (refused by PostgreSQL) and
# other control characters that PDFs leak from odd font encodings are dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DOCX_PAGES = re.compile(rb"<(?:\w+:)?Pages>\s*(\d+)\s*</(?:\w+:)?Pages>")

log = logging.getLogger(__name__)


@dataclass
class Extraction:
    """What could be read from one file."""

    text: str
    pages: int | None
    status: str  # 'ok' (text found), 'empty' (no text layer), 'failed', 'skipped'
    error: str | None  # the reason, in Chinese, when not everything could be read


def extract(data: bytes, ftype: FileType) -> Extraction:
    """Text and page count of `data`, an upload `filetypes.inspect` accepted as `ftype`.

    Never raises for bad content: a file that cannot be parsed gives status 'failed' and
    the reason. Images, audio and video are 'skipped' (images count as one page, TIFF as
    its number of frames).
    """
    try:
        if ftype.kind == "pdf":
            return _pdf(data)
        if ftype.kind == "docx":
            return _docx(data)
        if ftype.kind == "txt":
            return _finish(_decode_text(data), None, "")
        if ftype.kind in ("jpeg", "png"):
            return Extraction("", 1, "skipped", None)
        if ftype.kind == "tiff":
            return Extraction("", _tiff_frames(data), "skipped", None)
        return Extraction("", None, "skipped", None)
    except Exception as exc:  # any parser failure: keep the file, say why
        log.info("text extraction failed for a %s upload", ftype.kind, exc_info=True)
        return Extraction("", None, "failed", f"{_KIND_LABELS.get(ftype.kind, '文件')}无法解析：{_reason(exc)}")


_KIND_LABELS = {"pdf": "PDF 文件", "docx": "Word 文件", "txt": "文本文件"}


def _finish(text: str, pages: int | None, empty_reason: str, warning: str | None = None) -> Extraction:
    # U+FFFD marks what could not be decoded (a PDF font without a Unicode map, bytes
    # outside GB18030): noise, not text.
    text = _CONTROL.sub("", text).replace("\ufffd", "")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        warning = warning or f"文字过多，仅保留前 {MAX_TEXT_CHARS:,} 个字符"
    if not text.strip():
        return Extraction("", pages, "empty", warning or empty_reason or None)
    return Extraction(text, pages, "ok", warning)


def _reason(exc: BaseException) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return detail[:300]


# ---- PDF ---------------------------------------------------------------------------


def _pdf(data: bytes) -> Extraction:
    truncated = not _has_eof_marker(data)
    try:
        reader, pages = _open_pdf(data)
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for damaged files
        repaired = _repair_truncated(data) if truncated else None
        if repaired is None:
            return Extraction("", None, "failed", f"PDF 文件已损坏或不完整：{_reason(exc)}")
        try:
            reader, pages = _open_pdf(repaired)
        except Exception:  # noqa: BLE001 - the first error says more
            return Extraction("", None, "failed", f"PDF 文件已损坏或不完整：{_reason(exc)}")
    parts, failed, size = [], [], 0
    for number, page in enumerate(pages, start=1):
        if size >= MAX_TEXT_CHARS:
            break
        try:
            # One bad page (broken content stream, missing font) must not lose the rest.
            # In a cut-off file a page whose font lost its Unicode map decodes to
            # plausible-looking garbage: such a page is not read at all.
            readable = not truncated or _fonts_intact(page)
            text = (page.extract_text() or "") if readable else ""
        except Exception:
            log.info("PDF page %d unreadable", number, exc_info=True)
            failed.append(number)
            continue
        parts.append(text)
        size += len(text)
    parts.extend(_form_values(reader))
    text = "\n".join(parts).replace("\ufffd", "")
    if truncated:
        # The page count of a cut-off file is unknown: better none than a wrong one in
        # the volume index. The text that survived is still worth indexing.
        if not text.strip():
            return Extraction("", None, "failed", "PDF 文件不完整（可能上传或下载中断），未能读取到文字")
        return _finish(text, None, "", "PDF 文件不完整（可能上传或下载中断），仅提取到可读取部分的文字")
    if pages and len(failed) == len(pages):
        return Extraction("", len(pages), "failed", f"PDF 文件已损坏：{len(pages)} 页均无法读取")
    warning = f"第 {_page_list(failed)} 页无法读取，其余页面已提取" if failed else None
    return _finish(text, len(pages), "PDF 没有文字层（可能是扫描件），未提取到文字", warning)


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


def _open_pdf(data: bytes):
    from pypdf import PdfReader

    # strict=False: real-world PDFs break the spec in many small ways (bad xref offsets,
    # missing objects) that pypdf repairs, e.g. by rebuilding the xref table.
    reader = PdfReader(io.BytesIO(data), strict=False)
    return reader, list(reader.pages)


_OBJECT_HEADER = re.compile(rb"(\d{1,10})\s+(\d{1,5})\s+obj\b")
_REFERENCE = re.compile(rb"(\d{1,10})\s+\d{1,5}\s+R\b")
_PAGE_TYPE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def _repair_truncated(data: bytes) -> bytes | None:
    """A cut-off PDF made readable: a new page tree over the page objects still present.

    pypdf gives up on a file without its trailer; with one appended (and the xref
    offset pointing nowhere, so that it rebuilds the table by scanning) it reads the
    surviving objects. The catalog and page tree may be lost, so both are rebuilt.
    """
    headers = list(_OBJECT_HEADER.finditer(data))
    if headers and b"endobj" not in data[headers[-1].start() :]:
        # The object the cut went through is dropped whole: half a Unicode map or half a
        # content stream reads as wrong text rather than no text.
        data, headers = data[: headers[-1].start()], headers[:-1]
    pages = []
    # New objects must not take the number of a lost one that something still refers to.
    highest = max((int(m.group(1)) for m in _REFERENCE.finditer(data)), default=0)
    for match in headers:
        number = int(match.group(1))
        highest = max(highest, number)
        body = data[match.end() : match.end() + 4096]
        body = body.split(b"endobj", 1)[0].split(b"stream", 1)[0]
        if _PAGE_TYPE.search(body):
            pages.append(b"%d %s R" % (number, match.group(2)))
    if not pages:
        return None
    tree, catalog = highest + 1, highest + 2
    return data + b"".join((
        b"\n",
        b"%d 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (tree, b" ".join(pages), len(pages)),
        b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (catalog, tree),
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n0\n%%%%EOF\n" % (catalog + 1, catalog),
    ))


def _form_values(reader) -> list[str]:
    """Filled-in AcroForm fields as "name：value" lines (forms keep their data there)."""
    try:
        fields = reader.get_form_text_fields() or {}
    except Exception:  # noqa: BLE001 - a broken form must not cost the page text
        return []
    return [f"{name}：{value}" for name, value in fields.items() if value and str(value).strip()]


def _has_eof_marker(data: bytes) -> bool:
    # Every revision of a PDF ends with %%EOF after its objects; a cut-off upload loses
    # the last one (and its xref). Junk appended after it does not make a file cut off.
    return data.rfind(b"%%EOF") > data.rfind(b"endobj")


def _page_list(numbers: list[int]) -> str:
    shown = "、".join(map(str, numbers[:10]))
    return shown + (" 等" if len(numbers) > 10 else "")


# ---- DOCX --------------------------------------------------------------------------


def _docx(data: bytes) -> Extraction:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        return Extraction("", None, "failed", f"Word 文件已损坏，无法打开：{_reason(exc)}")
    lines: list[str] = []
    _blocks(document.element.body, lines)
    seen_parts = set()
    for section in document.sections:
        for part in (
            section.header, section.first_page_header, section.even_page_header,
            section.footer, section.first_page_footer, section.even_page_footer,
        ):
            # Linked headers share the previous section's part; read each part once.
            if part.is_linked_to_previous or id(part.part) in seen_parts:
                continue
            seen_parts.add(id(part.part))
            _blocks(part._element, lines)
    return _finish("\n".join(lines), _docx_pages(data), "Word 文件中没有文字")


def _blocks(container, lines: list[str]) -> None:
    """Paragraphs and tables of a body, header, footer or cell, in document order."""
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            text = Paragraph(child, None).text
            if text.strip():
                lines.append(text)
            for box in _text_boxes(child):
                _blocks(box, lines)
        elif child.tag == qn("w:tbl"):
            for row in child.iterchildren(qn("w:tr")):
                cells = []
                for cell in row.iterchildren(qn("w:tc")):
                    # A cell may hold paragraphs and nested tables: read them as blocks.
                    cell_lines: list[str] = []
                    _blocks(cell, cell_lines)
                    cells.append(" ".join(cell_lines))
                if any(cells):
                    lines.append("\t".join(cells))
        elif child.tag == qn("w:sdt"):
            # Content controls (form fields of Word templates) wrap ordinary blocks.
            for content in child.iterchildren(qn("w:sdtContent")):
                _blocks(content, lines)


def _text_boxes(paragraph):
    """The outermost text boxes anchored in a paragraph, each once.

    Word writes a text box twice, as DrawingML (mc:Choice) and as VML (mc:Fallback) for
    old readers; boxes inside boxes are reached when their outer box is read.
    """
    from docx.oxml.ns import qn

    box_tag = qn("w:txbxContent")
    for box in paragraph.iter(box_tag):
        ancestors = itertools.takewhile(lambda node: node is not paragraph, box.iterancestors())
        if not any(node.tag in (_MC_FALLBACK, box_tag) for node in ancestors):
            yield box


def _docx_pages(data: bytes) -> int | None:
    """The page count Word stored in docProps/app.xml when it last saved the file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            match = _DOCX_PAGES.search(package.read("docProps/app.xml"))
    except (KeyError, zipfile.BadZipFile):
        return None
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


# ---- text and images ------------------------------------------------------------------


# Legacy encodings of Chinese text files: GB18030 (mainland, superset of GBK/GB2312) and
# Big5 (Taiwan, Hong Kong: old traditional-script files). Byte patterns of the two
# overlap, so a detector weighs which decoding reads as language.
_LEGACY_ENCODINGS = ["gb18030", "big5"]


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_LEGACY_ENCODINGS).best()
    encoding = best.encoding if best is not None else "gb18030"
    return data.decode(encoding, errors="replace")


def _tiff_frames(data: bytes) -> int | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            # Counting frames walks the page directories; no pixel is decoded.
            return getattr(image, "n_frames", 1)
    except Exception:  # noqa: BLE001 - a TIFF Pillow cannot read is still filed
        return None
