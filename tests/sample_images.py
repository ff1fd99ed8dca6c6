"""Images as uploads can abuse them: few bytes on disk, many pixels once decoded."""

import struct
import zlib


def huge_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG of `width` x `height` pixels: 20000 x 20000 (400 million
    pixels) is about 50 KB, as every row deflates to almost nothing."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "none", then the packed bits
    deflate = zlib.compressobj(9)
    rows_at_once = max(1, 2**20 // len(row))
    data = b"".join(deflate.compress(row * min(rows_at_once, height - done))
                    for done in range(0, height, rows_at_once)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
