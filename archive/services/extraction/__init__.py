"""Text and page count of an accepted upload, for the index and the volume index.

Runs inside the upload request, after `filetypes.inspect` accepted the bytes and outside
any database transaction. It never raises for bad content: a file whose text cannot be
read is still filed, with the reason kept in `error`, because losing the document would
be worse than not finding it by text. PDFs are read by `pdf`, DOCX by `word`.
"""

import io
import logging

from archive.services.extraction import pdf, word
from archive.services.extraction.result import MAX_TEXT_CHARS, Extraction, failed, finish
from archive.services.filetypes import FileType

__all__ = ["MAX_TEXT_CHARS", "Extraction", "extract"]

log = logging.getLogger(__name__)

_KIND_LABELS = {"pdf": "PDF 文件", "docx": "Word 文件", "txt": "文本文件"}


def extract(data: bytes, ftype: FileType) -> Extraction:
    """Text and page count of `data`, an upload `filetypes.inspect` accepted as `ftype`.

    Never raises for bad content: a file that cannot be parsed gives status 'failed' and
    the reason. Images, audio and video are 'skipped' (images count as one page, TIFF as
    its number of frames).
    """
    try:
        if ftype.kind == "pdf":
            return pdf.read(data)
        if ftype.kind == "docx":
            return word.read(data)
        if ftype.kind == "txt":
            return finish(_decode_text(data), None, "")
        if ftype.kind in ("jpeg", "png"):
            return Extraction("", 1, "skipped", None)
        if ftype.kind == "tiff":
            return Extraction("", _tiff_frames(data), "skipped", None)
        return Extraction("", None, "skipped", None)
    except Exception as exc:  # any parser failure: keep the file, say why
        log.info("text extraction failed for a %s upload", ftype.kind, exc_info=True)
        # The parser's own (English) words go to the log; the archive shows its own.
        detail = pdf.damage(exc) if ftype.kind == "pdf" else "文件结构无法解析"
        return failed(f"{_KIND_LABELS.get(ftype.kind, '文件')}无法解析（{detail}），未提取文字")


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
