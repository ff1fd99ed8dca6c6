"""SQLite's one write lock: a page view or search holds it only for its audit event, a
change holds it from its first read, and no audit event is lost or mis-chained."""

import sqlite3
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.extensions import db
from archive.models import AuditEvent, AuditHead, Dossier, User
from archive.services import audit, work
from tests.databases import sqlite_only_because

pytestmark = sqlite_only_because(
    "SQLite's one database-wide write lock (BEGIN IMMEDIATE); PostgreSQL locks the rows read "
    "FOR UPDATE instead, tested by tests/test_concurrent_filers.py")


def _database(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def _another_writer_can_start(app) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    other = sqlite3.connect(_database(app), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    else:
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


@pytest.fixture
def officer(app, users):
    return users["officer"]


def test_a_page_view_reads_without_the_write_lock_until_it_audits(app, officer):
    with app.test_request_context("/dossiers/1", method="GET"):
        db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
        assert _another_writer_can_start(app)
        audit.record(db.session, officer, "dossier.viewed", ("dossier", "1"))
        assert not _another_writer_can_start(app)
        db.session.commit()
        assert _another_writer_can_start(app)
        db.session.remove()


def test_a_change_holds_the_write_lock_from_its_first_read(app, officer):
    with app.test_request_context("/customers/new", method="POST"):
        db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
        assert not _another_writer_can_start(app)
        db.session.rollback()
        assert _another_writer_can_start(app)
        db.session.remove()


def test_a_command_holds_the_write_lock_from_its_first_read(app, officer):
    db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
    assert not _another_writer_can_start(app)
    db.session.rollback()


def test_a_page_views_user_lookup_leaves_its_reading_transaction_to_the_page(app, officer):
    """work.lookup: the user's lookup that wrote nothing is not a transaction of its own
    (one BEGIN and COMMIT less a page); the page's unit ends it."""
    with app.test_request_context("/dossiers/1", method="GET"):
        db.session.commit()
        with work.lookup(db.session):
            db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
        reading = db.session().get_transaction()
        assert reading is not None and _another_writer_can_start(app)
        with work.unit(db.session):
            assert db.session().get_transaction() is reading
        assert db.session().get_transaction() is None
        db.session.remove()


def test_a_user_lookup_that_writes_commits_at_once(app, officer):
    with app.test_request_context("/dossiers/1", method="GET"):
        db.session.commit()
        with work.lookup(db.session):
            db.session.get(User, officer.id).display_name = "改了"
        assert db.session().get_transaction() is None
        db.session.remove()
    with Session(db.engine) as elsewhere:
        assert elsewhere.get(User, officer.id).display_name == "改了"


def test_a_changes_user_lookup_lets_go_of_the_write_lock(app, officer):
    """A POST's transaction holds the write lock from its first read: left open, the
    lookup would hold it through whatever the view does before its unit (reading an
    upload's body)."""
    with app.test_request_context("/customers/new", method="POST"):
        db.session.commit()
        with work.lookup(db.session):
            db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
        assert db.session().get_transaction() is None
        assert _another_writer_can_start(app)
        db.session.remove()


def test_a_page_view_audits_on_the_newest_chain_head_after_another_writer(app, officer):
    """The view's read snapshot is older than an event another worker committed meanwhile:
    its own event must chain to that one, not to the head it could have read earlier."""
    with app.test_request_context("/dossiers/1", method="GET"):
        db.session.execute(select(User).where(User.id == officer.id)).scalar_one()
        with Session(db.engine) as elsewhere:  # another worker's request
            audit.record(elsewhere, officer, "dossier.viewed", ("dossier", "2"))
            elsewhere.commit()
        audit.record(db.session, officer, "dossier.viewed", ("dossier", "1"))
        db.session.commit()
        db.session.remove()
    report = audit.verify(db.session)
    assert report.ok, report.problem


def test_an_event_chains_on_the_newest_head_though_the_session_holds_an_older_one(app, officer):
    """The session keeps what it loaded across commits while anything refers to it (here
    the head, as a check of the chain would hold it): the head must be read afresh for the
    next event, after another session appended to the chain."""
    held = db.session.get(AuditHead, 1)
    db.session.commit()
    with Session(db.engine) as elsewhere:  # another worker's session
        other = audit.record(elsewhere, officer, "document.viewed", ("document", "2"))
        elsewhere.commit()
    assert held.seq == other.seq - 1  # the session's head is older than the chain's
    event = audit.record(db.session, officer, "document.viewed", ("document", "3"))
    db.session.commit()
    assert (event.seq, event.prev_hash) == (other.seq + 1, other.hash)
    report = audit.verify(db.session)
    assert report.ok, report.problem
    assert report.checked == db.session.query(AuditEvent).count()


def test_concurrent_page_views_each_commit_one_event_on_an_intact_chain(app, officer, make_customer,
                                                                      make_dossier):
    dossier = make_dossier(make_customer())
    before = db.session.query(AuditEvent).count()
    db.session.commit()  # outside a request the session holds the write lock: release it
    views, statuses = 6, []

    def viewer():
        client = app.test_client()
        client.post("/login", data={"username": "officer", "password": "Jz2026-dangan"})
        for _ in range(views):
            statuses.append(client.get(f"/dossiers/{dossier.id}").status_code)

    threads = [threading.Thread(target=viewer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * (4 * views)
    db.session.expire_all()
    viewed = db.session.query(AuditEvent).filter(
        AuditEvent.action == "dossier.viewed", AuditEvent.object_id == str(dossier.id)).count()
    assert viewed == 4 * views
    assert db.session.query(AuditEvent).count() >= before + 4 * views
    report = audit.verify(db.session)
    assert report.ok, report.problem
    assert db.session.get(Dossier, dossier.id) is not None
