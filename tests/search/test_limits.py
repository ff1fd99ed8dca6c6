"""Queries built to cost: hundreds of terms, parentheses nested hundreds deep (issue 14).
Each is refused with a clear message before any work, or costs what its distinct terms
cost; never a 500."""

import re
import time

import pytest

from archive.services.errors import BadRequest
from archive.services.search import SearchQuery, Visibility, query, snippets
from tests.conftest import archive_state, login

ALL = Visibility(unrestricted=True)
NESTED = "(" * 490 + "维修" + ")" * 490


@pytest.mark.parametrize(("text", "message"), [
    (" ".join(["b"] * 490), "检索词过多：共 490 个，一次最多 32 个，请精简查询"),
    (" ".join(["a*"] * 330), "检索词过多：共 330 个，一次最多 32 个，请精简查询"),
    (" OR ".join(f"title:户{i}" for i in range(33)), "检索词过多：共 33 个，一次最多 32 个，请精简查询"),
    (NESTED, "查询语法错误：括号或 NOT 嵌套过深，不能超过 16 层"),
    ("NOT " * 17 + "维修", "查询语法错误：括号或 NOT 嵌套过深，不能超过 16 层"),
    ("-" * 500 + "维修", "查询语法错误：括号或 NOT 嵌套过深，不能超过 16 层"),
    ("-(" * 9 + "维修" + ")" * 9, "查询语法错误：括号或 NOT 嵌套过深，不能超过 16 层"),
])
def test_queries_past_the_limits_are_refused_before_any_work(archive, text, message):
    started = time.perf_counter()
    with pytest.raises(BadRequest) as error:
        archive.search(SearchQuery(text=text), ALL)
    assert time.perf_counter() - started < 0.5
    assert (error.value.message, error.value.code) == (message, "bad_query")


def test_queries_at_the_limits_are_searched(archive):
    assert query.MAX_TERMS == 32 and query.MAX_NESTING == 16
    at_terms = " OR ".join(["维修"] + [f"无此词{i}" for i in range(31)])
    at_nesting = "(" * 9 + "NOT " * 7 + "无此词" + ")" * 9  # 16 levels, an odd number of NOTs
    assert archive.search(SearchQuery(text=at_terms), ALL).total == \
        archive.search(SearchQuery(text="维修"), ALL).total > 0
    assert archive.search(SearchQuery(text=at_nesting), ALL).total == 16


def test_a_term_given_twice_is_searched_and_marked_once():
    assert query.parse("维修 维修 (维修 OR 维修)") == query.parse("维修")
    assert query.positive_literals(query.parse("(维修 OR 记录) 维修 -漏水 记录")) == ["维修", "记录"]
    assert snippets._pattern(("HT",) * 32).pattern == snippets._pattern(("HT",)).pattern


def test_snippet_patterns_name_the_costly_letter_test_at_most_four_times():
    # Written once per letter or digit unit, it cost ~20 ms a term to compile: a query
    # of 330 terms took 6.5 s, and every new query paid again.
    literals = tuple(f"x{i} HT-{i}号 {i}栋 房{i}" for i in range(32))
    re.purge()
    snippets._pattern.cache_clear()
    started = time.perf_counter()
    pattern = snippets._pattern(literals)
    assert time.perf_counter() - started < 0.3  # measured 17 ms (before: 3.3 s)
    assert pattern.pattern.count(snippets._RUN_CHAR) <= 4


@pytest.mark.parametrize(("text", "literal", "marked"), [
    ("访问 http 与 HT-2024-0031", "ht", "访问 http 与 <mark>HT</mark>-2024-0031"),
    ("编号HT-2024-0031号", "HT-2024", "编号<mark>HT-2024</mark>-0031号"),
    ("编号 HT 2024 与 HT2024", "HT-2024", "编号 <mark>HT 2024</mark> 与 HT2024"),
    ("编号ＨＴ－２０２４", "ht-2024", "编号<mark>ＨＴ－２０２４</mark>"),
    ("3栋2单元，13栋", "3栋", "<mark>3栋</mark>2单元，13栋"),
    ("合同编号HT2024", "编号ht2024", "合同<mark>编号HT2024</mark>"),
])
def test_letters_and_digits_are_marked_only_as_whole_runs(text, literal, marked):
    assert snippets.highlight(text, "", (literal,)) == marked


# ---- through the app: 400 with the error body (API), the message on the page (web) ---------


@pytest.mark.parametrize("text", [NESTED, " ".join(["b"] * 490)])
def test_the_api_answers_400_with_the_error_body(app, client, api, text):
    before = archive_state(app)
    response = client.get("/api/v1/search", headers=api("officer"), query_string={"q": text})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_query"
    assert response.json["error"]["message"].startswith(("查询语法错误：括号或 NOT 嵌套过深", "检索词过多"))
    assert archive_state(app) == before


@pytest.mark.parametrize(("text", "message"), [
    (NESTED, "查询语法错误：括号或 NOT 嵌套过深，不能超过 16 层"),
    (" ".join(["b"] * 490), "检索词过多：共 490 个，一次最多 32 个，请精简查询"),
])
def test_the_search_page_shows_the_message(app, client, text, message):
    login(client, "officer")
    response = client.get("/search", query_string={"q": text})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
