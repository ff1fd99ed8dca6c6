"""OCR engines compared on the scanned test set (tests/scans.py): the share of 2–6-character
phrases found in each engine's text, and seconds per page, one thread each.

RapidOCR as the archive runs it (archive/services/ocr.py) against Tesseract 5 with
Debian's `tesseract-ocr-chi-sim` (not a dependency of the archive: install it to run
this). A phrase counts as found in a document whose true text holds it when the OCR text
holds it too (spaces removed, full-width forms and traditional script folded).

    .venv/bin/python bench/ocr_engines.py
"""

import os
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KINDS = {"png": "png", "jpg": "jpeg", "tif": "tiff", "pdf": "pdf"}


def _plain(text: str) -> str:
    import opencc

    return opencc.OpenCC("t2s").convert(unicodedata.normalize("NFKC", "".join(text.split())))


def rapidocr(image) -> str:
    from archive.services import ocr

    return ocr.read_page(image, ocr.engine(1)).text


def tesseract(image) -> str:
    import io

    out = io.BytesIO()
    image.save(out, "PNG")
    return subprocess.run(["tesseract", "-", "-", "-l", "chi_sim"], input=out.getvalue(),
                          capture_output=True, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}
                          ).stdout.decode("utf-8", "replace")


def main() -> None:
    from archive.services import ocr
    from tests import scans

    the_set = scans.scanned_set()
    phrases = scans.queries(the_set)
    engines = {"RapidOCR (PP-OCRv4 det + PP-OCRv5 rec)": rapidocr}
    if shutil.which("tesseract"):
        engines["Tesseract 5 chi_sim"] = tesseract
    rapidocr(next(ocr.page_images(the_set[0].data, "png")))  # load the models first
    print("| engine | phrases found | traditional pages | s/page |")
    print("|---|---:|---:|---:|")
    for label, read in engines.items():
        texts, seconds, pages = {}, 0.0, 0
        for scan in the_set:
            start = time.perf_counter()
            parts = [read(image) for image in ocr.page_images(scan.data, KINDS[scan.name.rsplit(".", 1)[1]])]
            seconds += time.perf_counter() - start
            pages += len(parts)
            texts[scan.name] = _plain("".join(parts))
        found = total = found_traditional = total_traditional = 0
        for phrase in phrases:
            for scan in the_set:
                if phrase in "".join(scan.lines):
                    hit = phrase in texts[scan.name]
                    total += 1
                    found += hit
                    if "traditional" in scan.damage:
                        total_traditional += 1
                        found_traditional += hit
        print(f"| {label} | {found}/{total} = {found / total:.3f} | "
              f"{found_traditional}/{total_traditional} | {seconds / pages:.2f} |", flush=True)


if __name__ == "__main__":
    main()
