"""Search through the whole product path: upload → index → API/UI query, on both backends.

The engine's own matching rules are tested in tests/search/; here: a filed document is
found at once, results never reveal what a user may not open, every search is audited,
an index failure never loses a document, and concurrent filers lose nothing.
"""

import multiprocessing

import pytest

from archive import create_app, samples
from archive.extensions import db
from archive.models import AuditEvent, Document
from archive.services import indexing
from config import TestConfig
from tests import databases
from tests.conftest import PASSWORDS


@pytest.fixture(params=["tantivy", "whoosh"])
def app(request, template_root, tmp_path):
    """Overrides the suite's `app`: every test here runs on both search backends."""
    databases.copy(template_root, tmp_path)
    config = TestConfig(tmp_path)
    config.SEARCH_BACKEND = request.param
    application = create_app(config)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
    application.extensions["search"].close()


@pytest.fixture
def filed(app, make_customer, make_dossier, file_doc):
    """Documents of two departments at several levels, each containing 维修 in its text."""
    xs = make_dossier(make_customer("张伟", "XS"))
    kf = make_dossier(make_customer("李娜", "KF"), room="0802")

    def pdf(text):
        return [("f.pdf", samples.make_pdf("文件", [text]))]

    return {
        "xs_internal": file_doc(xs, "维修记录", "维修", files=pdf("卫生间漏水维修记录，檔案編號HT-2024-0031")),
        "xs_secret": file_doc(xs, "维修赔付协议", "赔付", classification="秘密",
                              files=pdf("赔付维修费用人民币三千元")),
        "xs_confidential": file_doc(xs, "维修纠纷内部意见", "其他", classification="机密",
                                    files=pdf("关于维修纠纷的处理意见")),
        "kf_internal": file_doc(kf, "维修回访", "维修", files=pdf("客服中心维修回访记录 １２０１")),
        "xs_top": file_doc(xs, "维修重大事故处理", "其他", classification="绝密", actor="gm",
                           files=pdf("绝密维修事故处理决定")),
    }


def _ids(client, headers, **params):
    response = client.get("/api/v1/search", headers=headers, query_string=params)
    assert response.status_code == 200, response.json
    body = response.json
    return {h["document_id"] for h in body["hits"]}, body


def test_a_filed_document_is_found_at_once(app, filed, api):
    client = app.test_client()
    ids, body = _ids(client, api("officer"), q="HT-2024-0031")
    assert ids == {filed["xs_internal"].id} and body["total"] == 1
    assert "<mark>" in body["hits"][0]["highlight"]
    ids, _ = _ids(client, api("officer"), q="档案编号")  # simplified query, traditional text
    assert ids == {filed["xs_internal"].id}
    ids, _ = _ids(client, api("officer"), q="1201")  # full-width digits in the text
    assert filed["kf_internal"].id in ids


@pytest.mark.parametrize("user,expected", [
    ("staff_public", set()),
    ("staff", {"xs_internal"}),
    ("staff_secret", {"xs_internal", "xs_secret"}),
    ("head", {"xs_internal", "xs_secret"}),
    ("service", {"kf_internal"}),
    ("service_head", {"kf_internal"}),
    ("officer", {"xs_internal", "xs_secret", "xs_confidential", "kf_internal"}),
    ("auditor", {"xs_internal", "xs_secret", "xs_confidential", "kf_internal"}),
    ("legal", set()),
    ("gm", {"xs_internal", "xs_secret", "xs_confidential", "kf_internal", "xs_top"}),
])
def test_results_are_clearance_safe(app, filed, api, user, expected):
    client = app.test_client()
    ids, body = _ids(client, api(user), q="维修", per_page=100)
    assert ids == {filed[k].id for k in expected}
    assert body["total"] == len(expected)
    counted = sum(body["facets"].get("classification", {}).values())
    assert counted == len(expected)
    titles = " ".join(h["title"] for h in body["hits"])
    for key, doc in filed.items():
        if key not in expected:
            assert doc.title not in titles


