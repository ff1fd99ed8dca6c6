"""The test instances' databases on either engine: a file copied per test on SQLite, a
database created from a migrated template on PostgreSQL (`make test-postgres`, where
TEST_DATABASE_URL names a throw-away server: config.TestConfig.database_url)."""

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from config import TestConfig

ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql")

# The databases this run made, dropped at its end (tests/conftest.py).
_made: set[str] = set()


def lock_waits(app) -> int:
    """How many of the test database's sessions wait for a lock now (PostgreSQL): how a
    race test knows its second request is blocked behind the first."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar()


def sqlite_only_because(reason: str):
    """Skip a test on PostgreSQL, saying why it is about SQLite only."""
    return pytest.mark.skipif(ON_POSTGRES, reason=reason)


def _name(root: Path) -> str:
    return make_url(TestConfig.database_url(root)).database


def _server():
    # AUTOCOMMIT: CREATE and DROP DATABASE cannot run in a transaction.
    return sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


def committed(app, sql: str, **params):
    """The first value `sql` gives through a connection of its own to the app's database: it
    sees only what a commit made durable (the test's own session sees its flushed rows too)."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


def create_empty(root: Path) -> None:
    """An empty database for an instance on `root` (SQLite creates its file on first use)."""
    if not ON_POSTGRES:
        return
    name = _name(root)
    with _server().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    _made.add(name)


def copy(template_root: Path, root: Path) -> None:
    """The instance on `root` starts with a copy of the template instance's database."""
    if not ON_POSTGRES:
        shutil.copy(Path(template_root) / "archive.db", Path(root) / "archive.db")
        return
    name = _name(root)
    with _server().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_name(template_root)}"')
    _made.add(name)


def drop(root: Path) -> None:
    """Remove the database of the instance on `root` (its folder goes with pytest's)."""
    if ON_POSTGRES:
        _drop([_name(root)])


def drop_made() -> None:
    """Remove every database this run made and has not dropped yet."""
    if ON_POSTGRES:
        _drop(sorted(_made))


def _drop(names) -> None:
    with _server().connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _made.discard(name)


# On PostgreSQL, creating a database per test costs about a second (it copies the ~8 MB of
# system catalogues each database has); the `app` fixture instead reuses one database and
# puts the template's rows back in place between tests (tens of milliseconds).
_reusable: dict = {}


def reusable(template_root: Path, root: Path) -> None:
    """Point the instance on `root` at the run's reused database, holding the template's rows
    again: every table emptied and refilled from a snapshot, every sequence set back."""
    if not ON_POSTGRES:
        copy(template_root, root)
        return
    if not _reusable:
        _make_reusable(template_root)
    engine = _reusable["engine"]
    with engine.connect() as conn:
        # A test that left a connection open (a thread, a crashed child) must not hold a
        # lock the reset waits for.
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        conn.exec_driver_sql(_reusable["reset"])
    (Path(root) / "database.url").write_text(_reusable["url"])


def _make_reusable(template_root: Path) -> None:
    name = _name(template_root) + "_reused"
    with _server().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_name(template_root)}"')
    _made.add(name)
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(database=name)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars().all()
        sequences = conn.exec_driver_sql(
            "SELECT sequencename, coalesce(last_value, start_value), last_value IS NOT NULL "
            "FROM pg_sequences WHERE schemaname = 'public'").all()
        conn.exec_driver_sql("CREATE SCHEMA jz_template")
        for table in tables:
            conn.exec_driver_sql(
                f'CREATE TABLE jz_template."{table}" AS TABLE public."{table}"')
    # Triggers off while refilling: foreign keys and the register's append-only guard.
    statements = ["SET session_replication_role = replica"]
    statements += [f'DELETE FROM public."{table}"' for table in tables]
    statements += [f'INSERT INTO public."{table}" SELECT * FROM jz_template."{table}"'
                   for table in tables]
    statements += [f"SELECT setval('public.\"{seq}\"', {value}, {called})"
                   for seq, value, called in sequences]
    statements.append("SET session_replication_role = DEFAULT")
    _reusable.update(engine=engine, url=url.render_as_string(hide_password=False),
                     reset=";\n".join(statements))
