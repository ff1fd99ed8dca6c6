"""What reading one file gives, and the clean-up every extracted text goes through."""

import re
from dataclasses import dataclass

from archive.services.extraction import cjk

# A bigger extraction is cut here: it is not a document anyone reads whole, and the
# search index and the database row should not grow without bound.
MAX_TEXT_CHARS = 5_000_000
# StoredFile.text_error holds 500 characters; reasons are cut well before that.
MAX_REASON_CHARS = 300

# Extracted text goes into the database and the index: NUL (refused by PostgreSQL) and
# other control characters that PDFs leak from odd font encodings are dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Extraction:
    """What could be read from one file."""

    text: str
    pages: int | None
    status: str  # 'ok' (text found), 'empty' (no text layer), 'failed', 'skipped'
    error: str | None  # the reason, in Chinese, when not everything could be read
    # Pages of a PDF with text elsewhere that have none (scanned pages): OCR reads them.
    # None when not counted (not a PDF read whole by pypdf with text).
    textless_pages: int | None = None


def finish(text: str, pages: int | None, empty_reason: str, warning: str | None = None) -> Extraction:
    """The result for `text`: cleaned, capped, 'ok' or 'empty' (with `empty_reason`)."""
    # U+FFFD marks what could not be decoded (a PDF font without a Unicode map, bytes
    # outside GB18030): noise, not text.
    text = cjk.fold(_CONTROL.sub("", text).replace("\ufffd", ""))
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        warning = warning or f"文字过多，仅保留前 {MAX_TEXT_CHARS:,} 个字符"
    if not text.strip():
        return Extraction("", pages, "empty", warning or empty_reason or None)
    return Extraction(text, pages, "ok", warning)


def failed(reason_text: str, pages: int | None = None) -> Extraction:
    """A file kept without text, and why."""
    return Extraction("", pages, "failed", reason_text[:MAX_REASON_CHARS])


def reason(exc: BaseException) -> str:
    """A parser's own words for what went wrong, short enough to store."""
    detail = str(exc).strip() or type(exc).__name__
    return detail[:MAX_REASON_CHARS]


def page_list(numbers: list[int]) -> str:
    """Page numbers for a message: "3、7、9", or the first ten and "等"."""
    shown = "、".join(map(str, numbers[:10]))
    return shown + (" 等" if len(numbers) > 10 else "")
