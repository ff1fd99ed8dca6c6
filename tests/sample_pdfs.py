"""PDFs as the producers of the real world write them, and as uploads break them.

`samples.make_pdf` is one producer (fpdf2 with an embedded TrueType subset). The intake
meets many others: browsers printing to PDF (Chromium embeds CJK fonts as Type 3 or CID
fonts and writes ToUnicode maps from the font's character map), scanners (page images
only: JPEG, CCITT G4, JBIG2), old Chinese producers (non-embedded STSong with a
predefined GBK or UCS-2 CMap, CID fonts without any Unicode map), editors that append
incremental updates, writers of cross-reference streams and object streams,
linearizers, PDF/A converters, form designers, encryption with and without a user
password; and the damage uploads bring. The low-level variants are written object by
object with `assemble`, so each test states exactly the structure it reads.
"""

import io
import re
import zlib

from archive import samples
from archive.services import fonts

CONTRACT = "甲方：翠湖苑开发有限公司。乙方：张伟。合同编号HT-2024-0031，标的为翠湖苑3栋2单元1201。"
# Characters Chromium's ToUnicode maps write as CJK radicals (长 as ⻓ U+2ED3, ...).
RADICAL_PRONE = "长门见车马青贝页风飞黄龙方人十日"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_A4 = b"/MediaBox [0 0 595 842]"


# ---- writing PDFs object by object ---------------------------------------------------


def stream(content: bytes, entries: bytes = b"", *, compress: bool = True) -> bytes:
    """The body of a stream object: dictionary `entries`, /Length, and the data."""
    if compress:
        content, entries = zlib.compress(content), entries + b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(content), entries, content)


def page_pdf(content: bytes, resources: bytes = b"", *, extra: dict[int, bytes] | None = None,
             **layout) -> bytes:
    """One A4 page (object 3) drawing `content` (object 4) with `resources`; `extra`
    objects (numbered from 5) hold fonts and images. `layout` goes to `assemble`."""
    objects = {
        1: _CATALOG,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R %s /Resources << %s >> /Contents 4 0 R >>" % (_A4, resources),
        4: stream(content),
        **(extra or {}),
    }
    return assemble(objects, **layout)


def assemble(objects: dict[int, bytes], *, root: int = 1, xref: str = "table",
             object_stream: tuple[int, ...] = (), prefix: bytes = b"", version: bytes = b"1.7") -> bytes:
    """A PDF of `objects` (number -> body). `xref` is "table" (classic) or "stream"
    (PDF 1.5 cross-reference stream); the numbers in `object_stream` are packed into one
    compressed object stream (needs xref="stream"). `prefix` goes before the header."""
    if object_stream and xref != "stream":
        raise ValueError("objects in an object stream need a cross-reference stream")
    objects = dict(objects)
    packed: dict[int, tuple[int, int]] = {}  # number -> (object stream number, index)
    if object_stream:
        holder = max(objects) + 1
        objects[holder] = _object_stream({n: objects.pop(n) for n in object_stream})
        packed = {n: (holder, i) for i, n in enumerate(object_stream)}
    out = bytearray(prefix + b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    size = max([*objects, *packed]) + 1
    if xref == "table":
        out += _xref_table(offsets, size, root, start=len(out))
    else:
        out += _xref_stream(offsets, packed, size, root, start=len(out))
    return bytes(out)


def _object_stream(members: dict[int, bytes]) -> bytes:
    header, body = [], b""
    for number, data in members.items():
        header.append(b"%d %d" % (number, len(body)))
        body += data + b"\n"
    head = b" ".join(header) + b"\n"
    return stream(head + body, b" /Type /ObjStm /N %d /First %d" % (len(members), len(head)))


def _xref_table(offsets: dict[int, int], size: int, root: int, *, start: int) -> bytes:
    rows = [b"0000000000 65535 f \n"]
    rows += [b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
             for n in range(1, size)]
    return (b"xref\n0 %d\n%s" % (size, b"".join(rows))
            + b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, start))


