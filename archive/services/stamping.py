"""Stamping delivered copies of classified PDFs (002:29-47).

Every page of a 秘密-or-above PDF that leaves the archive (download or in-browser
preview) carries the level, the viewer's name and the time, in a header and footer
line and as a large diagonal watermark. Stamping works on a copy of the bytes: the
stored blob, and so its sha256, never changes.
"""

import io
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.clock import local
from archive.models.enums import Level


class StampError(Exception):
    """The file cannot be stamped: damaged, encrypted with a password, or too large or
    too complex to stamp within the time budget."""


# Scans and photos: delivered at 秘密+ as a PDF of the image, so they carry the stamp.
IMAGE_KINDS = ("png", "jpeg", "tiff")
# Stamping runs inside the download request (gunicorn gives a worker 30 s): converting an
# image and stamping the PDF have this long each.
TIME_BUDGET_SECONDS = 10.0
# The stamped copy is the whole file rewritten, and pypdf reads and copies every object
# first, at up to 0.25 ms each, which cannot be interrupted: 30 000 objects take up to
# 7.5 s. A 5 000-page PDF of text has about 10 000.
MAX_OBJECTS = 30_000


def image_to_pdf(data: bytes) -> bytes:
    """A PDF with one page per image frame (TIFF scans may hold several).

    Frames are converted one at a time, so memory holds one page of pixels. Refused
    with a StampError: an image that cannot be read, a frame of more than
    `filetypes.MAX_IMAGE_PIXELS` pixels (filing refuses those; older files may hold
    them), more than `pagetree.MAX_PAGES` frames, or work beyond `TIME_BUDGET_SECONDS`.
    """
    from PIL import Image, ImageSequence, UnidentifiedImageError
    from pypdf import PdfReader, PdfWriter

    from archive.services.extraction.pagetree import MAX_PAGES
    from archive.services.filetypes import MAX_IMAGE_PIXELS

    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    writer = PdfWriter()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if getattr(image, "n_frames", 1) > MAX_PAGES:
                raise StampError(f"图像页数过多（超过 {MAX_PAGES} 页的上限）")
            for frame in ImageSequence.Iterator(image):
                _check_time(deadline, "图像页数过多或过大")
                width, height = frame.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise StampError(f"图像尺寸过大（{width} × {height} 像素）")
                page = io.BytesIO()
                frame.convert("RGB").save(page, "PDF", resolution=150)
                writer.add_page(PdfReader(page).pages[0])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own check, at twice its limit, fires while the header is read.
        raise StampError("图像尺寸过大") from exc
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as exc:
        raise StampError("图像文件已损坏") from exc
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class Stamp:
    level: Level
    viewer: str
    at: datetime
    # An electronic loan's number: every page delivered through a loan names it, whatever
    # the level (issue 16).
    loan: str = ""

    @property
    def line(self) -> str:
        lent = f"借阅编号 {self.loan} · " if self.loan else ""
        return (f"{self.level.label} · {self.viewer} · {lent}{local(self.at):%Y-%m-%d %H:%M}"
                " · 仅限本人查阅，不得外传")

    @property
    def watermark(self) -> str:
        return f"{self.level.label} {self.viewer} {local(self.at):%Y-%m-%d %H:%M}"


# On every page of a copy handed to an external reader (000:844, 003:97).
CERTIFIED = "与原件核对无异 · 原件存于档案室"


@dataclass(frozen=True)
class CopyStamp:
    """The certification on a copy handed to an external reader, with the loan number."""

    loan_number: str
    at: datetime

    @property
    def line(self) -> str:
        return f"{CERTIFIED} · 借阅编号 {self.loan_number} · {local(self.at):%Y-%m-%d}"

    @property
    def watermark(self) -> str:
        return f"{CERTIFIED} {self.loan_number}"


@dataclass(frozen=True)
class _Placement:
    """Where a page shows the stamp: the size of the page as displayed (after /Rotate)
    and the matrix from that upright frame to the page's own coordinates."""

    size: tuple[int, int]
    matrix: tuple[float, ...]


