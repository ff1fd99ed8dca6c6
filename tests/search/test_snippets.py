"""Snippets: marks land on the text as written, whatever folding it needed to match."""

import unicodedata

from archive.services.search import analysis
from archive.services.search.snippets import highlight


def test_traditional_text_is_marked_as_written():
    assert highlight("業主報修衛生間漏水。", "", ("卫生间",)) == "業主報修<mark>衛生間</mark>漏水。"


def test_compatibility_characters_are_marked_as_written():
    assert highlight("建筑面积120㎡，朝南。", "", ("120m2",)) == "建筑面积<mark>120㎡</mark>，朝南。"


def test_a_match_only_in_the_title_is_marked_there():
    assert highlight("与查询无关的正文。", "商铺租赁合同", ("租赁",)) == "商铺<mark>租赁</mark>合同"


def test_pdf_line_wraps_between_chinese_characters_are_joined():
    text = "房屋总价人\n民币826000元，\n付款方式按揭。"
    assert highlight(text, "", ("民币",)) == "房屋总价人<mark>民币</mark>826000元，\n付款方式按揭。"
    assert highlight(text, "", ("人民币",)) == "房屋总价<mark>人民币</mark>826000元，\n付款方式按揭。"
    assert highlight(text, "", ("总价",)) == "房屋<mark>总价</mark>人民币826000元，\n付款方式按揭。"
    assert highlight("维 修\n记 录", "", ()) == "维修记录"


def test_no_match_shows_the_head_of_the_text():
    assert highlight("甲" * 200, "标题", ("乙",)) == "甲" * 120 + "…"


def test_only_characters_t2s_changes_count_as_traditional():
    assert analysis.may_be_traditional("業主報修")
    assert not analysis.may_be_traditional("业主报修 HT-2024-0031")


def test_nfkc_matches_unicodedata():
    for text in ("维修记录", "１２０１室", "120㎡", "Ⅳ号楼", ""):
        assert analysis.nfkc(text) == unicodedata.normalize("NFKC", text)
