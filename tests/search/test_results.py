"""Filters, facets, ordering, pages, highlights and who may see what."""

import datetime as dt

import pytest

from archive.services.search import SearchQuery, Visibility

ALL = Visibility(unrestricted=True)


def found(service, visibility=ALL, **query):
    result = service.search(SearchQuery(per_page=100, **query), visibility)
    assert result.total == len(result.hits)
    return {hit.document_id for hit in result.hits}


@pytest.mark.parametrize(("query", "expected"), [
    ({"category": "维修"}, {1, 2, 7, 14, 15}),
    ({"category": "维修", "text": "维修"}, {1, 7, 14, 15}),
    ({"classification": 0}, {1, 5, 8, 15}),
    ({"department_id": 2}, {5, 7, 10, 12, 13}),
    ({"carrier": "纸质"}, {1, 3, 6, 10, 11, 12, 16}),
    ({"customer_id": 3}, {5, 7, 10, 11, 15}),
    ({"dossier_id": 102}, {3, 4, 8, 13, 14}),
    ({"customer": "王芳"}, {5, 7, 10, 11, 15}),
    ({"customer": "KH-0001", "text": "维修"}, {1, 9, 12}),
    ({"date_from": dt.date(2023, 1, 1), "date_to": dt.date(2023, 12, 31)}, {1, 2, 9, 11}),
    ({"date_from": dt.date(2024, 1, 1)}, {3, 10, 12, 13}),
    ({"date_to": dt.date(2020, 12, 31)}, {8, 15}),
])
def test_filters(archive, query, expected):
    assert found(archive, **query) == expected


def test_facets_count_every_match_not_just_the_page(archive):
    result = archive.search(SearchQuery(text="维修", per_page=2), ALL)
    assert result.total == 8
    assert len(result.hits) == 2
    assert result.facets == {
        "category": {"维修": 4, "其他": 1, "赔付": 1, "诉讼": 2},
        "classification": {"0": 2, "1": 3, "2": 1, "3": 1, "4": 1},
        "department": {"1": 4, "2": 3, "3": 1},
        "year": {"2023": 2, "2022": 1, "2021": 1, "2024": 2, "2020": 1},  # 14 has no date
    }


DATED_ASC = [8, 15, 6, 7, 16, 4, 5, 1, 2, 9, 11, 3, 10, 12, 13]
DATE_ASC = [*DATED_ASC, 14]  # undated last


def test_sort_by_date_both_ways_with_undated_documents_last(archive):
    asc = archive.search(SearchQuery(sort="date_asc", per_page=100), ALL)
    desc = archive.search(SearchQuery(sort="date_desc", per_page=100), ALL)
    assert [h.document_id for h in asc.hits] == DATE_ASC
    assert [h.document_id for h in desc.hits] == [*DATED_ASC[::-1], 14]


def test_empty_text_lists_newest_first(archive):
    result = archive.search(SearchQuery(category="维修", per_page=100), ALL)
    assert [h.document_id for h in result.hits] == [2, 1, 7, 15, 14]


def test_pagination_keeps_the_exact_total(archive):
    page = archive.search(SearchQuery(sort="date_asc", page=2, per_page=5), ALL)
    assert page.total == 16
    assert [h.document_id for h in page.hits] == DATE_ASC[5:10]
    last = archive.search(SearchQuery(sort="date_asc", page=4, per_page=5), ALL)
    assert [h.document_id for h in last.hits] == DATE_ASC[15:]
    beyond = archive.search(SearchQuery(sort="date_asc", page=9, per_page=5), ALL)
    assert (beyond.total, beyond.hits) == (16, [])


def test_hits_carry_their_dossier_and_customer(archive):
    (hit,) = archive.search(SearchQuery(text="认购书"), ALL).hits
    assert (hit.document_id, hit.dossier_id, hit.customer_id, hit.title) == (3, 102, 2, "认购书")
    assert hit.score > 0


def test_highlight_marks_the_match_and_escapes_html(archive):
    hits = {h.document_id: h for h in archive.search(SearchQuery(text="维修", per_page=100), ALL).hits}
    assert "<mark>维修</mark>" in hits[1].highlight
    assert "&lt;script&gt;" in hits[9].highlight
    assert "<script>" not in hits[9].highlight
    assert "<mark>維修</mark>" in hits[4].highlight  # shown as written
    assert hits[7].highlight == "<mark>维修</mark>记录表申请人王芳"  # PDF spacing joined, as for matching


def test_highlight_of_a_code(archive):
    (hit,) = archive.search(SearchQuery(text="2024-0031"), ALL).hits
    assert "HT-<mark>2024-0031</mark>" in hit.highlight


CLERK = Visibility(max_level=1, department_ids=frozenset({1}))


@pytest.mark.parametrize(("visibility", "expected"), [
    (CLERK, {1, 2, 4, 6, 9, 14}),
    (Visibility(max_level=1, department_ids=frozenset({1}), customer_ids=frozenset({3})),
     {1, 2, 4, 5, 6, 9, 10, 14, 15}),
    (Visibility(max_level=3, department_ids=None), set(range(1, 17)) - {12}),
    (Visibility(max_level=4, department_ids=None), set(range(1, 17)) - {12}),
    (Visibility(max_level=0, department_ids=frozenset({3}), user_id=77), {8, 12, 15}),
    (Visibility(max_level=1, department_ids=frozenset({2}), user_id=55), {5, 10, 16}),
    (Visibility(unrestricted=True), set(range(1, 17))),
    (Visibility(max_level=1, department_ids=frozenset()), set()),
])
def test_visibility(archive, visibility, expected):
    assert found(archive, visibility) == expected


def test_hidden_documents_never_count(archive):
    result = archive.search(SearchQuery(text="维修", per_page=1), CLERK)
    assert result.total == 4  # 1, 4, 9, 14 of the 8 that contain 维修
    assert result.facets["category"] == {"维修": 2, "其他": 1, "赔付": 1}
    assert result.facets["classification"] == {"0": 1, "1": 3}
    assert result.facets["department"] == {"1": 4}
    assert sum(result.facets["year"].values()) == 3
