"""The search index is a cache of the database: deleted while serving, it answers
"being rebuilt" (never a 500, never an empty archive) and is rebuilt in the background
(issue 14, finding 6)."""

import fcntl
import os
import shutil
import time

import pytest

from archive.extensions import db
from archive.models import Document
from archive.services import filing, indexing, work
from archive.services.search import open_search
from tests.databases import sqlite_only_because


def _wait_for_repair(app, client, headers, query="琉璃瓦", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/api/v1/search", query_string={"q": query}, headers=headers)
        if response.status_code == 200:
            return response
        assert response.status_code == 503
        time.sleep(0.2)
    raise AssertionError("the index was not rebuilt")


@pytest.fixture
def filed(app, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    documents = [file_doc(dossier, f"修缮记录{i}", "维修") for i in range(3)]
    from archive import samples
    from archive.services import filing

    pdf = samples.make_pdf("屋面修缮", ["更换琉璃瓦三十片"])
    with work.unit(db.session):
        with_text = filing.file_document(
            db.session, documents[0].created_by, dossier.id,
            {"title": "屋面修缮", "category": "维修"}, [filing.Upload("roof.pdf", pdf)],
            store=app.extensions["blob_store"], limits=filing.Limits.from_config(app.config))
    return dossier, with_text


def test_an_index_deleted_while_serving_answers_rebuilding_then_is_rebuilt(app, client, api,
                                                                          filed, login_as):
    dossier, document = filed
    headers = api("officer")
    assert client.get("/api/v1/search", query_string={"q": "琉璃瓦"},
                      headers=headers).get_json()["total"] == 1
    shutil.rmtree(app.config["INDEX_DIR"])
    refused = client.get("/api/v1/search", query_string={"q": "琉璃瓦"}, headers=headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
    assert refused.get_json()["error"]["code"] == "index_rebuilding"
    assert "正在重建" in refused.get_json()["error"]["message"]
    found = _wait_for_repair(app, client, headers)
    assert [h["document_id"] for h in found.get_json()["hits"]] == [document.id]


def test_the_web_search_page_says_the_index_is_being_rebuilt(app, api, filed, login_as):
    shutil.rmtree(app.config["INDEX_DIR"])
    client = login_as("officer")
    # Hold the repair lock as another process would, so the page is seen mid-repair.
    fd = os.open(indexing._lock_path(app), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        page = client.get("/search", query_string={"q": "琉璃瓦"})
        assert page.status_code == 503
        assert "检索索引正在重建" in page.get_data(as_text=True)
        assert indexing.repairing(app)
        dashboard = client.get("/").get_data(as_text=True)
        assert "检索索引正在重建" in dashboard
    finally:
        os.close(fd)
    _wait_for_repair(app, app.test_client(), api("officer"))
    assert "检索索引正在重建" not in client.get("/").get_data(as_text=True)


def test_a_process_started_after_the_index_was_deleted_does_not_serve_an_empty_archive(
        app, client, api, filed):
    _, document = filed
    app.extensions["search"].close()
    shutil.rmtree(app.config["INDEX_DIR"])
    # A new worker opens the index path afresh: it finds nothing and creates it empty.
    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], app.config["INDEX_DIR"])
    headers = api("officer")
    first = client.get("/api/v1/search", query_string={"q": "琉璃瓦"}, headers=headers)
    assert first.status_code == 503
    found = _wait_for_repair(app, client, headers)
    assert found.get_json()["total"] == 1


def test_uploads_go_on_while_the_index_is_gone_and_are_indexed_by_the_repair(
        app, client, api, filed, make_customer, make_dossier):
    dossier, _ = filed
    headers = api("officer")
    shutil.rmtree(app.config["INDEX_DIR"])
    from archive import samples

    pdf = samples.make_pdf("索引重建时归档", ["索引不在时也能归档：汉白玉栏杆"])
    created = client.post(f"/api/v1/dossiers/{dossier.id}/documents", headers=headers,
                          data={"title": "索引重建时归档", "category": "维修",
                                "file": (__import__("io").BytesIO(pdf), "a.pdf")},
                          content_type="multipart/form-data")
    assert created.status_code == 201
    db.session.expire_all()
    assert db.session.get(Document, created.get_json()["id"]).needs_index
    found = _wait_for_repair(app, client, headers, query="汉白玉栏杆")
    assert found.get_json()["total"] == 1


def _wait_repair_done(timeout=60):
    deadline = time.monotonic() + timeout
    while indexing._repairing.locked() and time.monotonic() < deadline:
        time.sleep(0.05)


@sqlite_only_because("SQLite's database-wide write lock; PostgreSQL has none a rebuild could hold")
def test_a_rebuild_does_not_hold_the_database_write_lock(app, filed, monkeypatch):
    """Writers (every audited request) go on while the repair rebuilds a large archive."""
    import sqlite3
    import threading

    search = app.extensions["search"]
    original = search.rebuild
    started, release = threading.Event(), threading.Event()

    def paused_rebuild(docs, total=None, progress=False):
        first = next(iter(docs))  # the rebuild is reading the archive...
        started.set()
        release.wait(30)  # ...and indexing it, for as long as a big archive takes

        def rest():
            yield first
            yield from docs
        return original(rest(), total=total, progress=progress)

    monkeypatch.setattr(search, "rebuild", paused_rebuild)
    shutil.rmtree(app.config["INDEX_DIR"])
    assert indexing.repair_in_background(app)
    assert started.wait(30)
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    connection = sqlite3.connect(path, timeout=1, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")  # what an audit event, login or upload takes
        connection.execute("ROLLBACK")
    finally:
        release.set()
        connection.close()
        _wait_repair_done()
    assert app.extensions["search"].count() == 4


def test_a_few_flagged_documents_are_indexed_without_rebuilding_everything(
        app, filed, users, login_as, monkeypatch):
    dossier, _ = filed
    with work.unit(db.session):
        late = filing.file_document(db.session, users["officer"], dossier.id,
                                    {"title": "刚归档", "category": "维修"}, [],
                                    store=app.extensions["blob_store"],
                                    limits=filing.Limits.from_config(app.config), index=False)
    rebuilds = []
    monkeypatch.setattr(indexing, "rebuild", lambda *a, **k: rebuilds.append(1) or 0)
    assert login_as("staff").get("/").status_code == 200  # the dashboard starts the repair
    _wait_repair_done()
    assert rebuilds == []
    assert late.id in app.extensions["search"].document_ids()


def test_a_worker_that_recreated_the_index_empty_does_not_fill_it_with_a_few_documents(
        app, client, api, filed, file_doc):
    """Writing new uploads into the empty index a restarted worker made would turn
    "being rebuilt" into a partial archive that looks whole."""
    dossier, roof = filed
    app.extensions["search"].close()
    shutil.rmtree(app.config["INDEX_DIR"])
    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], app.config["INDEX_DIR"])
    later = file_doc(dossier, "新的维修记录", "维修")  # its first request is an upload
    db.session.expire_all()
    assert db.session.get(Document, later.id).needs_index
    assert app.extensions["search"].count() == 0
    assert indexing.unavailable_reason(db.session) == "empty"
    headers = api("officer")
    assert client.get("/api/v1/search", query_string={"q": "琉璃瓦"},
                      headers=headers).status_code == 503
    found = _wait_for_repair(app, client, headers)
    assert [h["document_id"] for h in found.get_json()["hits"]] == [roof.id]
    assert app.extensions["search"].count() == 5