def _xref_stream(offsets, packed, size: int, root: int, *, start: int) -> bytes:
    number, size = size, size + 1  # the xref stream is an object too
    rows = [b"\x00" + bytes(4) + b"\xff\xff"]
    for n in range(1, size):
        if n == number:
            rows.append(b"\x01" + start.to_bytes(4, "big") + bytes(2))
        elif n in offsets:
            rows.append(b"\x01" + offsets[n].to_bytes(4, "big") + bytes(2))
        elif n in packed:
            holder, index = packed[n]
            rows.append(b"\x02" + holder.to_bytes(4, "big") + index.to_bytes(2, "big"))
        else:
            rows.append(bytes(7))
    body = stream(b"".join(rows), b" /Type /XRef /Size %d /W [1 4 2] /Root %d 0 R" % (size, root))
    return b"%d 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n" % (number, body, start)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be").hex().upper().encode()


def show(text: bytes, font: bytes = b"/F1", *, at: bytes = b"72 760") -> bytes:
    """Content drawing the already encoded string `text` (hex) with `font`."""
    return b"BT %s 12 Tf %s Td <%s> Tj ET\n" % (font, at, text.hex().encode())


# ---- fonts of other producers ------------------------------------------------------------

_ADOBE_GB1 = b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >>"
_SONG_DESCRIPTOR = (b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]"
                    b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>")
_CODECS = {"GBK-EUC-H": "gbk", "GB-EUC-H": "gb2312", "UniGB-UCS2-H": "utf-16-be",
           "UniGB-UTF16-H": "utf-16-be", "ETen-B5-H": "cp950"}


def song_font(cmap: str = "UniGB-UCS2-H") -> dict[int, bytes]:
    """Objects 5-7: STSong-Light, not embedded, with a predefined CMap (for `page_pdf`)."""
    ordering = b"CNS1" if cmap.startswith("ETen") else b"GB1"
    return {
        5: b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /%s /DescendantFonts [6 0 R] >>"
           % cmap.encode(),
        6: b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light %s /FontDescriptor 7 0 R /DW 1000 >>"
           % _ADOBE_GB1.replace(b"GB1", ordering),
        7: _SONG_DESCRIPTOR,
    }


def predefined_cmap_pdf(text: str = CONTRACT, cmap: str = "GBK-EUC-H") -> bytes:
    """Chinese text in a non-embedded Adobe font through a predefined CMap, as old
    Chinese producers and Acrobat's "Asian font pack" documents write it."""
    return page_pdf(show(text.encode(_CODECS[cmap])), b"/Font << /F1 5 0 R >>", extra=song_font(cmap))


def identity_font_pdf(text: str = CONTRACT, *, to_unicode: bool = True, first_glyph: int = 1,
                      **layout) -> bytes:
    """Chinese text in an embedded-style CID font with Identity-H encoding: the codes are
    glyph numbers (from `first_glyph`, as a full font numbers them), mapped back to
    Unicode only by a ToUnicode CMap, if `to_unicode`. Latin text in Helvetica follows."""
    chars = sorted(set(text))
    glyphs = {ch: first_glyph + 7 * i for i, ch in enumerate(chars)}
    codes = b"".join(glyphs[ch].to_bytes(2, "big") for ch in text)
    content = show(codes) + b"BT /F2 12 Tf 72 700 Td (Contract HT-2024-0031) Tj ET\n"
    font = (b"<< /Type /Font /Subtype /Type0 /BaseFont /AAAAAA+SimSun /Encoding /Identity-H"
            b" /DescendantFonts [6 0 R]%s >>" % (b" /ToUnicode 8 0 R" if to_unicode else b""))
    extra = {
        5: font,
        6: b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /AAAAAA+SimSun /CIDSystemInfo << /Registry (Adobe)"
           b" /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /DW 1000 /CIDToGIDMap /Identity >>",
        7: _SONG_DESCRIPTOR.replace(b"STSong-Light", b"AAAAAA+SimSun"),
        8: stream(_to_unicode_cmap(glyphs)),
        9: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    return page_pdf(content, b"/Font << /F1 5 0 R /F2 9 0 R >>", extra=extra, **layout)


def _to_unicode_cmap(glyphs: dict[str, int]) -> bytes:
    entries = b"".join(b"<%04X> <%s>\n" % (code, _utf16(ch)) for ch, code in glyphs.items())
    return (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Adobe-Identity-UCS def"
            b" /CMapType 2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            b"%d beginbfchar\n%sendbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
            % (len(glyphs), entries))


def object_stream_pdf(text: str = CONTRACT) -> bytes:
    """A PDF 1.5 file as compressing writers make it: catalog, pages and fonts packed in
    an object stream, found through a cross-reference stream."""
    return identity_font_pdf(text, xref="stream", object_stream=(1, 2, 3, 5, 6, 7, 9))


# ---- producers -------------------------------------------------------------------------


def chromium_pdfs(pages: dict[str, str]) -> dict[str, bytes]:
    """Each HTML page of `pages` printed to PDF by headless Chromium (one browser for
    all): Skia's output, with tagged structure and an outline from the headings."""
    from playwright.sync_api import sync_playwright

    printed = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN")
            for name, html in pages.items():
                page.set_content(html)
                printed[name] = page.pdf(format="A4", outline=True, tagged=True)
        finally:
            browser.close()
    return printed


def scan_pdf(pages: int = 2, *, bilevel: bool = False) -> bytes:
    """Page images saved as a PDF by Pillow, like a scanner without OCR: JPEG in colour,
    CCITT group 4 when `bilevel` (black and white, as office scanners send faxes)."""
    images = [samples.page_image([f"房地产买卖合同（扫描件）第{n}页"], (620, 877)) for n in range(1, pages + 1)]
    if bilevel:
        images = [image.convert("1") for image in images]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=75)
    return out.getvalue()


