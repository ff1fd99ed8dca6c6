"""The pages of the load mix (issue 14) ask the database a fixed number of questions: what
they list is loaded with the page, not one query per listed row."""

from sqlalchemy import event

from archive import samples
from archive.extensions import db
from archive.models import Customer, Document, Dossier


def _statements(client, url: str) -> int:
    client.get(url)  # first use: caches, the session's notes
    statements = []
    listen = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert response.status_code == 200
    return len(statements)


def _pdf(title: str) -> list:
    return [(f"{title}.pdf", samples.make_pdf(title, [f"{title}正文。"]))]


def test_dossier_page_loads_its_groups_documents_and_files_with_the_page(
        make_customer, make_dossier, file_doc, login_as):
    small = make_dossier(make_customer("少件客户", code="KH-Q-1"), room="101")
    file_doc(small, "认购书", "销售", files=_pdf("认购书"))
    large = make_dossier(make_customer("多件客户", code="KH-Q-2"), room="102")
    for i, category in enumerate(["销售", "签约", "维修", "赔付", "其他", "维修"]):
        file_doc(large, f"文件{i}", category, files=_pdf(f"文件{i}"))
    client = login_as("officer")

    one = _statements(client, f"/dossiers/{small.id}")
    six = _statements(client, f"/dossiers/{large.id}")

    assert six == one
    page = client.get(f"/dossiers/{large.id}").get_data(as_text=True)
    assert all(f"文件{i}" in page for i in range(6))


def test_a_dossiers_contents_are_loaded_as_its_relationships_hold_them(
        app, make_customer, make_dossier, file_doc):
    """customers.load_contents fills the collections from its own queries: each holds
    what, and in the order, the relationship itself would load (groups by code, a
    group's documents by sequence, the dossier's by id, a document's files by id)."""
    from sqlalchemy.orm import Session

    from archive.services import customers

    dossier = make_dossier(make_customer("目录客户", code="KH-Q-C1"), room="701")
    for i, category in enumerate(["维修", "销售", "维修", "签约", "销售"]):
        file_doc(dossier, f"目录文件{i}", category,
                 files=[_pdf(f"目录文件{i}-{k}")[0] for k in range(1 + i % 2)])
    db.session.commit()
    db.session.expunge_all()

    def shape(d):
        return ([(g.code, [x.id for x in g.documents]) for g in d.groups],
                [(x.id, [f.id for f in x.files]) for x in d.documents])

    with Session(db.engine) as fresh:  # the relationships' own lazy loads
        expected = shape(fresh.get(Dossier, dossier.id))
    loaded = customers.load_contents(db.session, db.session.get(Dossier, dossier.id))
    statements = []
    listen = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert shape(loaded) == expected
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert statements == []  # all of it was loaded
    assert sum(len(docs) for _code, docs in expected[0]) == 5


def test_customer_list_counts_visible_dossiers_without_loading_them(
        make_customer, make_dossier, login_as):
    client = login_as("staff")
    for i in range(3):
        customer = make_customer(f"客户{i}", code=f"KH-Q-B{i}")
        make_dossier(customer, room=f"30{i}")
        make_dossier(customer, room=f"40{i}", classification="机密")  # beyond staff's clearance
    client.get("/customers")
    loaded = []
    listen = lambda target, _context: loaded.append(target)  # noqa: E731
    event.listen(Dossier, "load", listen)
    try:
        page = client.get("/customers").get_data(as_text=True)
    finally:
        event.remove(Dossier, "load", listen)

    assert loaded == []
    for i in range(3):
        row = page[page.index(f"KH-Q-B{i}"):]
        assert row[:row.index("</tr>")].rstrip().endswith("<td>1</td>")


