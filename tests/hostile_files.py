"""Broken and hostile files, as uploads bring them in practice: a scan without a text
layer, encrypted and truncated PDFs, a filled-in form, a zip bomb. The tests' own: the
demo and the benchmarks file only the realistic samples of archive.samples.
"""

import functools
import io
import random
import struct
import zlib

from archive import samples


def make_scan_pdf(pages: int = 2) -> bytes:
    """A PDF of page images only, no text layer: what a scanner produces without OCR."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(samples.FIXED_DATE)
    pdf.set_creator("Juanzong samples (scanner)")
    for number in range(1, pages + 1):
        image = samples.page_image([f"房地产买卖合同（扫描件）第{number}页", "甲方：某某房地产开发有限公司"],
                                   (420, 594))
        scan = io.BytesIO()
        image.save(scan, "JPEG", quality=60)
        pdf.add_page()
        pdf.image(scan, x=0, y=0, w=pdf.w, h=pdf.h)
    return bytes(pdf.output())


def _encrypted(data: bytes, *, user_password: str, owner_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _sample_contract() -> bytes:
    rng = random.Random(7)
    return samples.make_pdf("房地产买卖合同", samples.chinese_paragraphs("签约", rng, 3, customer="张伟"))


def make_encrypted_pdf(user_password: str = "secret") -> bytes:
    """A contract PDF that needs `user_password` to be opened at all."""
    return _encrypted(_sample_contract(), user_password=user_password, owner_password="owner-" + user_password)


def make_owner_only_encrypted_pdf() -> bytes:
    """A contract PDF encrypted with an owner password only: it opens with an empty password,
    as scanner and form PDFs that merely forbid printing or editing do."""
    return _encrypted(_sample_contract(), user_password="", owner_password="owner-secret")


def truncate(data: bytes, fraction: float) -> bytes:
    """The first `fraction` of `data`: an interrupted upload or download."""
    return data[: int(len(data) * fraction)]


def make_form_pdf(fields: dict[str, str] | None = None) -> bytes:
    """A one-page PDF with an AcroForm whose text fields are filled in (Chinese values)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        BooleanObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    fields = fields or {"客户姓名": "张伟", "房号": "翠湖苑3栋2单元1201"}
    form = samples.make_pdf("客户资料登记表", ["请填写以下信息。"])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(form)))
    widgets = ArrayObject()
    for row, (name, value) in enumerate(fields.items()):
        top = 700 - 40 * row
        widget = writer.add_annotation(0, DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/T"): TextStringObject(name),
            NameObject("/V"): TextStringObject(value),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (100, top, 400, top + 24)]),
            NameObject("/F"): NumberObject(4),
        }))
        widgets.append(widget.indirect_reference)
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): widgets,
        NameObject("/NeedAppearances"): BooleanObject(True),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@functools.cache
def make_zip_bomb_docx(expanded_bytes: int = 1100 * 2**20) -> bytes:
    """A ~1 MB DOCX whose word/document.xml really inflates to `expanded_bytes` (1.1 GiB).

    Built without holding the payload: one deflated megabyte of zeros ends in a full
    flush, so the compressed block can be repeated and still form one valid stream.
    """
    chunk = bytes(2**20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = expanded_bytes // len(chunk)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    bomb = (block * count + compressor.flush(), crc, count * len(chunk))
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    return _raw_zip({"[Content_Types].xml": _deflated(content_types), "word/document.xml": bomb})


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def _raw_zip(members: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip archive from already-deflated members (zipfile would deflate them itself)."""
    local, central = bytearray(), bytearray()
    for name, (data, crc, size) in members.items():
        encoded = name.encode()
        fields = struct.pack("<HHHHHIIIH", 20, 0, 8, 0, 0x5821, crc, len(data), size, len(encoded))
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields
        central += struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(local)) + encoded
        local += b"PK\x03\x04" + fields + struct.pack("<H", 0) + encoded + data
    end = struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(central), len(local), 0)
    return bytes(local + central + b"PK\x05\x06" + end)