def stamp_pdf(data: bytes, stamp: Stamp | CopyStamp) -> bytes:
    """A copy of the PDF `data` with `stamp` on every page.

    The stamp is a form XObject per page size, drawn after each page's own content; that
    content is referenced, never parsed or copied, so pages sharing one content stream
    cost what any page costs (docs/hardening.md). Refused with a StampError: an
    encrypted or damaged PDF, more than `pagetree.MAX_PAGES` pages or `MAX_OBJECTS`
    objects, or work beyond `TIME_BUDGET_SECONDS`.
    """
    from fpdf.errors import FPDFException
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    from archive.services.extraction import pagetree

    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise StampError("PDF 已加密，无法加盖水印")
        pagetree.require_at_most(reader)
        objects = sum(map(len, reader.xref.values())) + len(reader.xref_objStm)
        if objects > MAX_OBJECTS:
            raise StampError(f"PDF 结构过于复杂（共 {objects} 个对象，超过 {MAX_OBJECTS} 个的上限）")
        writer = PdfWriter(clone_from=reader)
        pages = _distinct(writer.pages, deadline)
        placements = [_placement(page) for page in pages]
        forms = _overlay_forms(writer, sorted({p.size for p in placements}), stamp, deadline)
        _Drawing(writer, forms).add(pages, placements, deadline)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except StampError:
        raise
    except pagetree.TooManyPages as exc:
        raise StampError(str(exc)) from exc
    except (PyPdfError, FPDFException, ValueError, KeyError, TypeError, OSError) as exc:
        raise StampError(f"无法为该 PDF 加盖水印：{type(exc).__name__}") from exc


def _check_time(deadline: float, subject: str = "PDF 过于复杂") -> None:
    if time.monotonic() > deadline:
        raise StampError(f"{subject}，加盖水印超过 {TIME_BUDGET_SECONDS:g} 秒")


def _distinct(pages, deadline: float) -> list:
    """The pages, each once: a page tree may list one page object several times."""
    seen, distinct = set(), []
    for page in pages:
        _check_time(deadline)
        key = id(page.indirect_reference.get_object()) if page.indirect_reference else id(page)
        if key not in seen:
            seen.add(key)
            distinct.append(page)
    return distinct


# PDF 1.7 caps a page at 200 inches (14 400 points) a side: a bigger box is no real page.
_MAX_SIDE = 14_400


def _placement(page) -> _Placement:
    """The visible box (crop box, else media box; inherited from the page tree) turned
    upright as the page's /Rotate shows it."""
    box = page.get_inherited("/CropBox") or page.get_inherited("/MediaBox")
    if box is None:
        raise ValueError("page without a media box")
    x0, y0, x1, y1 = (float(value) for value in box)  # any two opposite corners
    left, bottom = min(x0, x1), min(y0, y1)
    width, height = abs(x1 - x0), abs(y1 - y0)
    if not (1 <= width <= _MAX_SIDE and 1 <= height <= _MAX_SIDE):
        raise StampError(f"PDF 页面尺寸异常（{width:g} × {height:g} 点）")
    rotate = page.get_inherited("/Rotate")
    rotate = int(rotate) % 360 if isinstance(rotate, (int, float)) else 0
    # Display -> page coordinates: the page rotated back counter-clockwise by /Rotate.
    matrix = {
        90: (0, 1, -1, 0, left + width, bottom),
        180: (-1, 0, 0, -1, left + width, bottom + height),
        270: (0, -1, 1, 0, left, bottom + height),
    }.get(rotate, (1, 0, 0, 1, left, bottom))
    size = (height, width) if rotate in (90, 270) else (width, height)
    # Whole points: scans vary by fractions of a point from page to page, and each size
    # costs a form; half a point is invisible in where the stamp sits.
    return _Placement(size=(round(size[0]), round(size[1])), matrix=matrix)


def _overlay_forms(writer, sizes: list[tuple[int, int]], stamp: Stamp | CopyStamp,
                   deadline: float) -> dict:
    """A form XObject (added to `writer`) per upright page size, carrying the stamp.

    fpdf2 draws them all as pages of one document, so the font is embedded once. Each
    size costs ~5 ms: a file of thousands of page sizes meets the time budget here.
    """
    from fpdf import FPDF
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DecodedStreamObject, FloatObject, NameObject

    from archive.services.fonts import cjk_font

    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    with tempfile.TemporaryDirectory(prefix="juanzong-stamp-") as tmp:
        # fpdf2 loads fonts only from a path.
        font_path = Path(tmp) / "cjk.ttf"
        font_path.write_bytes(cjk_font(stamp.line + stamp.watermark))
        pdf.add_font("cjk", fname=font_path)
        pdf.fonts["cjk"].ttfont.recalcBBoxes = False
        for width, height in sizes:
            _check_time(deadline)
            pdf.add_page(format=(width, height))
            _draw_stamp(pdf, width, height, stamp)
        rendered = PdfReader(io.BytesIO(bytes(pdf.output()))).pages
    _check_time(deadline)
    forms = {}
    for (width, height), page in zip(sizes, rendered, strict=True):
        form = DecodedStreamObject()
        form.set_data(b"\n".join(_content_streams(page)))
        form.update({
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject(map(FloatObject, (0, 0, width, height))),
            NameObject("/Resources"): page["/Resources"].clone(writer),
        })
        forms[(width, height)] = writer._add_object(form.flate_encode())
    return forms


