"""Text and page count of a Word (DOCX) file, read from its XML parts.

python-docx refuses packages real producers write (strict Open XML, a macro-enabled or
template content type, a styles or app.xml part named in the relationships but
missing) and its paragraph text leaves out tracked insertions, field results and
inline content controls. The text needs only the main document part, its headers,
footers and notes, so these are read straight from the zip: `filetypes.inspect` has
already checked the sizes they inflate to.
"""

import itertools
import posixpath
import re
import zipfile
from io import BytesIO

from lxml import etree

from archive.services.extraction.result import Extraction, failed, finish, reason

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# Strict Open XML names the same elements in other namespaces: read as transitional.
_STRICT = [
    (b"http://purl.oclc.org/ooxml/wordprocessingml/main",
     b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
]
# Deleted text (w:delText) is never collected; these hold text that is not (or no longer)
# in the paragraph itself: tracked deletions and moves, text boxes (read on their own),
# the legacy copy of drawings.
_NOT_PARAGRAPH_TEXT = {_W + "del", _W + "moveFrom", _W + "txbxContent", _MC_FALLBACK, _W + "p"}
_NOTE_TYPES = ("/footnotes", "/endnotes")
_DOCX_PAGES = re.compile(rb"<(?:\w+:)?Pages>\s*(\d+)\s*</(?:\w+:)?Pages>")


def read(data: bytes) -> Extraction:
    """Text and page count of the DOCX `data`; never raises for bad content."""
    try:
        package = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        return failed(f"Word 文件已损坏，无法打开：{reason(exc)}")
    with package:
        main = _main_part(package)
        try:
            body = _xml(package, main).find(_W + "body")
        except (KeyError, etree.XMLSyntaxError) as exc:
            return failed(f"Word 文件已损坏，正文无法读取：{reason(exc)}")
        lines: list[str] = []
        _blocks(body if body is not None else [], lines)
        unreadable = _attached_parts(package, main, body, lines)
        pages = _pages(package)
    warning = f"Word 文件的{'、'.join(unreadable)}已损坏，未能读取" if unreadable else None
    return finish("\n".join(lines), pages, "Word 文件中没有文字", warning)


def _xml(package: zipfile.ZipFile, name: str):
    data = package.read(name)
    for strict, transitional in _STRICT:
        data = data.replace(strict, transitional)
    # No DTDs, entities or network: the XML comes from an upload. A parser per call:
    # lxml parsers must not be shared between threads.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    return etree.fromstring(data, parser)


def _main_part(package: zipfile.ZipFile) -> str:
    """The main document part the package relationships name (word/document.xml)."""
    for target, kind in _relationships(package, "_rels/.rels").values():
        if kind.endswith("/officeDocument"):
            return target
    return "word/document.xml"


def _relationships(package: zipfile.ZipFile, rels_name: str) -> dict[str, tuple[str, str]]:
    """Id -> (part name, relationship type) of one .rels part; empty when it is missing."""
    base = posixpath.dirname(posixpath.dirname(rels_name))
    try:
        root = _xml(package, rels_name)
    except (KeyError, etree.XMLSyntaxError):
        return {}
    found = {}
    for rel in root.iter(_PACKAGE_RELS):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        name = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
        found[rel.get("Id")] = (posixpath.normpath(name), rel.get("Type", ""))
    return found


def _attached_parts(package, main: str, body, lines: list[str]) -> list[str]:
    """Headers and footers (each part once, in section order), then foot- and endnotes,
    appended to `lines`; returns the names of those that could not be read."""
    rels = _relationships(package, posixpath.join(posixpath.dirname(main), "_rels",
                                                  posixpath.basename(main) + ".rels"))
    wanted = []
    for section in body.iter(_W + "sectPr") if body is not None else ():
        for tag in ("headerReference", "footerReference"):
            wanted += [rels.get(ref.get(_R + "id")) for ref in section.iter(_W + tag)]
    wanted += [rel for rel in rels.values() if rel[1].endswith(_NOTE_TYPES)]
    unreadable, seen = [], set()
    for name, kind in filter(None, wanted):
        if name in seen:
            continue  # linked headers share the previous section's part
        seen.add(name)
        try:
            _blocks(_xml(package, name), lines)
        except (KeyError, etree.XMLSyntaxError):
            unreadable.append(_PART_LABELS.get(kind.rsplit("/", 1)[-1], "附属部分"))
    return list(dict.fromkeys(unreadable))


_PART_LABELS = {"header": "页眉", "footer": "页脚", "footnotes": "脚注", "endnotes": "尾注"}


def _blocks(container, lines: list[str]) -> None:
    """Paragraphs and tables of a body, header, footer, note or cell, in document order."""
    for child in container:
        tag = child.tag
        if tag == _W + "p":
            text = _paragraph_text(child)
            if text.strip():
                lines.append(text)
            for box in _text_boxes(child):
                _blocks(box, lines)
        elif tag == _W + "tbl":
            _table(child, lines)
        elif tag in (_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "footnote", _W + "endnote"):
            # Content controls (form fields of Word templates) and custom XML wrap
            # ordinary blocks; notes hold paragraphs.
            _blocks(child, lines)


def _table(table, lines: list[str]) -> None:
    for row in _wrapped(table, _W + "tr"):
        cells = []
        for cell in _wrapped(row, _W + "tc"):
            # A cell may hold paragraphs and nested tables: read them as blocks.
            cell_lines: list[str] = []
            _blocks(cell, cell_lines)
            cells.append(" ".join(cell_lines))
        if any(cells):
            lines.append("\t".join(cells))


def _wrapped(parent, tag: str):
    """Children of `parent` with `tag`, also those inside content controls (a repeating
    section wraps rows) and custom XML."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in (_W + "sdt", _W + "sdtContent", _W + "customXml"):
            yield from _wrapped(child, tag)


def _paragraph_text(paragraph) -> str:
    parts: list[str] = []
    _runs(paragraph, parts)
    return "".join(parts)


def _runs(element, parts: list[str]) -> None:
    """Text of runs under `element`, at any depth: inside hyperlinks, fields, smart tags,
    inline content controls and tracked insertions alike."""
    for child in element:
        tag = child.tag
        if tag == _W + "t":
            parts.append(child.text or "")
        elif tag == _W + "tab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        elif tag not in _NOT_PARAGRAPH_TEXT:
            _runs(child, parts)


def _text_boxes(paragraph):
    """The outermost text boxes anchored in a paragraph, each once.

    Word writes a text box twice, as DrawingML (mc:Choice) and as VML (mc:Fallback) for
    old readers; boxes inside boxes are reached when their outer box is read.
    """
    box_tag = _W + "txbxContent"
    for box in paragraph.iter(box_tag):
        ancestors = itertools.takewhile(lambda node: node is not paragraph, box.iterancestors())
        if not any(node.tag in (_MC_FALLBACK, box_tag) for node in ancestors):
            yield box


def _pages(package: zipfile.ZipFile) -> int | None:
    """The page count Word stored in docProps/app.xml when it last saved the file."""
    try:
        match = _DOCX_PAGES.search(package.read("docProps/app.xml"))
    except KeyError:
        return None
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None
