"""The sample generators make real, deterministic files that readers accept."""

import io
import random
import time
import wave
import zipfile
from pathlib import Path

import docx
import pytest
from PIL import Image
from pypdf import PdfReader

from archive import samples
from archive.models.enums import CATEGORIES
from archive.services import fonts
from tests import hostile_files


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_prose_about_the_given_customer(category):
    paragraphs = samples.chinese_paragraphs(category, random.Random(1), 6, customer="张伟",
                                            room="翠湖苑3栋2单元1201", contract_no="HT-2024-0031")
    assert len(paragraphs) == 6 and all(len(p) > 20 for p in paragraphs)
    assert len(set(paragraphs)) > 1
    text = "".join(paragraphs)
    assert "{" not in text and "}" not in text
    assert any(fact in text for fact in ("张伟", "翠湖苑3栋2单元1201", "HT-2024-0031"))
    assert samples.CATEGORY_TITLES[category]


def test_prose_is_deterministic_per_seed():
    def draw(seed):
        return samples.chinese_paragraphs("维修", random.Random(seed), 3)

    assert draw(5) == draw(5) and draw(5) != draw(6)


def test_unknown_category_is_an_error():
    with pytest.raises(ValueError):
        samples.chinese_paragraphs("杂项", random.Random(1), 1)


def test_names_units_and_contract_numbers_look_real():
    rng = random.Random(2)
    assert 2 <= len(samples.person_name(rng)) <= 3
    assert "栋" in samples.unit_address(rng) and "单元" in samples.unit_address(rng)
    assert samples.contract_number(rng, 2024).startswith("HT-2024-")


def test_pdf_round_trips_its_chinese_text_and_is_deterministic():
    data = samples.make_pdf("维修记录", ["卫生间漏水，已派维修技工上门。"], author="物业服务中心")
    reader = PdfReader(io.BytesIO(data))
    assert "卫生间漏水，已派维修技工上门。" in reader.pages[0].extract_text()
    assert reader.metadata.title == "维修记录" and reader.metadata.author == "物业服务中心"
    assert data == samples.make_pdf("维修记录", ["卫生间漏水，已派维修技工上门。"], author="物业服务中心")


def test_a_font_subset_carries_the_faces_dates_not_the_clock():
    # FontBuilder stamps the current second into head: two PDFs drawn either side of a
    # second's boundary differed (seen once in CI).
    from fontTools.ttLib import TTFont

    subset = TTFont(io.BytesIO(fonts.cjk_font("维修记录")))["head"]
    face = TTFont(str(fonts.CJK_FONT), fontNumber=fonts.cjk_face_index(), lazy=True)["head"]
    assert (subset.created, subset.modified) == (face.created, face.modified)


def test_long_text_flows_onto_more_pages():
    paragraphs = samples.chinese_paragraphs("签约", random.Random(4), 30)
    assert len(PdfReader(io.BytesIO(samples.make_pdf("合同", paragraphs))).pages) > 1


def test_make_pdf_is_fast_enough_for_demo_data_and_benchmarks():
    paragraphs = samples.chinese_paragraphs("维修", random.Random(1), 4)
    samples.make_pdf("维修记录", paragraphs)  # loads the font once per process
    started = time.perf_counter()
    for _ in range(10):
        samples.make_pdf("维修记录", paragraphs)
    assert (time.perf_counter() - started) / 10 < 0.2  # measured ~30 ms; generous for CI


def test_docx_has_table_header_footer_and_is_deterministic():
    args = ("认购书", ["客户认购翠湖苑3栋2单元1201。"])
    kwargs = {"table": [["房号", "总价"], ["1201", "人民币2,000,000元"]], "header": "销售部", "footer": "第1页"}
    data = samples.make_docx(*args, **kwargs)
    document = docx.Document(io.BytesIO(data))
    assert [p.text for p in document.paragraphs] == ["认购书", "客户认购翠湖苑3栋2单元1201。"]
    assert document.tables[0].cell(1, 1).text == "人民币2,000,000元"
    assert document.sections[0].header.paragraphs[0].text == "销售部"
    assert document.sections[0].footer.paragraphs[0].text == "第1页"
    assert data == samples.make_docx(*args, **kwargs)


def test_media_samples_open_in_their_readers():
    assert Image.open(io.BytesIO(samples.make_png())).format == "PNG"
    assert Image.open(io.BytesIO(samples.make_jpeg())).format == "JPEG"
    assert Image.open(io.BytesIO(samples.make_tiff(frames=2))).n_frames == 2
    with wave.open(io.BytesIO(samples.make_wav(seconds=0.1))) as sound:
        assert sound.getnframes() == 800
    assert samples.make_mp4()[4:8] == b"ftyp"


def test_scan_pdf_has_pages_but_no_text():
    reader = PdfReader(io.BytesIO(hostile_files.make_scan_pdf(pages=3)))
    assert len(reader.pages) == 3
    assert all(not page.extract_text().strip() for page in reader.pages)


def test_encrypted_pdfs_need_or_do_not_need_a_password():
    locked = PdfReader(io.BytesIO(hostile_files.make_encrypted_pdf("secret")))
    assert locked.is_encrypted and locked.decrypt("").name == "NOT_DECRYPTED"
    assert locked.decrypt("secret").name != "NOT_DECRYPTED"
    opened = PdfReader(io.BytesIO(hostile_files.make_owner_only_encrypted_pdf()))
    assert opened.is_encrypted and "张伟" in opened.pages[0].extract_text()


def test_truncate_keeps_the_leading_fraction():
    assert hostile_files.truncate(b"0123456789", 0.3) == b"012"


def test_zip_bomb_is_small_on_disk_but_declares_over_a_gigabyte():
    bomb = hostile_files.make_zip_bomb_docx()
    assert len(bomb) < 2 * 2**20
    members = zipfile.ZipFile(io.BytesIO(bomb)).infolist()
    assert sum(m.file_size for m in members) > 2**30
    with zipfile.ZipFile(io.BytesIO(bomb)).open("word/document.xml") as payload:
        assert payload.read(2**20) == bytes(2**20)  # it really inflates, to zeros


def test_a_missing_cjk_font_names_the_debian_package():
    with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
        fonts._CJKGlyphs(Path("/nonexistent/NotoSansCJK-Regular.ttc"))