def test_designated_person_finds_the_top_secret_document(app, filed, api, users):
    from archive.models import Designation

    top = filed["xs_top"]
    db.session.add(Designation(user_id=users["legal"].id, document_id=top.id,
                               designated_by_id=users["gm"].id))
    db.session.commit()
    assert indexing.index_after_commit(db.session, [top.id])
    ids, _ = _ids(app.test_client(), api("legal"), q="维修")
    assert ids == {top.id}


def test_every_search_is_audited(app, filed, api):
    client = app.test_client()
    _ids(client, api("staff"), q="维修", category="维修")
    event = db.session.query(AuditEvent).filter_by(action="search").order_by(AuditEvent.seq.desc()).first()
    assert event.actor_name == "staff"
    assert '"query": "维修"' in event.details and '"hits": 1' in event.details
    assert '"category": "维修"' in event.details


@pytest.mark.parametrize("q", ['"维修', "维修 AND", "(维修", "NOT", "x" * 10_000])
def test_malformed_queries_get_a_clear_400(app, filed, api, q):
    response = app.test_client().get("/api/v1/search", headers=api("staff"),
                                             query_string={"q": q})
    assert response.status_code == 400
    assert response.json["error"]["message"]


def test_malformed_query_in_the_ui_is_a_chinese_message(app, filed):
    client = app.test_client()
    client.post("/login", data={"username": "staff", "password": PASSWORDS["staff"]})
    response = client.get("/search", query_string={"q": '"维修'})
    assert response.status_code == 400 and "查询" in response.get_data(as_text=True)


def test_control_characters_do_not_break_search(app, filed, api):
    response = app.test_client().get("/api/v1/search", headers=api("officer"),
                                             query_string={"q": "维\x00修\x07"})
    assert response.status_code in (200, 400)
    assert "error" in response.json or response.json["total"] >= 0


def test_bad_filters_are_422(app, api):
    client = app.test_client()
    for params in ({"category": "不存在"}, {"from": "2024-99-01"}, {"page": "0"},
                   {"classification": "顶级"}, {"per_page": "100000"}):
        response = client.get("/api/v1/search", headers=api("officer"), query_string=params)
        assert response.status_code == 422, params


def test_index_failure_flags_the_document_and_loses_nothing(app, make_customer,
                                                           make_dossier, file_doc, monkeypatch):
    dossier = make_dossier(make_customer())
    service = app.extensions["search"]
    original = service.index_many

    def broken(docs):
        raise OSError("index disk full")
    monkeypatch.setattr(service, "index_many", broken)
    first = file_doc(dossier, "维修记录甲", "维修")
    assert first.id and db.session.get(Document, first.id).needs_index
    monkeypatch.setattr(service, "index_many", original)
    second = file_doc(dossier, "维修记录乙", "维修")
    assert service.document_ids() >= {first.id, second.id}
    assert not db.session.get(Document, first.id).needs_index


def test_reindex_rebuilds_from_the_database(app, filed):
    service = app.extensions["search"]
    service.remove_document(filed["xs_internal"].id)
    assert filed["xs_internal"].id not in service.document_ids()
    result = app.test_cli_runner().invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert service.document_ids() == {d.id for d in filed.values()}


def _filer(root: str, backend: str, worker: int, count: int) -> None:
    config = TestConfig(root)
    config.SEARCH_BACKEND = backend
    app = create_app(config)
    from archive.models import Dossier, User
    from archive.services import filing, work

    with app.app_context():
        # Every transaction takes SQLite's write lock at its first statement: this read ends
        # before the PDFs are made, and each filing reads its file between two units, as
        # the upload route does. Holding the lock across them starved the other seven
        # past the 30 s busy timeout on a loaded machine ("database is locked").
        with work.unit(db.session):
            officer = db.session.query(User).filter_by(username="officer").one()
            dossier = db.session.query(Dossier).first()
        limits = filing.Limits(max_bytes=2**21, max_docx_uncompressed=2**24)
        for i in range(count):
            data = samples.make_pdf("维修", [f"第{worker}号并发归档员的第{i}份维修记录"])
            with work.unit(db.session):
                intake = filing.preflight(
                    db.session, officer, dossier.id, {"title": f"并发{worker}-{i}", "category": "维修"},
                    [filing.Upload(f"w{worker}-{i}.pdf", data)], limits=limits)
            filing.read_files(intake)
            with work.unit(db.session):
                filing.file_intake(db.session, intake, store=app.extensions["blob_store"])
    app.extensions["search"].close()


