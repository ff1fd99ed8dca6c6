"""The search page as a new user met it (issue 18): the placeholder with quotes stays one
attribute, facets are links that narrow the search, the filters offer only departments
and levels the user may open, and undated documents come last in either date order."""

from html.parser import HTMLParser

import pytest

from archive.extensions import db
from archive.services import indexing


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs, self.options, self._select = [], {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input":
            self.inputs.append(attrs)
        elif tag == "select":
            self._select = attrs.get("name")
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _parse(page: str) -> _Inputs:
    parser = _Inputs()
    parser.feed(page)
    return parser


def _ids(page: str) -> list[str]:
    return [part.split('"')[0] for part in page.split('class="hit-title" href="/documents/')[1:]]


@pytest.fixture
def archive(app, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    docs = [file_doc(dossier, "维修记录甲", "维修", date="2021-03-01"),
            file_doc(dossier, "维修记录乙", "维修"),  # undated
            file_doc(dossier, "维修合同丙", "签约", date="2023-05-06")]
    indexing.index_after_commit(db.session, [d.id for d in docs])
    return docs


def test_the_placeholder_with_quotes_is_one_attribute(login_as):
    page = login_as("staff").get("/search").get_data(as_text=True)
    (q,) = [i for i in _parse(page).inputs if i.get("name") == "q" and i.get("class") == "q"]
    assert q["placeholder"] == '例如：维修、认购书、3栋2单元1201、"入伙通知" NOT 赔付'
    assert q["aria-label"] == "检索词"


def test_facets_are_links_that_narrow_the_search(login_as, archive):
    client = login_as("officer")
    page = client.get("/search?q=维修").get_data(as_text=True)
    assert len(_ids(page)) == 3
    link = page.split('class="facet" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "category=" in link
    narrowed = client.get(link).get_data(as_text=True)
    assert 0 < len(_ids(narrowed)) < 3
    year = client.get("/search?q=维修").get_data(as_text=True)
    year_link = [h.split('"')[0].replace("&amp;", "&")
                 for h in year.split('class="facet" href="')[1:] if "from=2023" in h][0]
    assert "to=2023-12-31" in year_link
    assert _ids(client.get(year_link).get_data(as_text=True)) == [str(archive[2].id)]


ALL = {"销售经营部", "客服中心", "法律室", "总经理办公室"}


@pytest.mark.parametrize("who, offered, levels", [
    ("staff", {"销售经营部"}, ["0", "1"]),
    ("head", {"销售经营部"}, ["0", "1", "2"]),
    ("officer", ALL, ["0", "1", "2", "3"]),
    ("gm", ALL, ["0", "1", "2", "3", "4"]),
])
def test_filters_offer_only_what_the_user_may_open(login_as, departments, who, offered,
                                                   levels):
    options = _parse(login_as(who).get("/search").get_data(as_text=True)).options
    assert options["classification"] == ["", *levels]
    names = {d.id: d.name for d in departments.values()}
    assert {names[int(v)] for v in options["department"] if v} == offered


def test_undated_documents_come_last_in_either_date_order(login_as, archive):
    client = login_as("officer")
    dated_old, undated, dated_new = (str(d.id) for d in archive)
    asc = _ids(client.get("/search?q=维修&sort=date_asc").get_data(as_text=True))
    desc = _ids(client.get("/search?q=维修&sort=date_desc").get_data(as_text=True))
    assert asc == [dated_old, dated_new, undated]
    assert desc == [dated_new, dated_old, undated]


@pytest.mark.parametrize("params", [
    {"q": "维修 AND \"入伙 通知\"", "department": "2", "page": "3"},
    {"q": "a&b=c#d?e/f+g h%", "from": "2024-01-01", "to": "2024-12-31"},
    {"q": "x", "sort": "date_desc", "customer": "KH-0001", "empty": ""}])
def test_search_links_are_what_url_for_builds(app, params):
    from flask import url_for

    from archive.web import query_url

    with app.test_request_context("/search"):
        assert query_url("search.index", params) == url_for("search.index", **params)
        assert query_url("search.index", {}) == url_for("search.index")


@pytest.mark.parametrize("name", ["endpoint", "_anchor", "_external", "_method"])
def test_a_query_parameter_named_like_url_fors_own_is_kept_as_a_parameter(
        login_as, make_customer, make_dossier, file_doc, name):
    """The facet and page links were built by url_for(**the query): `?endpoint=` was a
    TypeError (500), `?_anchor=` became a fragment."""
    file_doc(make_dossier(make_customer("张伟")), "认购书")
    page = login_as("officer").get(f"/search?q=认购书&{name}=x")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f"{name}=x" in body and "#x" not in body


@pytest.mark.parametrize(("user", "path"), [
    ("auditor", "/audit?page=2&endpoint=x"), ("auditor", "/audit?_method=x"),
    ("officer", "/loans/register?endpoint=x")])
def test_other_pages_linking_their_query_keep_such_parameters(login_as, user, path):
    page = login_as(user).get(path)
    assert page.status_code == 200, page.status_code