def jbig2_scan_pdf() -> bytes:
    """A page whose only content is a JBIG2 image (high-volume scanners' compression).
    The data is not a valid JBIG2 bitstream: reading text must never decode images."""
    image = stream(bytes(range(64)), b" /Type /XObject /Subtype /Image /Width 2480 /Height 3508"
                   b" /BitsPerComponent 1 /ColorSpace /DeviceGray /Filter /JBIG2Decode", compress=False)
    return page_pdf(b"q 595 0 0 842 0 0 cm /Im1 Do Q", b"/XObject << /Im1 5 0 R >>", extra={5: image})


def pdfa_pdf(title: str = "房地产买卖合同", text: str = CONTRACT) -> bytes:
    """An fpdf2 PDF declaring PDF/A-2B, as archiving converters write it: embedded font,
    XMP identification and an sRGB output intent."""
    import tempfile
    from pathlib import Path

    from fpdf import FPDF
    from fpdf.enums import OutputIntentSubType
    from fpdf.output import PDFICCProfile
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with tempfile.TemporaryDirectory(prefix="juanzong-font-") as tmp:
        font = Path(tmp) / "cjk.ttf"
        font.write_bytes(fonts.cjk_font(title + text))
        pdf = FPDF(format="A4")
        pdf.set_creation_date(samples.FIXED_DATE)
        pdf.add_font("cjk", fname=font)
        pdf.add_page()
        pdf.set_font("cjk", size=12)
        pdf.multi_cell(0, 8, f"{title}\n{text}", wrapmode="CHAR")
        pdf.add_output_intent(
            OutputIntentSubType.PDFA, "sRGB IEC61966-2.1", "sRGB", "http://www.color.org",
            dest_output_profile=PDFICCProfile(contents=profile, n=3, alternate="DeviceRGB"),
        )
        pdf.set_xmp_metadata(_PDFA_XMP)
        return bytes(pdf.output())


_PDFA_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"><pdfaid:part>2</pdfaid:part>'
    '<pdfaid:conformance>B</pdfaid:conformance></rdf:Description></rdf:RDF></x:xmpmeta>'
)


def linearized_pdf(text: str = CONTRACT) -> bytes:
    """A "fast web view" file as linearizers lay it out: the linearization dictionary
    first, then a first-page cross-reference section whose trailer points (/Prev) to
    the main one at the end; the final startxref names the first section."""
    first = {10: b"", 11: _CATALOG.replace(b"2 0 R", b"12 0 R"),
             12: b"<< /Type /Pages /Kids [13 0 R] /Count 1 >>",
             13: b"<< /Type /Page /Parent 12 0 R %s /Resources << /Font << /F1 5 0 R >> >> /Contents 14 0 R >>" % _A4,
             14: stream(show(text.encode("utf-16-be"))), 15: stream(b"\x00" * 16)}
    rest = song_font("UniGB-UCS2-H")
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    # Two passes: the linearization dictionary states offsets that depend on its own length.
    total = main_at = 0
    for _ in range(2):
        first[10] = (b"<< /Linearized 1 /L %010d /H [ 0 0 ] /O 13 /E 0 /N 1 /T %010d >>" % (total, main_at))
        data, main_at = _linearized_layout(head, first, rest)
        total = len(data)
    return data


