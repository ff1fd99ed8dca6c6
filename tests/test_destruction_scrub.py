"""A destroyed file's text leaves PostgreSQL's pages (issue 21): the tombstone's update
leaves the old row version, text and all, in the table's pages, and a plain VACUUM may
leave its bytes in the space it frees. The worker's sweep rewrites the table (VACUUM
FULL) once a batch is executed, waiting a bounded time for the lock, and records the
batch as compacted. Read here in the table's raw pages (pageinspect, through the buffer
cache, so unwritten pages count too), the heap's and its TOAST table's.

On SQLite `secure_delete` and the checkpoint after each batch do the same: the database
files are read for the text in tests/api/test_destruction_api.py."""

import threading
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from archive import clock, samples, worker
from archive.extensions import db
from archive.models import AuditEvent, Document
from archive.services import destruction
from tests.api.test_destruction_api import _approve, _execute, _propose
from tests.databases import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's dead row versions; "
                                "SQLite's file is read in tests/api/test_destruction_api.py")

TOKEN = "销毁后页内残留检查暗号丁戊己"


def _engine(app):
    return sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)


def _pages_holding(app, needle: str) -> int:
    """How many pages of stored_files and of its TOAST table hold `needle`'s UTF-8 bytes."""
    with _engine(app).begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        return conn.execute(sa.text("""
            SELECT count(*) FROM pg_class c
            CROSS JOIN LATERAL unnest(ARRAY[c.oid, NULLIF(c.reltoastrelid, 0)]) AS rel(oid)
            CROSS JOIN LATERAL generate_series(
                0, (pg_relation_size(rel.oid) / current_setting('block_size')::int) - 1) AS b
            WHERE c.relname = 'stored_files' AND rel.oid IS NOT NULL
              AND position(:needle IN get_raw_page(rel.oid::regclass::text, b::int)) > 0
            """), {"needle": needle.encode("utf-8")}).scalar()


@pytest.fixture
def complaint(make_customer, make_dossier, file_doc):
    """A complaint record of 2024, due for destruction, whose text stays in the table's own
    page, uncompressed (under 2 kB, as a page or two of text does), filed after two kept
    documents: their rows lie above its row in the page, so a plain VACUUM moves only the
    tombstone's short row into the space the text held and leaves the text's first bytes
    there (what a plain VACUUM did here)."""
    dossier = make_dossier(make_customer("冯投诉"))
    for n in (1, 2):
        file_doc(dossier, f"保留文件 {n}", "其他", files=[(f"kept{n}.pdf", samples.make_pdf(
            f"保留文件 {n}", [f"永久保存的第 {n} 份文件。"]))])
    pdf = samples.make_pdf("投诉处理记录", [TOKEN] + [f"第{n}次回访：客户反映漏水，已处理完毕。"
                                                   for n in range(20)])
    return file_doc(dossier, "投诉处理记录 2024-01", "投诉",
                    files=[("complaint.pdf", pdf)], date="2024-01-10")


def _destroy(call, complaint) -> int:
    batch = _propose(call, complaint.id).json
    assert _approve(call, batch).status_code == 200
    done = _execute(call, batch)
    assert done.status_code == 200, done.json
    return batch["id"]


def _compacted(batch_id: int) -> int:
    db.session.expire_all()
    return db.session.execute(select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "destruction.compacted",
        AuditEvent.object_id == str(batch_id))).scalar()


def _at_local(days: int, hour: int, action, *args):
    """Run `action` at `hour` o'clock in the archive's zone `days` from today: the sweep
    compacts in the night window only, so a test must not take the hour it runs at."""
    moment = clock.to_utc(datetime.combine(clock.today() + timedelta(days=days), time(hour, 0)))
    clock.travel(moment - clock.now())
    try:
        return action(*args)
    finally:
        clock.reset()


def test_the_sweep_after_a_destruction_leaves_no_copy_of_the_text_in_the_table(
        app, call, complaint):
    assert _pages_holding(app, TOKEN) >= 1
    batch_id = _destroy(call, complaint)
    db.session.expire_all()
    assert db.session.get(Document, complaint.id).files[0].text == ""
    assert _compacted(batch_id) == 0
    _at_local(1, 10, worker.sweep, app)  # the working day: the rewrite would hold the table
    assert _compacted(batch_id) == 0 and _pages_holding(app, TOKEN) >= 1

    _at_local(2, 3, worker.sweep, app)  # the night: it rewrites the table

    assert _pages_holding(app, TOKEN) == 0
    assert _compacted(batch_id) == 1
    assert destruction.compact_pending(db.session) == []
    worker.sweep(app)  # nothing waits: the table is not rewritten again
    assert _compacted(batch_id) == 1
    db.session.commit()


def test_the_compaction_hands_its_connection_back_without_its_lock_timeout(app, call, complaint):
    # SET lock_timeout is the connection's: left set, every later user of that pooled
    # connection (a worker waiting for the audit head, a job's claim) failed after 5 s.
    _destroy(call, complaint)
    db.session.commit()
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=1, max_overflow=0)
    session = sa.orm.Session(engine)
    try:
        assert destruction.compact(session) == 1
        session.close()
        with engine.connect() as conn:  # the pool's one connection, the one that vacuumed
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "0"
    finally:
        session.close()
        engine.dispose()


def test_a_busy_table_is_compacted_at_a_later_sweep_without_waiting_long(
        app, call, complaint, monkeypatch):
    """A reader in a long transaction holds the table: VACUUM FULL gives up after its lock
    timeout (requests would queue behind it meanwhile), the batch stays pending, and the
    next sweep once the reader is gone compacts it."""
    monkeypatch.setattr(destruction, "COMPACT_LOCK_TIMEOUT", "300ms")
    batch_id = _destroy(call, complaint)
    reader = _engine(app).connect()
    reader.execute(sa.text("SELECT count(*) FROM stored_files")).scalar()  # an open read
    finished = threading.Event()
    outcome = {}

    def sweep():
        with app.app_context():
            outcome["compacted"] = destruction.compact(db.session)
            db.session.remove()
        finished.set()

    threading.Thread(target=sweep).start()
    assert finished.wait(30), "VACUUM FULL waited past its lock timeout"
    assert outcome["compacted"] == 0 and _compacted(batch_id) == 0
    assert destruction.compact_pending(db.session) == [batch_id]
    reader.close()
    db.session.commit()
    assert destruction.compact(db.session) == 1
    assert _compacted(batch_id) == 1 and _pages_holding(app, TOKEN) == 0