def _draw_stamp(pdf, width: float, height: float, stamp: Stamp | CopyStamp) -> None:
    """The header and footer line and the diagonal watermark on the current page."""
    line_size = max(6.0, min(9.0, width / 70))
    pdf.set_font("cjk", size=line_size)
    pdf.set_text_color(190, 0, 0)
    for y in (4.0, height - line_size - 6):
        pdf.set_xy(0, y)
        pdf.cell(width, line_size + 2, stamp.line, align="C")
    size = max(12.0, min(width, height) / 14)
    pdf.set_font("cjk", size=size)
    with pdf.local_context(fill_opacity=0.18, text_color=(120, 120, 120)):
        for fraction in (0.3, 0.7):
            cy = height * fraction
            with pdf.rotation(angle=30, x=width / 2, y=cy):
                pdf.set_xy(0, cy - size / 2)
                pdf.cell(width, size, stamp.watermark, align="C")


def _content_streams(page) -> list[bytes]:
    from pypdf.generic import ArrayObject

    contents = page["/Contents"]
    streams = contents if isinstance(contents, ArrayObject) else [contents]
    return [s.get_object().get_data() for s in streams]


class _Drawing:
    """Adds the stamp to pages: each page's /Contents becomes
    [q, its own streams..., Q, draw] where `draw` places the form XObject for its size,
    named in the page's resources. The q/Q pair keeps the page's graphics state from
    moving or clipping the stamp. Streams and arrays shared by pages stay shared."""

    def __init__(self, writer, forms: dict):
        from pypdf.generic import DecodedStreamObject

        self.writer = writer
        self.forms = forms
        self.streams: dict[bytes, object] = {}  # content -> reference, for q, Q and draws
        self.wrapped: dict[tuple[int, bytes], object] = {}  # (shared array, draw) -> new array
        self._stream_type = DecodedStreamObject

    def _stream(self, content: bytes):
        if content not in self.streams:
            stream = self._stream_type()
            stream.set_data(content)
            self.streams[content] = self.writer._add_object(stream)
        return self.streams[content]

    def add(self, pages: list, placements: list[_Placement], deadline: float) -> None:
        for page, placement in zip(pages, placements, strict=True):
            _check_time(deadline)
            name = self._name_in_resources(page, self.forms[placement.size])
            matrix = " ".join(f"{value:.2f}" for value in placement.matrix)
            draw = f"q {matrix} cm {name} Do Q".encode()
            self._wrap_contents(page, draw)

    def _name_in_resources(self, page, form) -> str:
        """The name `form` has in the page's XObject resources, added if missing. A
        resource dictionary shared with other pages gains the name for all of them."""
        from pypdf.generic import DictionaryObject, NameObject

        holder, seen = page, set()
        while "/Resources" not in holder and id(holder) not in seen:
            seen.add(id(holder))  # a /Parent chain may loop
            parent = _resolved(holder, "/Parent")
            if not isinstance(parent, DictionaryObject):
                break
            holder = parent
        resources = _resolved(holder, "/Resources")
        if not isinstance(resources, DictionaryObject):
            resources = page[NameObject("/Resources")] = DictionaryObject()
        xobjects = _resolved(resources, "/XObject")
        if not isinstance(xobjects, DictionaryObject):
            xobjects = resources[NameObject("/XObject")] = DictionaryObject()
        name = f"/JuanzongStamp{form.idnum}"
        while name in xobjects and xobjects.raw_get(name) != form:
            name += "x"  # the page's own resource of that name stays untouched
        xobjects[NameObject(name)] = form
        return name

    def _wrap_contents(self, page, draw: bytes) -> None:
        from pypdf.generic import ArrayObject, IndirectObject, NameObject, StreamObject

        raw = page.raw_get("/Contents") if "/Contents" in page else None
        own = raw.get_object() if raw is not None else None
        key = None
        if isinstance(own, ArrayObject):
            streams = list(own)
            if isinstance(raw, IndirectObject):
                key = (raw.idnum, draw)
        elif isinstance(own, StreamObject):
            streams = [raw]
        else:
            streams = []
        if key in self.wrapped:
            page[NameObject("/Contents")] = self.wrapped[key]
            return
        streams = [s if isinstance(s, IndirectObject) else self.writer._add_object(s) for s in streams]
        if streams:
            streams = [self._stream(b"q\n"), *streams, self._stream(b"\nQ\n")]
        contents = ArrayObject([*streams, self._stream(draw)])
        if key is not None:
            contents = self.wrapped[key] = self.writer._add_object(contents)
        page[NameObject("/Contents")] = contents


def _resolved(dictionary, key: str):
    """dictionary[key] with a reference followed, or None."""
    value = dictionary.get(key)
    return value.get_object() if value is not None else None