def _linearized_layout(head: bytes, first: dict[int, bytes], rest: dict[int, bytes]):
    out = bytearray(head)
    offsets = {10: len(out)}
    out += b"10 0 obj\n%s\nendobj\n" % first[10]
    first_xref_at = len(out)
    # Placeholder rows, rewritten below once the objects' offsets are known.
    section = b"xref\n10 6\n" + b"0000000000 00000 n \n" * 6
    trailer = b"trailer\n<< /Size 16 /Root 11 0 R /Prev %010d >>\nstartxref\n0\n%%%%EOF\n"
    out += section + trailer % 0
    for number in range(11, 16):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, first[number])
    for number, body in rest.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    main_at = len(out)
    rows = [b"0000000000 65535 f \n"] + [
        b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n" for n in range(1, 10)]
    out += b"xref\n0 10\n%strailer\n<< /Size 10 >>\nstartxref\n%d\n%%%%EOF\n" % (b"".join(rows), first_xref_at)
    filled = b"xref\n10 6\n" + b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(10, 16))
    start = first_xref_at
    out[start : start + len(section) + len(trailer % 0)] = filled + trailer % main_at
    return bytes(out), main_at


# ---- what editors add to a PDF ---------------------------------------------------------


def _rewrite(data: bytes, change) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_outline(data: bytes, titles: list[str]) -> bytes:
    """`data` with a bookmark per title, each nested under the one before."""
    def add(writer):
        parent = None
        for title in titles:
            parent = writer.add_outline_item(title=title, page_number=0, parent=parent)
    return _rewrite(data, add)


def encrypted(data: bytes, algorithm: str, user_password: str = "") -> bytes:
    """`data` encrypted with pypdf: RC4-40, RC4-128, AES-128, AES-256-R5 or AES-256. An
    empty `user_password` (owner password only) opens without asking, as scanner and
    form PDFs that merely forbid printing or editing do."""
    return _rewrite(data, lambda writer: writer.encrypt(user_password, "owner-pw", algorithm=algorithm))


def append_revision(data: bytes, objects: dict[int, bytes]) -> bytes:
    """An incremental update: `objects` (new or replacing numbers) appended with their
    own cross-reference section, whose trailer points back (/Prev) to the last one."""
    from pypdf import PdfReader

    trailer = PdfReader(io.BytesIO(data)).trailer
    previous = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    size = max(int(trailer["/Size"]), max(objects) + 1)
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    rows = []
    for number in sorted(objects):
        rows.append(b"%d 1\n%010d 00000 n \n" % (number, len(out)))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    start = len(out)
    root = trailer.raw_get("/Root").idnum
    out += (b"xref\n%strailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (b"".join(rows), size, root, previous, start))
    return bytes(out)


def revised_contract() -> tuple[bytes, str, str]:
    """A contract whose second revision replaces the first page's text, as an editor
    saving "incrementally" does: (pdf, the text before, the text after)."""
    from pypdf import PdfReader

    before, after = "乙方：张伟", "乙方变更为：李娜"
    data = samples.make_pdf("房地产买卖合同", [before])
    page = PdfReader(io.BytesIO(data)).pages[0]
    number, base = page.indirect_reference.idnum, 1000
    font = song_font()
    revision = {
        number: b"<< /Type /Page /Parent %d 0 R %s /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (page.raw_get("/Parent").idnum, _A4, base + 5, base),
        base: stream(show(after.encode("utf-16-be"))),
        base + 5: font[5].replace(b"6 0 R", b"%d 0 R" % (base + 6)),
        base + 6: font[6].replace(b"7 0 R", b"%d 0 R" % (base + 7)),
        base + 7: font[7],
    }
    return append_revision(data, revision), before, after


def form_only_pdf(fields: dict[str, str]) -> bytes:
    """A page with no content at all, only filled-in form fields (text fields, a
    checkbox and a list box): all a form designer's blank form plus its data holds."""
    names = list(fields)
    widgets = {10 + i: b"<< /Type /Annot /Subtype /Widget /FT /Tx /T <FEFF%s> /V <FEFF%s> /Rect [100 %d 400 %d] /P 3 0 R >>"
               % (_utf16(name), _utf16(fields[name]), 700 - 40 * i, 724 - 40 * i) for i, name in enumerate(names)}
    widgets[8] = b"<< /Type /Annot /Subtype /Widget /FT /Btn /T (agree) /V /Yes /AS /Yes /Rect [100 100 120 120] /P 3 0 R >>"
    widgets[9] = b"<< /Type /Annot /Subtype /Widget /FT /Ch /Ff 131072 /T <FEFF%s> /V <FEFF%s> /Opt [<FEFF%s>] /Rect [100 60 400 84] /P 3 0 R >>" % (
        _utf16("付款方式"), _utf16("按揭"), _utf16("按揭"))
    refs = b" ".join(b"%d 0 R" % n for n in sorted(widgets))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] /NeedAppearances true >> >>" % refs,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R %s /Annots [%s] >>" % (_A4, refs),
        **widgets,
    }
    return assemble(objects)


