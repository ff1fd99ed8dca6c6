"""Uploads leave their index write to a batch writer (issue 19: "interactive uploads
should also gain from a batched indexer"). What must hold: a search right after an
upload finds it; a burst of uploads is indexed in fewer writes than uploads; a writer
that holds the index (a rebuild) delays no search; a process that dies before its batch
loses nothing. The rest of the suite indexes each upload in its request (TestConfig)."""

import io
import threading
import time

import pytest
from sqlalchemy import event, select, update

from archive import samples
from archive.extensions import db
from archive.models import Document
from archive.services import index_batches, indexing
from archive.services.search import SearchQuery, Visibility
from archive.services.search.analysis import warm_up

TOKEN = "批量索引暗号庚辛"


@pytest.fixture
def batched(app, monkeypatch):
    """Uploads batched, with a pause long enough that a test acts before the writer."""
    app.config["INDEX_BATCH_SECONDS"] = 30.0
    # This process's catching-up state, as a freshly started process has it.
    monkeypatch.setattr(index_batches, "_failed_at", [float("-inf")])
    monkeypatch.setattr(index_batches, "_busy", [False])
    monkeypatch.setattr(index_batches, "_seen_clean", {})
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

    def counted(docs):
        docs = list(docs)
        writes.append(len(docs))
        return real(docs)
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
    CATCH_UP_WAIT for it at most, answers from the index as it is, the next searches do
    not wait at all, and the first search after the lock is free indexes the upload."""
    monkeypatch.setattr(index_batches, "CATCH_UP_WAIT", 0.3)
    document_id = _upload(call, dossier, "外墙渗水维修")
    held, release = threading.Event(), threading.Event()

    def rebuild():
        with batched.extensions["search"].directory.write_lock():
            held.set()
            release.wait(30)
    holder = threading.Thread(target=rebuild)
    holder.start()
    try:
        assert held.wait(10)
        start = time.monotonic()
        assert _found(call) == set()
        assert time.monotonic() - start < 5
        assert _flagged([document_id]) == {document_id}
        start = time.monotonic()
        assert _found(call) == set() and time.monotonic() - start < 0.3
    finally:
        release.set()
        holder.join(10)
    assert _found(call) == {document_id}  # no pause after a busy lock


def test_a_writer_that_read_before_a_change_cannot_write_the_older_copy_over_it(
        batched, call, dossier):
    """Two writers write in the order they read: the documents are read under the
    index's lock. A batch writer waiting for the lock while a correction commits writes
    what the database holds once it has the lock, not what it held before."""
    document_id = _upload(call, dossier, "旧题名维修记录")
    held, release = threading.Event(), threading.Event()

    def other_writer():
        with batched.extensions["search"].directory.write_lock():
            held.set()
            release.wait(30)
    holder = threading.Thread(target=other_writer)
    holder.start()
    assert held.wait(10)
    outcome = {}

    def batch_writer():  # another thread, another session, as the batch writer is
        with batched.app_context():
            outcome["written"] = indexing.index_after_commit(db.session, [])
            db.session.remove()
    warm_up()  # jieba loaded: the writer reaches the lock at once
    writer = threading.Thread(target=batch_writer)
    writer.start()
    time.sleep(0.5)  # it waits on the lock (having read the old title, before the fix)
    db.session.execute(update(Document).where(Document.id == document_id).values(
        title="新题名维修记录", needs_index=True))  # a correction, its own write not yet run
    db.session.commit()
    release.set()
    holder.join(10)
    writer.join(30)
    assert outcome["written"]
    titles = [h.title for h in batched.extensions["search"].search(
        SearchQuery(text="新题名维修记录"), Visibility(unrestricted=True)).hits]
    assert titles == ["新题名维修记录"]


def test_an_upload_killed_before_its_stamp_is_found_by_a_search_within_the_recheck(
        batched, call, dossier, monkeypatch):
    """The stamp follows the commit: a process killed between the two leaves the document
    flagged and the folder unstamped. Searches still ask the database every
    RECHECK_SECONDS."""
    index_batches.catch_up(db.session)  # this process has looked once: nothing waits
    monkeypatch.setattr(index_batches, "_mark_upload", lambda: None)  # killed before it
    document_id = _upload(call, dossier, "未盖戳的维修记录")
    assert _found(call) == set()  # the stamp is unchanged and the look is recent
    monkeypatch.setattr(index_batches, "RECHECK_SECONDS", 0.0)  # as 30 s later
    assert _found(call) == {document_id}


def test_a_failing_catch_up_never_fails_the_search(batched, call, dossier):
    document_id = _upload(call, dossier, "索引写入失败的维修记录")
    lock = batched.extensions["search"].directory.root / "write.lock"
    lock.unlink()
    lock.mkdir()  # the index's lock file cannot be opened: every index write fails
    assert _found(call) == set()  # answered, without the document the index lacks
    assert _flagged([document_id]) == {document_id}
    assert time.monotonic() - index_batches._failed_at[0] < 5  # searches pause catching up


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
        index_batches.catch_up(db.session)  # this process's first look asks
        assert statements
        statements.clear()
        index_batches.catch_up(db.session)  # nothing uploaded since: a stat, no query
        assert statements == []
        first = _upload(call, dossier, "水表维修记录")  # stamps the index after its commit
        statements.clear()
        index_batches.catch_up(db.session)  # asks, and indexes it
        assert statements and _flagged([first]) == set()
        second = _upload(call, dossier, "燃气维修记录")  # at once: the stamp still differs
        index_batches.catch_up(db.session)
        assert _flagged([second]) == set()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _change_elsewhere(document_id: int, title: str) -> None:
    """A correction committed by another process (its own session), flagging the document
    as every change does; its own index write never runs (the process was killed)."""
    from sqlalchemy.orm import Session

    with Session(db.engine) as other:
        other.execute(update(Document).where(Document.id == document_id).values(title=title))
        indexing.flag(other, [document_id])
        other.commit()


def test_a_change_committed_while_an_index_write_runs_stays_flagged(
        batched, call, dossier, monkeypatch):
    """The index write clears a document's flag only if no change has flagged it again
    since it was read: the copy it wrote is older than that change, whose own write may
    never happen (before, the flag was cleared and the change never reached the index)."""
    document_id = _upload(call, dossier, "写入时被更正的维修记录")
    service = batched.extensions["search"]
    real = service.index_many

    def index_many(records):
        _change_elsewhere(document_id, "写入期间更正后的题名")
        return real(records)
    monkeypatch.setattr(service, "index_many", index_many)
    assert indexing.index_after_commit(db.session, [document_id])
    monkeypatch.setattr(service, "index_many", real)
    assert _flagged([document_id]) == {document_id}
    # The next write takes it up and clears it.
    assert indexing.index_after_commit(db.session, [])
    assert _flagged([document_id]) == set()
    titles = [h.title for h in service.search(
        SearchQuery(text="写入期间更正后的题名"), Visibility(unrestricted=True)).hits]
    assert titles == ["写入期间更正后的题名"]


def test_a_long_lived_session_indexes_what_the_database_holds(batched, call, dossier):
    """A session that keeps its objects across commits (the worker's, an import's) and
    holds an older copy of a document indexes the document as it is now."""
    document_id = _upload(call, dossier, "旧副本维修记录")
    held = db.session.get(Document, document_id)
    assert held.title == "旧副本维修记录"
    db.session.commit()
    _change_elsewhere(document_id, "数据库中的新题名")
    assert indexing.index_after_commit(db.session, [document_id])
    service = batched.extensions["search"]
    titles = [h.title for h in service.search(
        SearchQuery(text="数据库中的新题名"), Visibility(unrestricted=True)).hits]
    assert titles == ["数据库中的新题名"]


def test_the_upload_stamp_changes_with_every_upload_and_stays_small(app, monkeypatch):
    """The stamp grew a byte an upload, without end; it starts again from empty at its
    limit, and its size still differs from the one before after every upload."""
    monkeypatch.setattr(index_batches, "STAMP_LIMIT", 8)
    path = index_batches._stamp_path()
    seen = [index_batches._stamp(path)]
    for _ in range(20):
        index_batches._mark_upload()
        seen.append(index_batches._stamp(path))
    assert all(before != after for before, after in zip(seen, seen[1:], strict=False))
    assert max(size for size in seen if size is not None) < 8
