"""Uploads leave their index write to a batch writer (issue 19: "interactive uploads
should also gain from a batched indexer"). What must hold: a search right after an
upload finds it; a burst of uploads is indexed in fewer writes than uploads; a writer
that holds the index (a rebuild) delays no search; a process that dies before its batch
loses nothing. The rest of the suite indexes each upload in its request (TestConfig)."""

import io
import threading
import time

import pytest
from sqlalchemy import event, select

from archive import samples
from archive.extensions import db
from archive.models import Document
from archive.services import index_batches, indexing
from archive.services.search import SearchQuery, Visibility

TOKEN = "批量索引暗号庚辛"


@pytest.fixture
def batched(app, monkeypatch):
    """Uploads batched, with a pause long enough that a test acts before the writer."""
    app.config["INDEX_BATCH_SECONDS"] = 30.0
    monkeypatch.setattr(index_batches, "_failed_at", [float("-inf")])
    return app


@pytest.fixture
def dossier(call):
    customer = call("officer", "POST", "/api/v1/customers",
                    {"name": "褚批量", "department": "XS"}).json
    found = call("officer", "POST", "/api/v1/dossiers", {
        "customer_id": customer["id"], "project": "翠湖苑", "building": "1", "unit_no": "1",
        "room": "301"})
    assert found.status_code == 201, found.json
    return found.json["id"]


def _upload(call, dossier_id, title):
    pdf = samples.make_pdf(title, [f"{TOKEN} {title}"])
    response = call("officer", "POST", f"/api/v1/dossiers/{dossier_id}/documents", data={
        "title": title, "category": "维修", "file": (io.BytesIO(pdf), "repair.pdf")})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _flagged(ids) -> set[int]:
    found = set(db.session.execute(select(Document.id).where(
        Document.id.in_(ids), Document.needs_index.is_(True))).scalars())
    db.session.commit()  # end the read: SQLite's write lock
    return found


def _in_index(app, ids) -> set[int]:
    return set(ids) & app.extensions["search"].document_ids()


def _found(call, username="officer") -> set[int]:
    response = call(username, "GET", f"/api/v1/search?q={TOKEN}")
    assert response.status_code == 200, response.json
    return {hit["document_id"] for hit in response.json["hits"]}


def test_an_upload_answers_before_its_index_write_and_a_search_right_after_finds_it(
        batched, call, dossier):
    document_id = _upload(call, dossier, "漏水维修记录")
    assert _flagged([document_id]) == {document_id}  # committed, not yet indexed
    assert _in_index(batched, [document_id]) == set()
    assert _found(call) == {document_id}  # the search indexed what waited first
    assert _flagged([document_id]) == set()


def test_a_burst_of_uploads_is_indexed_in_fewer_writes_than_uploads(batched, call, dossier,
                                                                     monkeypatch):
    service = batched.extensions["search"]
    writes = []
    real = service.index_many

    def counted(docs, wait=None):
        docs = list(docs)
        writes.append(len(docs))
        return real(docs, wait=wait)
    monkeypatch.setattr(service, "index_many", counted)
    batched.config["INDEX_BATCH_SECONDS"] = 2.0
    ids = [_upload(call, dossier, f"维修记录 {n}") for n in range(4)]
    deadline = time.monotonic() + 30
    while _flagged(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _flagged(ids) == set() and _in_index(batched, ids) == set(ids)
    assert len(writes) <= 2 and sum(writes) >= len(ids), writes


def test_a_writer_holding_the_index_delays_no_search(batched, call, dossier, monkeypatch):
    """A rebuild holds the index's write lock for as long as it runs: a search waits
    CATCH_UP_WAIT for it at most, answers from the index as it is, and the upload waits
    flagged until the lock is free."""
    monkeypatch.setattr(index_batches, "CATCH_UP_WAIT", 0.3)
    document_id = _upload(call, dossier, "外墙渗水维修")
    held, release = threading.Event(), threading.Event()

    def rebuild():
        with batched.extensions["search"].directory.write_lock():
            held.set()
            release.wait(30)
    threading.Thread(target=rebuild).start()
    try:
        assert held.wait(10)
        start = time.monotonic()
        assert _found(call) == set()
        assert time.monotonic() - start < 5
        assert _flagged([document_id]) == {document_id}
        # Searches do not wait again at once: the next one answers without the lock.
        start = time.monotonic()
        assert _found(call) == set() and time.monotonic() - start < 0.3
    finally:
        release.set()
    monkeypatch.setattr(index_batches, "FAILED_PAUSE", 0.0)
    assert _found(call) == {document_id}


def test_an_upload_whose_process_died_before_its_batch_is_indexed_by_the_next_writer(
        batched, call, dossier):
    # The batch writer's pause is 30 s here: its process "dies" before it (nothing runs
    # it); the worker's periodic write (or any later search, or reindex) takes it up.
    document_id = _upload(call, dossier, "门锁维修记录")
    assert _flagged([document_id]) == {document_id}
    assert indexing.index_after_commit(db.session, [])
    assert _flagged([document_id]) == set()
    assert _in_index(batched, [document_id]) == {document_id}
    hits = batched.extensions["search"].search(
        SearchQuery(text=TOKEN), Visibility(unrestricted=True)).hits
    assert [h.document_id for h in hits] == [document_id]


def test_without_batching_each_upload_is_indexed_in_its_request(app, call, dossier):
    assert not index_batches.enabled()
    document_id = _upload(call, dossier, "电梯维修记录")
    assert _flagged([document_id]) == set()
    assert _in_index(app, [document_id]) == {document_id}


def test_a_search_asks_the_database_nothing_when_no_upload_came_since_it_last_looked(
        batched, call, dossier):
    statements = []

    def count(*_args):
        statements.append(1)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        index_batches.catch_up(db.session)  # no upload has stamped the index yet
        assert statements == []
        first = _upload(call, dossier, "水表维修记录")  # stamps the index after its commit
        statements.clear()
        index_batches.catch_up(db.session)  # asks, and indexes it
        assert statements and _flagged([first]) == set()
        statements.clear()
        index_batches.catch_up(db.session)  # nothing uploaded since: a stat, no query
        assert statements == []
        second = _upload(call, dossier, "燃气维修记录")
        index_batches.catch_up(db.session)
        assert _flagged([second]) == set()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
