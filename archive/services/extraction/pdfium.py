"""The second PDF reader: PDFium (pypdfium2), for files whose page tree pypdf gives up on.

Some producers write a /Pages entry pypdf cannot follow (a reference to a reference, a
/Kids array left open, a tree node of the wrong type): pypdf says "Invalid object in
/Pages" or finds no page at all, while PDFium, like poppler and every browser, repairs
the structure while loading and opens every page. pypdf stays the primary reader (it
reads every producer of tests/sample_pdfs.py, and its output is what the rest of the
archive was built on); PDFium is asked only when pypdf failed, and a file it reads is
flagged as repaired.
"""

import threading
import time

from archive.services.extraction.pagetree import MAX_PAGES, TooManyPages
from archive.services.extraction.result import MAX_TEXT_CHARS, Extraction, failed, finish

REPAIRED = "PDF 文件结构已损坏，已由备用阅读器 PDFium 修复读取"
_EMPTY = REPAIRED + "；没有文字层（可能是扫描件）"

# PDFium is one C library with global state: pypdfium2 documents it as not thread-safe,
# and the test server and a worker's threads may read two PDFs at once.
LOCK = threading.Lock()


def read(data: bytes, deadline: float) -> Extraction | None:
    """Pages and text of the PDF `data` as PDFium reads them, or None when PDFium
    cannot open it either (or finds no page). Never raises for bad content."""
    import pypdfium2 as pdfium

    with LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return None
        try:
            count = len(document)
            if count > MAX_PAGES:
                return failed(f"{TooManyPages(count, MAX_PAGES)}，未提取文字")
            if count == 0:
                return None
            parts, stopped_at = _pages_text(document, count, deadline)
        except pdfium.PdfiumError:
            return None
        finally:
            document.close()
    text = "\n".join(part for part in parts if part)
    warning = REPAIRED if text.strip() else _EMPTY
    if stopped_at is not None:
        warning += f"；提取文字超时，第 {stopped_at}–{count} 页未提取"
    return finish(text.replace("\r\n", "\n"), count, _EMPTY, warning)


def _pages_text(document, count: int, deadline: float) -> tuple[list[str], int | None]:
    parts, size = [], 0
    for index in range(count):
        if size >= MAX_TEXT_CHARS:
            break
        if time.monotonic() > deadline:
            return parts, index + 1
        page = document[index]
        try:
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()
        parts.append(text)
        size += len(text)
    return parts, None