def test_eight_concurrent_filers_lose_nothing(app, make_customer, make_dossier, tmp_path):
    make_dossier(make_customer())
    db.session.remove()
    backend = app.config["SEARCH_BACKEND"]
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_filer, args=(str(tmp_path), backend, w, 4)) for w in range(8)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0] * 8
    docs = db.session.query(Document).all()
    assert len(docs) == 32
    assert sorted(d.seq for d in docs) == list(range(1, 33))  # no number given twice
    assert not any(d.needs_index for d in docs)
    assert app.extensions["search"].document_ids() == {d.id for d in docs}
    from archive.services import audit

    assert audit.verify(db.session).ok


def test_search_page_paginates_with_facets_and_highlights(app, make_customer, make_dossier,
                                                          file_doc, login_as):
    dossier = make_dossier(make_customer())
    for i in range(23):
        file_doc(dossier, f"维修记录{i:02d}", "维修", date=f"2024-01-{i + 1:02d}")
    client = login_as("officer")
    first = client.get("/search", query_string={"q": "维修", "sort": "date_desc"})
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and "1 / 2" in page
    assert "<mark>维修</mark>" in page and "维修记录22" in page
    assert 'id="total">23<' in page
    second = client.get("/search", query_string={"q": "维修", "sort": "date_desc", "page": 2})
    text = second.get_data(as_text=True)
    assert "维修记录00" in text and "维修记录22" not in text


def test_facets_can_be_skipped_without_changing_hits_or_total(app, filed, api):
    client = app.test_client()
    headers = api("officer")
    with_facets, full = _ids(client, headers, q="维修", sort="date_desc")
    without, lean = _ids(client, headers, q="维修", sort="date_desc", facets="0")
    assert with_facets == without and full["total"] == lean["total"] == 4
    assert full["facets"]["category"] and lean["facets"] == {}


def test_a_raised_level_the_index_missed_does_not_show_the_hit(app, filed, api, monkeypatch):
    # The level moved in the database but the index write failed (the document is flagged
    # needs_index): the stale 内部 entry must not hand its title to 内部 readers.
    service = app.extensions["search"]
    monkeypatch.setattr(service, "index_many", lambda docs: (_ for _ in ()).throw(OSError("full")))
    document = db.session.get(Document, filed["xs_internal"].id)
    document.classification = 3  # 机密
    db.session.commit()
    assert not indexing.index_after_commit(db.session, [document.id])
    assert db.session.get(Document, document.id).needs_index
    found, body = _ids(app.test_client(), api("staff"), q="维修")
    assert document.id not in found
    assert all("卫生间漏水" not in h["highlight"] for h in body["hits"])
    found, _ = _ids(app.test_client(), api("head"), q="维修")  # 秘密 clearance: still not
    assert document.id not in found
    found, _ = _ids(app.test_client(), api("officer"), q="维修")  # 机密 clearance: yes
    assert document.id in found


def test_hits_name_their_dossier_and_date(app, filed, api, login_as):
    _, body = _ids(app.test_client(), api("officer"), q="HT-2024-0031")
    hit = body["hits"][0]
    assert hit["dossier_number"] == "翠湖苑-3栋2单元1201" and hit["date"] is None
    page = login_as("officer").get("/search", query_string={"q": "HT-2024-0031"})
    assert "翠湖苑-3栋2单元1201" in page.get_data(as_text=True)


def test_year_facet_lists_the_newest_year_first(app, make_customer, make_dossier, file_doc,
                                                login_as):
    dossier = make_dossier(make_customer())
    for year, n in ((2019, 3), (2024, 1), (2021, 2)):
        for i in range(n):
            file_doc(dossier, f"维修记录{year}-{i}", "维修", date=f"{year}-05-0{i + 1}")
    page = login_as("officer").get("/search", query_string={"q": "维修"}).get_data(as_text=True)
    facet = page[page.index("年度"):]
    assert facet.index("2024") < facet.index("2021") < facet.index("2019")
