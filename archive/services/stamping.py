"""Stamping delivered copies of classified PDFs (002:29-47).

Every page of a 秘密-or-above PDF that leaves the archive (download or in-browser
preview) carries the level, the viewer's name and the time, in a header and footer
line and as a large diagonal watermark. Stamping works on a copy of the bytes: the
stored blob, and so its sha256, never changes.
"""

import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.models.enums import Level


class StampError(Exception):
    """The PDF cannot be stamped (damaged, or encrypted with a password)."""


# Scans and photos: delivered at 秘密+ as a PDF of the image, so they carry the stamp.
IMAGE_KINDS = ("png", "jpeg", "tiff")


def image_to_pdf(data: bytes) -> bytes:
    """A PDF with one page per image frame (TIFF scans may hold several)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StampError("图像文件已损坏") from exc
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:], resolution=150)
    return out.getvalue()


@dataclass(frozen=True)
class Stamp:
    level: Level
    viewer: str
    at: datetime

    @property
    def line(self) -> str:
        return f"{self.level.label} · {self.viewer} · {self.at:%Y-%m-%d %H:%M} · 仅限本人查阅，不得外传"

    @property
    def watermark(self) -> str:
        return f"{self.level.label} {self.viewer} {self.at:%Y-%m-%d %H:%M}"


def _overlay(width: float, height: float, stamp: Stamp, font_path: Path):
    """One transparent page of the given size carrying the stamp."""
    from fpdf import FPDF
    from pypdf import PdfReader

    pdf = FPDF(unit="pt", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font("cjk", fname=font_path)
    pdf.fonts["cjk"].ttfont.recalcBBoxes = False
    pdf.add_page()
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
    return PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0]


def stamp_pdf(data: bytes, stamp: Stamp) -> bytes:
    """A copy of the PDF `data` with `stamp` on every page."""
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.errors import PyPdfError

    from archive.samples import cjk_font

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise StampError("PDF 已加密，无法加盖水印")
        writer = PdfWriter(clone_from=reader)
        with tempfile.TemporaryDirectory(prefix="juanzong-stamp-") as tmp:
            # fpdf2 loads fonts only from a path.
            font_path = Path(tmp) / "cjk.ttf"
            font_path.write_bytes(cjk_font(stamp.line + stamp.watermark))
            overlays = {}
            for page in writer.pages:
                page.transfer_rotation_to_content()
                box = page.mediabox
                size = (round(float(box.width), 2), round(float(box.height), 2))
                if size not in overlays:
                    overlays[size] = _overlay(*size, stamp, font_path)
                page.merge_transformed_page(
                    overlays[size], Transformation().translate(float(box.left), float(box.bottom))
                )
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except StampError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise StampError(f"无法为该 PDF 加盖水印：{type(exc).__name__}") from exc
