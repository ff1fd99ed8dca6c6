"""Malformed queries are refused with a clear message and never crash."""

import pytest

from archive.services.errors import BadRequest
from archive.services.search import SearchQuery, Visibility

ALL = Visibility(unrestricted=True)


@pytest.mark.parametrize(("text", "message"), [
    ('"维修', "引号不成对"),
    ('维修 "记录', "引号不成对"),
    ("(维修", "括号不成对"),
    ("维修)", "括号不成对"),
    ("(维修 OR (记录)", "括号不成对"),
    ("()", "括号内没有检索词"),
    ("AND", "AND"),
    ("OR 维修", "OR"),
    ("维修 OR", "OR"),
    ("维修 AND", "AND"),
    ("NOT", "NOT"),
    ("维修 NOT", "NOT"),
    ("维修 AND OR 记录", "AND"),
    ("修" * 1001, "查询过长"),
])
def test_malformed_queries_raise_bad_request(archive, text, message):
    with pytest.raises(BadRequest) as error:
        archive.search(SearchQuery(text=text), ALL)
    assert message in error.value.message


@pytest.mark.parametrize("query", [
    SearchQuery(sort="title"), SearchQuery(page=0), SearchQuery(per_page=0),
    SearchQuery(page=100_000),
])
def test_bad_paging_and_sorting_raise_bad_request(archive, query):
    with pytest.raises(BadRequest):
        archive.search(query, ALL)


@pytest.mark.parametrize("text", ["，。！", "-", "title:", '""', "   "])
def test_nothing_searchable_means_no_text_condition(archive, text):
    assert archive.search(SearchQuery(text=text), ALL).total == 16


def test_lowercase_operators_are_ordinary_words(archive):
    assert archive.search(SearchQuery(text="scan and copy"), ALL).total == 0
    assert archive.search(SearchQuery(text="scan copy"), ALL).total == 1
