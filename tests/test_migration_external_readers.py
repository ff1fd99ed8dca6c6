"""The external readers' migration creates the reader, scan and copy tables as the models
declare them, goes down (leaving the loans as they were) and up again."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from archive import create_app
from archive.extensions import db
from config import TestConfig
from tests import databases

LOANS = "01976b81db41"
READERS = "5e7a1c0d9b42"
TABLES = {"external_readers", "loan_files", "loan_copies"}


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _differences() -> list:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    return [d for d in diff if any(t in repr(d) for t in TABLES)]


def test_external_readers_go_down_and_up(tmp_path):
    databases.create_empty(tmp_path)
    app = create_app(TestConfig(tmp_path))
    with app.app_context():
        flask_migrate.upgrade(revision=READERS)
        assert TABLES <= _tables()
        assert _differences() == []
        db.session.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, clearance,"
            " active, session_version, created_at) VALUES (1, 'officer', 'o', 'x', 'officer',"
            " 3, TRUE, 1, '2026-01-01 08:00:00')"))
        db.session.commit()

        flask_migrate.downgrade(revision=LOANS)
        assert not TABLES & _tables()
        assert "loans" in _tables()
        assert db.session.execute(text("SELECT username FROM users")).scalars().all() == [
            "officer"]
        db.session.commit()

        flask_migrate.upgrade(revision=READERS)
        assert TABLES <= _tables() and _differences() == []
