"""A scanned test set: Chinese pages rendered with a fixed seed, then scanned badly.

Each document is a few lines of the archive's own prose (`samples.chinese_paragraphs`),
drawn at 200 dpi in Noto Sans CJK and damaged as scanners and phones damage paper:
noise, skew of a few degrees, JPEG artefacts, CCITT G4 bilevel TIFF, a multi-page TIFF,
an image-only PDF, traditional script, pages turned 90°, 180° and 270°. The ground truth
is the simplified text, line by line (search folds traditional to simplified).
"""

import io
import random
import re
from dataclasses import dataclass

from archive import samples
from archive.services.fonts import CJK_FONT, cjk_face_index

SEED = 20
DPI = 200
FONT_PX = 36  # 13 points at 200 dpi
LINE_CHARS = 22
_CATEGORIES = ["签约", "维修", "入伙", "赔付", "诉讼", "办证", "商铺租赁", "销售", "其他"]
# How each document is scanned: (file kind, pages, damage).
LAYOUT = [
    ("png", 1, "clean"), ("png", 1, "noise"), ("png", 1, "skew"), ("png", 1, "noise+skew"),
    ("png", 1, "skew-"), ("jpeg", 1, "jpeg"), ("jpeg", 1, "jpeg+skew"), ("jpeg", 1, "jpeg+noise"),
    ("g4", 1, "bilevel"), ("g4", 1, "bilevel+skew"), ("tiff", 3, "noise"), ("pdf", 2, "jpeg+skew"),
    ("png", 1, "traditional"), ("jpeg", 1, "traditional+skew"), ("g4", 1, "traditional"),
    ("png", 1, "rotate90"), ("jpeg", 1, "rotate270"), ("png", 1, "rotate180"),
    ("png", 1, "skew3"), ("jpeg", 1, "noise+skew"), ("png", 1, "clean"),
]
TYPES = {"png": "png", "jpeg": "jpg", "g4": "tif", "tiff": "tif", "pdf": "pdf"}


@dataclass
class Scan:
    name: str
    data: bytes
    lines: list[str]  # the simplified text, one entry per printed line, every page
    damage: str
    pages: int


def scanned_set(seed: int = SEED) -> list[Scan]:
    """The documents of LAYOUT, rendered and damaged; the same bytes for the same seed."""
    rng = random.Random(seed)
    scans = []
    for number, (kind, pages, damage) in enumerate(LAYOUT, start=1):
        page_lines = [_lines(rng, _CATEGORIES[(number + p) % len(_CATEGORIES)]) for p in range(pages)]
        images = [_scan(_render(lines, damage), damage, rng) for lines in page_lines]
        scans.append(Scan(f"扫描件{number:02d}_{damage}.{TYPES[kind]}", _save(images, kind),
                          [line for lines in page_lines for line in lines], damage, pages))
    return scans


def _lines(rng: random.Random, category: str) -> list[str]:
    text = "".join(samples.chinese_paragraphs(category, rng, 1))
    lines = [text[i:i + LINE_CHARS] for i in range(0, len(text), LINE_CHARS)]
    return [line for line in lines if line.strip()][:5]


def _render(lines: list[str], damage: str):
    from PIL import Image, ImageDraw, ImageFont

    if "traditional" in damage:
        import opencc

        lines = [opencc.OpenCC("s2t").convert(line) for line in lines]
    font = ImageFont.truetype(str(CJK_FONT), FONT_PX, index=cjk_face_index())
    image = Image.new("L", (1654, 120 + len(lines) * int(FONT_PX * 1.8)), 240)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((110, 60 + row * int(FONT_PX * 1.8)), line, fill=25, font=font)
    return image


def _scan(image, damage: str, rng: random.Random):
    import numpy as np
    from PIL import Image

    angle = {"skew": 1.5, "skew-": -2.0, "skew3": 3.0}.get(damage.split("+")[-1] if "skew" in damage else "", 0)
    if "skew" in damage and not angle:
        angle = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.5)
    if angle:
        image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=240)
    if "noise" in damage or "jpeg" in damage:
        pixels = np.asarray(image, dtype=np.int16)
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 18, pixels.shape)
        image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    match = re.search(r"rotate(\d+)", damage)
    if match:
        image = image.rotate(int(match.group(1)), expand=True, fillcolor=240)
    return image


def _save(images, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "png":
        images[0].save(out, "PNG")
    elif kind == "jpeg":
        images[0].convert("RGB").save(out, "JPEG", quality=55)
    elif kind == "g4":
        bilevel = [image.point(lambda v: 255 if v > 140 else 0).convert("1") for image in images]
        bilevel[0].save(out, "TIFF", compression="group4", save_all=True, append_images=bilevel[1:], dpi=(DPI, DPI))
    elif kind == "tiff":
        images[0].save(out, "TIFF", compression="tiff_deflate", save_all=True, append_images=images[1:])
    else:
        rgb = [image.convert("RGB") for image in images]
        rgb[0].save(out, "PDF", save_all=True, append_images=rgb[1:], resolution=DPI, quality=60)
    return out.getvalue()


_PUNCTUATION = re.compile(r"[\W_]", re.UNICODE)


def queries(scans: list[Scan], per_document: int = 3, seed: int = SEED) -> list[str]:
    """2–6-character phrases cut from the documents' lines (no punctuation in them)."""
    rng = random.Random(seed + 1)
    found: list[str] = []
    for scan in scans:
        for _ in range(per_document):
            for _attempt in range(50):
                line = rng.choice(scan.lines)
                size = rng.randint(2, 6)
                start = rng.randrange(0, max(1, len(line) - size + 1))
                phrase = line[start:start + size]
                if len(phrase) == size and not _PUNCTUATION.search(phrase) and phrase not in found:
                    found.append(phrase)
                    break
    return found