def blank_pages(count: int) -> bytes:
    """`count` empty A4 pages sharing one page tree."""
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(count))
    objects = {1: _CATALOG, 2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)}
    objects.update({10 + i: b"<< /Type /Page /Parent 2 0 R %s >>" % _A4 for i in range(count)})
    return assemble(objects)


# ---- damage and hostility -----------------------------------------------------------------


def with_junk_before_header(data: bytes, junk: bytes = b"Content-Type: application/pdf\r\n\r\n") -> bytes:
    """What mail gateways and download scripts leave in front of a PDF."""
    return junk + data


def without_trailer(data: bytes) -> bytes:
    """`data` with its last cross-reference section, trailer and startxref gone but the
    %%EOF kept: a botched edit, not an interrupted download."""
    return data[: data.rindex(b"xref")] + b"%%EOF\n"


def with_bad_startxref(data: bytes) -> bytes:
    """`data` whose startxref points past the end of the file."""
    return data[: data.rindex(b"startxref")] + b"startxref\n999999999\n%%EOF\n"


def with_junk_after_end(data: bytes) -> bytes:
    """`data` followed by junk ending in another %%EOF (with no startxref before it)."""
    return data + b"--boundary-- \r\n" * 50 + b"%%EOF\n"


def zero_length_streams_pdf() -> bytes:
    """Content, font file, ToUnicode map and image streams that are all empty."""
    empty = b"<< /Length 0 >>\nstream\n\nendstream"
    extra = {
        5: b"<< /Type /Font /Subtype /Type0 /BaseFont /Empty /Encoding /Identity-H /DescendantFonts [6 0 R]"
           b" /ToUnicode 8 0 R >>",
        6: b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Empty /CIDSystemInfo << /Registry (Adobe)"
           b" /Ordering (Identity) /Supplement 0 >> /FontDescriptor << /Type /FontDescriptor /FontName /Empty"
           b" /FontFile2 8 0 R >> >>",
        7: b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /BitsPerComponent 8 /ColorSpace /DeviceGray"
           b" /Filter /FlateDecode /Length 0 >>\nstream\n\nendstream",
        8: empty,
    }
    data = page_pdf(b"", b"/Font << /F1 5 0 R >> /XObject << /Im1 7 0 R >>", extra=extra)
    return data.replace(b"4 0 obj\n" + stream(b""), b"4 0 obj\n" + empty)


def nested_array_bomb(depth: int = 50_000) -> bytes:
    """An array nested `depth` deep: a parser that recurses per level overflows."""
    return page_pdf(b"", b"/Nested " + b"[" * depth + b"]" * depth)


def page_tree_cycle() -> bytes:
    """A page tree whose node lists itself among its kids."""
    objects = {1: _CATALOG, 2: b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
               3: b"<< /Type /Page /Parent 2 0 R %s >>" % _A4}
    return assemble(objects)


