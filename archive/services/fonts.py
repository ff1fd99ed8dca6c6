"""The CJK font the app draws Chinese into PDFs with: download stamps (stamping) and the
sample files (archive.samples), from the Noto Sans CJK collection of Debian's
`fonts-noto-cjk`.

fpdf2 embeds a subset of the font in every PDF. Subsetting the 19 MB Noto CJK
collection takes ~0.4 s per PDF, and its CID-keyed CFF outlines make pypdf read the
text back with a NUL before every character. So the glyphs a document needs are
converted once per process to TrueType outlines, and each PDF gets a tiny TrueType font
with only its own characters: ~20 ms per PDF instead of ~400 ms, and clean text.
"""

import functools
import io
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


class _CJKGlyphs:
    """The Simplified Chinese face of Noto Sans CJK, with converted glyphs cached."""

    def __init__(self, path: Path):
        if not path.exists():
            raise RuntimeError(
                f"CJK font not found at {path}: install the Debian package fonts-noto-cjk"
            )
        faces = TTCollection(str(path), lazy=True).fonts
        self.index = next(
            i for i, face in enumerate(faces) if face["name"].getDebugName(4) == "Noto Sans CJK SC"
        )
        self.font = TTFont(str(path), fontNumber=self.index, lazy=True)
        self.cmap = self.font.getBestCmap()
        self.glyph_set = self.font.getGlyphSet()
        self.metrics = self.font["hmtx"]
        # glyph name -> (compiled TrueType glyph, its point count, its contour count)
        self.compiled: dict[str, tuple[bytes, int, int]] = {}

    def glyph(self, name: str) -> tuple[bytes, int, int]:
        """A compiled TrueType glyph, converted from the cubic CFF outline on first use."""
        entry = self.compiled.get(name)
        if entry is None:
            pen = TTGlyphPen(None)
            self.glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
            glyph = pen.glyph()
            glyph.recalcBounds(None)
            data = glyph.compile(None, recalcBBoxes=False)
            entry = self.compiled[name] = (data, len(glyph.coordinates), max(glyph.numberOfContours, 0))
        return entry

    def font_for(self, text: str) -> bytes:
        """A small TrueType font covering the characters of `text` (plus ASCII)."""
        names, cmap = [".notdef"], {}
        for code in sorted(set(map(ord, text)) | set(range(0x20, 0x7F))):
            name = self.cmap.get(code)
            if name is not None:
                cmap[code] = name
                names.append(name)
        names = list(dict.fromkeys(names))
        compiled = [self.glyph(name) for name in names]
        # Glyphs holding their compiled bytes are written back as they are, not re-encoded.
        glyphs = {name: Glyph(data) for name, (data, _, _) in zip(names, compiled, strict=True)}
        source_head, os2 = self.font["head"], self.font["OS/2"]
        builder = FontBuilder(source_head.unitsPerEm, isTTF=True)
        builder.font.recalcBBoxes = False
        builder.setupGlyphOrder(names)
        builder.setupCharacterMap(cmap)
        # setupGlyf() would decompile every glyph to validate it; these are already valid.
        builder.font["loca"], builder.font["glyf"] = newTable("loca"), newTable("glyf")
        builder.font["glyf"].glyphs, builder.font["glyf"].glyphOrder = glyphs, names
        builder.setupHorizontalMetrics({name: self.metrics[name] for name in names})
        # Bounds are not recomputed on save (fpdf2 is told not to), so maxp must be right already.
        builder.font["maxp"].maxPoints = max(points for _, points, _ in compiled)
        builder.font["maxp"].maxContours = max(contours for _, _, contours in compiled)
        builder.setupHorizontalHeader(ascent=self.font["hhea"].ascent, descent=self.font["hhea"].descent)
        for bound in ("xMin", "yMin", "xMax", "yMax"):
            # The face's own box bounds every subset; cheaper than recomputing it.
            setattr(builder.font["head"], bound, getattr(source_head, bound))
        # FontBuilder stamps the current second; the face's own dates keep a subset,
        # and every PDF drawn with it, the same bytes whenever it is built.
        builder.font["head"].created = source_head.created
        builder.font["head"].modified = source_head.modified
        builder.setupNameTable({"familyName": "Juanzong Sans SC", "styleName": "Regular"})
        builder.setupOS2(
            sTypoAscender=os2.sTypoAscender,
            sTypoDescender=os2.sTypoDescender,
            usWinAscent=os2.usWinAscent,
            usWinDescent=os2.usWinDescent,
            sCapHeight=os2.sCapHeight,
        )
        builder.setupPost()
        out = io.BytesIO()
        builder.save(out)
        return out.getvalue()


@functools.cache
def _cjk_glyphs() -> _CJKGlyphs:
    return _CJKGlyphs(CJK_FONT)


def cjk_font(text: str) -> bytes:
    """A small TrueType font with the glyphs of `text` (plus ASCII), for fpdf2: the one
    way the app draws Chinese into PDFs (download stamps, and the sample files)."""
    return _cjk_glyphs().font_for(text)


def cjk_face_index() -> int:
    """The Simplified Chinese face's index in the CJK_FONT collection (for Pillow)."""
    return _cjk_glyphs().index
