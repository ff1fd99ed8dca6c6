"""Query text to hits, in Chinese, on both backends: each test names the exact ids."""

import pytest

from archive.services.search import SearchQuery, Visibility
from archive.services.search.analysis import normalize

from .sample import CORPUS, make_doc

ALL = Visibility(unrestricted=True)


def ids(service, text, **filters):
    result = service.search(SearchQuery(text=text, per_page=100, **filters), ALL)
    assert result.total == len(result.hits)
    return {hit.document_id for hit in result.hits}


@pytest.mark.parametrize(("text", "expected"), [
    ("修", {1, 2, 4, 7, 9, 10, 12, 13, 14, 15}),
    ("维修", {1, 4, 7, 9, 12, 13, 14, 15}),
    ("认购书", {3}),
    ("维修记录", {1, 4, 7}),
    ("修记", {1, 4, 7}),
])
def test_substrings_of_one_to_four_characters(archive, text, expected):
    assert ids(archive, text) == expected


def test_substring_across_a_jieba_word_boundary(archive):
    # 物业|管理 are the jieba words; 业管 straddles them.
    assert ids(archive, "业管") == {10}


def test_adjacent_characters_only(archive):
    # Document 2 has 维 and 修 ("维护后再修补"), never side by side.
    assert 2 not in ids(archive, "维修")
    assert ids(archive, "维护") == {2}


def test_punctuation_between_characters_is_not_adjacency(archive):
    assert 15 not in ids(archive, "维修记录")
    assert ids(archive, "修，记") == {15}


def test_long_phrases_need_every_character_adjacent(service):
    """Four or more characters are matched on 4-grams: two 4-grams of the phrase found
    apart, across punctuation or in two fields are not the phrase."""
    service.index_many([
        make_doc(1, 1, "通知", "请联系物业服务中心"),
        make_doc(2, 1, "通知", "物业服务，中心已搬迁"),
        make_doc(3, 1, "通知", "物业服务站与服务中心"),
        # Ends of two runs side by side would hold 物业服务 and 业服务中 one position
        # apart if punctuation took no position.
        make_doc(4, 1, "物业服务", "业服务中心"),
        make_doc(5, 1, "通知", "物业服务，业服务中心"),
    ])
    assert ids(service, "物业服务中心") == {1}
    assert ids(service, "物业服务中") == {1}
    assert ids(service, "物业服务") == {1, 2, 3, 4, 5}


def test_text_with_spaces_between_characters_from_pdf(archive):
    assert 7 in ids(archive, "维修记录表")
    assert ids(archive, "申请人王芳") == {7}


@pytest.mark.parametrize(("text", "expected"), [
    ("檔案", {4, 5}),
    ("档案", {4, 5}),
    ("維修記錄", {1, 4, 7}),
])
def test_traditional_and_simplified_find_each_other(archive, text, expected):
    assert ids(archive, text) == expected


def test_full_width_digits_equal_ascii(archive):
    assert ids(archive, "１２０１") == ids(archive, "1201") == {1, 2, 5, 6, 7, 9, 10, 11, 12, 15, 16}


@pytest.mark.parametrize(("text", "expected"), [
    ("3栋2单元1201", {1, 2, 6, 9, 12, 16}),
    ("3栋", {1, 2, 6, 9, 12, 16}),
    ("2单元", {1, 2, 6, 9, 12, 16}),
    ("12栋", {5, 7, 10, 11, 15}),
    ("翠湖苑-5栋1单元0302", {3, 4, 8, 13, 14}),
])
def test_room_numbers_whole_and_in_parts(archive, text, expected):
    assert ids(archive, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("HT-2024-0031", {3}),
    ("2024-0031", {3}),
    ("0031", {3}),
    ("ht", {3, 11}),
    ("ht 2023", {11}),
])
def test_contract_numbers_whole_and_in_parts(archive, text, expected):
    assert ids(archive, text) == expected


def test_mixed_chinese_and_english(archive):
    assert ids(archive, "PDF扫描件") == {8}
    assert ids(archive, "scan copy") == {8}
    assert ids(archive, '"copy of 入伙"') == {8}


@pytest.mark.parametrize(("text", "expected"), [
    ('"维修记录"', {1, 4, 7}),
    ("维修 记录", {1, 4, 7, 14, 15}),
    ("维修 AND 记录", {1, 4, 7, 14, 15}),
    ("维修 OR 认购书", {1, 3, 4, 7, 9, 12, 13, 14, 15}),
    ("维修 -记录", {9, 12, 13}),
    ("维修 NOT 记录", {9, 12, 13}),
    ("(维修 OR 认购书) AND 合同", {3, 13}),
    ("认购书 OR 维修 合同", {3, 13}),
    ("NOT 修", {3, 5, 6, 8, 11, 16}),
    ("-修 -合同", {5, 6, 8}),
    ("合同 (NOT 维修 OR 认购书)", {3, 11, 16}),
])
def test_boolean_operators_and_phrases(archive, text, expected):
    assert ids(archive, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("title:维修", {7}),
    ("customer:张伟", {1, 2, 6, 9, 12, 16}),
    ("customer:KH-0002", {3, 4, 8, 13, 14}),
    ("number:0302", {3, 4, 8, 13, 14}),
    ("file:F0003", {3}),
    ('title:"物业管理处"', {10}),
])
def test_field_prefixes(archive, text, expected):
    assert ids(archive, text) == expected


def test_control_characters_are_ignored(archive):
    assert ids(archive, "维\x00修") == ids(archive, "维修")


def _searchable(doc):
    return [normalize(v) for v in (doc["title"], doc["text"], doc["customer_name"],
                                   doc["customer_code"], doc["dossier_number"], doc["unit"],
                                   *doc["file_names"])]


def test_every_chinese_substring_finds_exactly_the_documents_containing_it(archive):
    runs = ["业主报修", "卫生间漏水", "维修记录已归档", "档案室保存的维修记录", "物业管理处通知",
            "客户签署认购书", "维修合同纠纷"]
    queries = {run[i:i + n] for run in runs for n in range(1, 9) for i in range(len(run) - n + 1)}
    for query in sorted(queries):
        expected = {d["id"] for d in CORPUS if any(query in f for f in _searchable(d))}
        assert ids(archive, query) == expected, query


def test_whole_title_match_ranks_first(archive):
    result = archive.search(SearchQuery(text="维修"), ALL)
    assert result.hits[0].document_id == 7
