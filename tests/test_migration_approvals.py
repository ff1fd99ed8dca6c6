"""The approval engine's migration carries the level changes made before it into requests
and steps (ids, people, times, notes kept), seeds the routes with their seed lines, and
its downgrade gives back exactly the rows it took."""

from datetime import datetime

import flask_migrate
from sqlalchemy import text

from archive import create_app
from archive.extensions import db
from config import TestConfig
from tests import databases

BEFORE = "9d6af6d8e636"  # the revision before the engine
ENGINE = "ec89c5fbc47a"

USERS = """INSERT INTO users (id, username, display_name, password_hash, role, clearance,
    active, session_version, created_at) VALUES
    (1, 'staff', 's', 'x', 'staff', 1, TRUE, 1, '2026-01-01 08:00:00'),
    (2, 'head', 'h', 'x', 'dept_head', 2, TRUE, 1, '2026-01-01 08:00:00'),
    (3, 'office', 'o', 'x', 'gm_office', 3, TRUE, 1, '2026-01-01 08:00:00')"""
CHANGES = """INSERT INTO classification_changes (id, from_level, to_level, reason, status,
    requested_by_id, requested_at, dept_head_id, dept_head_at, gm_office_id, gm_office_at,
    decided_at, rejected_by_id, decision_note) VALUES
    (7, 1, 2, '提高', 'applied', 1, '2026-01-02 09:00:00', 2, '2026-01-03 09:00:00', 3,
     '2026-01-04 09:00:00', '2026-01-04 09:00:00', NULL, ''),
    (8, 2, 1, '解密', 'rejected', 1, '2026-01-02 09:00:00', NULL, NULL, NULL, NULL,
     '2026-01-05 09:00:00', 3, '暂不解密'),
    (9, 1, 3, '待批', 'requested', 1, '2026-01-02 09:00:00', 2, '2026-01-03 09:00:00', NULL,
     NULL, NULL, NULL, ''),
    (10, 3, 1, '先经部门', 'requested', 1, '2026-01-02 09:00:00', 2,
     '2026-01-03 10:00:00', NULL, NULL, NULL, NULL, '')"""


def _rows(sql: str):
    # Times as SQLite returns them: PostgreSQL's are datetimes, which print the same.
    rows = [tuple(str(v) if isinstance(v, datetime) else v for v in r)
            for r in db.session.execute(text(sql)).all()]
    db.session.commit()  # outside a request a transaction holds the write lock
    return rows


def test_level_changes_become_requests_and_come_back(tmp_path):
    databases.create_empty(tmp_path)
    app = create_app(TestConfig(tmp_path))
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        db.session.execute(text(USERS))
        db.session.execute(text(CHANGES))
        db.session.commit()
        before = _rows("SELECT * FROM classification_changes ORDER BY id")

        flask_migrate.upgrade(revision=ENGINE)
        requests = _rows("SELECT r.id, r.kind, t.kind, r.status, r.payload_json, r.created_at,"
                         " r.decided_at, r.requested_by_id FROM approval_requests r"
                         " JOIN approval_routes t ON t.id = r.route_id ORDER BY r.id")
        assert requests == [
            (7, "level_raise", "level_raise", "approved", '{"from_level": 1, "to_level": 2}',
             "2026-01-02 09:00:00", "2026-01-04 09:00:00", 1),
            (8, "level_lower", "level_lower", "rejected", '{"from_level": 2, "to_level": 1}',
             "2026-01-02 09:00:00", "2026-01-05 09:00:00", 1),
            (9, "level_raise", "level_raise", "pending", '{"from_level": 1, "to_level": 3}',
             "2026-01-02 09:00:00", None, 1),
            (10, "level_lower", "level_lower", "pending", '{"from_level": 3, "to_level": 1}',
             "2026-01-02 09:00:00", None, 1),
        ]
        steps = _rows("SELECT request_id, approver, decided_by_id, decision, note, decided_at"
                      " FROM approval_steps ORDER BY request_id, id")
        assert steps == [
            (7, "customer_dept_head", 2, "approved", "", "2026-01-03 09:00:00"),
            (7, "gm_office", 3, "approved", "", "2026-01-04 09:00:00"),
            (8, "gm_office", 3, "rejected", "暂不解密", "2026-01-05 09:00:00"),
            (9, "customer_dept_head", 2, "approved", "", "2026-01-03 09:00:00"),
            (9, "gm_office", None, None, "", None),
            # A head's approval of a lowering was recorded before: it stays in the history.
            (10, "customer_dept_head", 2, "approved", "", "2026-01-03 10:00:00"),
            (10, "gm_office", None, None, "", None),
        ]
        routes = _rows("SELECT kind, version, seed_ref, active FROM approval_routes ORDER BY id")
        assert [r[0] for r in routes] == ["level_raise", "level_lower", "cross_department",
                                          "top_secret_copy", "route_change"]
        assert all(r[1] == 1 and r[3] for r in routes)
        assert routes[0][2] == "000:742" and routes[2][2] == "002:67"
        assert _rows("SELECT gm_office_director FROM users") == [(0,), (0,), (0,)]

        flask_migrate.downgrade(revision=BEFORE)
        assert _rows("SELECT * FROM classification_changes ORDER BY id") == before
        db.session.remove()
        db.engine.dispose()
    app.extensions["search"].close()


def test_every_later_migration_goes_down_and_up_again(tmp_path):
    """From the engine to the newest revision and back (the loans' downgrade removes its
    routes and column without copying the tables that refer to approval_requests)."""
    databases.create_empty(tmp_path)
    app = create_app(TestConfig(tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
        head = _rows("SELECT version_num FROM alembic_version")
        flask_migrate.downgrade(revision=ENGINE)
        assert _rows("SELECT count(*) FROM approval_routes") == [(5,)]
        flask_migrate.upgrade()
        assert _rows("SELECT version_num FROM alembic_version") == head
        assert _rows("SELECT count(*) FROM approval_routes WHERE kind LIKE 'loan_%'") == [(8,)]
        db.session.remove()
        db.engine.dispose()
    app.extensions["search"].close()