def page_tree_bomb(width: int = 400, depth: int = 3) -> bytes:
    """A few kilobytes naming width**depth pages: each level lists the next `width` times."""
    objects = {1: _CATALOG}
    for level in range(depth):
        kids = b" ".join([b"%d 0 R" % (level + 3)] * width)
        objects[level + 2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, width ** (depth - level))
    objects[depth + 2] = b"<< /Type /Page %s >>" % _A4
    return assemble(objects)


def form_xobject_loop() -> bytes:
    """A form XObject that draws itself (and its text) forever."""
    form = stream(b"BT /F1 12 Tf 72 700 Td (Loop) Tj ET /X1 Do",
                  b" /Type /XObject /Subtype /Form /BBox [0 0 595 842]"
                  b" /Resources << /XObject << /X1 5 0 R >> /Font << /F1 6 0 R >> >>")
    helvetica = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    return page_pdf(b"/X1 Do", b"/XObject << /X1 5 0 R >> /Font << /F1 6 0 R >>", extra={5: form, 6: helvetica})


def heavy_page_pdf(operators: int = 200_000, *, in_form: bool = False) -> bytes:
    """A page (or a form XObject it draws) of `operators` path segments: a floor plan's
    worth of drawing, megabytes decoded from a small file, with one label of text."""
    drawing = b"BT /F1 12 Tf 72 800 Td (Plan) Tj ET\n" + b"10 10 m 20 20 l S\n" * operators
    helvetica = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    if not in_form:
        return page_pdf(drawing, b"/Font << /F1 5 0 R >>", extra={5: helvetica})
    form = stream(drawing, b" /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>")
    return page_pdf(b"q /Fm0 Do Q", b"/XObject << /Fm0 6 0 R >> /Font << /F1 5 0 R >>",
                    extra={5: helvetica, 6: form})


def text_pages_pdf(pages: int, operators_per_page: int) -> bytes:
    """`pages` pages each showing `operators_per_page` short strings: slow to read whole."""
    content = stream(b"BT /F1 9 Tf 20 800 Td " + b"(HT-2024-0031) Tj 0 -1 Td " * operators_per_page + b"ET")
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(pages))
    objects = {1: _CATALOG, 2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages), 4: content,
               5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    objects.update({10 + i: b"<< /Type /Page /Parent 2 0 R %s /Resources << /Font << /F1 5 0 R >> >>"
                            b" /Contents 4 0 R >>" % _A4 for i in range(pages)})
    return assemble(objects)


def invalid_page_tree(damage: str, texts: tuple[str, ...] = ("房地产买卖合同第一页", "付款方式第二页",
                                                             "交付条件第三页")) -> bytes:
    """A PDF of one page per text whose /Pages entry pypdf cannot follow, while PDFium
    (like poppler and the browsers) repairs it and opens every page. `damage`:
    "reference" — the catalog's /Pages is an object holding only a reference to the
    real page tree ("Invalid object in /Pages" in pypdf); "open kids" — the tree's /Kids
    array is never closed (pypdf finds no page)."""
    count = len(texts)
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(count))
    tree = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    objects = {1: _CATALOG, **song_font("UniGB-UCS2-H")}
    if damage == "reference":
        objects[2], objects[9] = b"9 0 R", tree
    elif damage == "open kids":
        objects[2] = tree.replace(b"] /Count", b" /Count")
    else:
        raise ValueError(damage)
    for i, text in enumerate(texts):
        objects[10 + i] = (b"<< /Type /Page /Parent 2 0 R %s /Resources << /Font << /F1 5 0 R >> >>"
                           b" /Contents %d 0 R >>" % (_A4, 20 + i))
        objects[20 + i] = stream(show(text.encode("utf-16-be")))
    return assemble(objects)


def missing_page_tree(data: bytes) -> bytes:
    """`data` (a PDF of `assemble`) whose catalog names a page tree that is not in the
    file: no reader can follow it; only a rebuilt tree over the page objects reads it."""
    return data.replace(_CATALOG, b"<< /Type /Catalog /Pages 999 0 R >>", 1)