def test_search_checks_its_hits_without_loading_documents_dossiers_or_customers(
        make_customer, make_dossier, file_doc, login_as, api):
    own = make_dossier(make_customer("检索客户", code="KH-Q-S1"), room="501")
    other = make_dossier(make_customer("他部客户", department="KF", code="KH-Q-S2"), room="502")
    for i in range(3):
        file_doc(own, f"检索文件{i}", "销售", files=_pdf(f"检索文件{i}"))
    file_doc(other, "检索文件他部", "销售", files=_pdf("检索文件他部"))  # outside staff's reach
    headers = api("staff")
    client = login_as("staff")
    client.get("/search", query_string={"q": "检索文件"})
    loaded = []
    listen = lambda target, _context: loaded.append(target)  # noqa: E731
    for model in (Document, Dossier, Customer):
        event.listen(model, "load", listen)
    try:
        found = client.get("/api/v1/search", query_string={"q": "检索文件"},
                           headers=headers).get_json()
        page = client.get("/search", query_string={"q": "检索文件"}).get_data(as_text=True)
    finally:
        for model in (Document, Dossier, Customer):
            event.remove(model, "load", listen)

    assert loaded == []
    assert sorted(h["title"] for h in found["hits"]) == [f"检索文件{i}" for i in range(3)]
    assert {h["dossier_number"] for h in found["hits"]} == {own.number}
    assert "检索文件他部" not in page and "他部客户" not in page
    assert page.count(own.number) == 3 and page.count("检索客户") == 3


def test_document_page_loads_its_files_and_their_jobs_with_the_page(
        make_customer, make_dossier, file_doc, login_as):
    dossier = make_dossier(make_customer("文件页客户", code="KH-Q-D1"), room="601")
    one = file_doc(dossier, "单个文件", "销售", files=_pdf("单个文件"))
    three = file_doc(dossier, "三个文件", "销售",
                     files=[_pdf(f"附件{i}")[0] for i in range(3)])
    client = login_as("officer")

    assert _statements(client, f"/documents/{three.id}") == _statements(
        client, f"/documents/{one.id}")
    page = client.get(f"/documents/{three.id}").get_data(as_text=True)
    assert all(f"附件{i}.pdf" in page for i in range(3))


def test_the_loan_marks_of_a_page_are_one_query(make_customer, make_dossier, file_doc, login_as):
    dossier = make_dossier(make_customer("借阅标记客户", code="KH-Q-L1"), room="701")
    for i in range(3):
        file_doc(dossier, f"标记文件{i}", "销售")
    client = login_as("officer")
    statements = []

    def listen(_conn, _cursor, sql, *_args):
        statements.append(sql)

    for url in (f"/dossiers/{dossier.id}", "/search?q=标记文件"):
        client.get(url)
        del statements[:]
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            page = client.get(url).get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert "标记文件2" in page
        assert len([s for s in statements if "loan_items" in s]) == 1, url


def test_the_mix_builds_no_statement_after_its_first_request(
        monkeypatch, make_customer, make_dossier, file_doc, login_as, api):
    """The pages and the API search of the load mix run statements built once (bind
    parameters, functools.cache): building a statement and its cache key cost as much as
    running it. A statement built in the request (a query written inline, a selectinload,
    a loader option made afresh) shows here as a cache key generated on a warm page."""
    from sqlalchemy.sql.cache_key import HasCacheKey

    dossier = make_dossier(make_customer("建句客户", code="KH-Q-K1"), room="801")
    document = file_doc(dossier, "建句文件", "销售", files=_pdf("建句文件"))
    file_doc(dossier, "建句附件", "维修", files=[_pdf(f"附{i}")[0] for i in range(2)])
    headers = api("officer")
    client = login_as("officer")
    dossier_url, document_url = f"/dossiers/{dossier.id}", f"/documents/{document.id}"
    requests = [lambda: client.get(dossier_url), lambda: client.get(document_url),
                lambda: client.get("/search", query_string={"q": "建句"}),
                lambda: client.get("/api/v1/search", query_string={"q": "建句"}, headers=headers)]
    for request in requests:
        assert request().status_code == 200
    built = []
    generate = HasCacheKey._generate_cache_key

    def counted(statement):
        built.append(type(statement).__name__)
        return generate(statement)

    monkeypatch.setattr(HasCacheKey, "_generate_cache_key", counted)
    for request in requests:
        assert request().status_code == 200
        assert built == [], request
