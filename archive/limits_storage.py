"""A rate-limit counter store shared by every worker process: one SQL table.

Flask-Limiter's storage library (`limits`) keeps counters in memory (one set per
worker, so two workers allow twice the attempts, and a restart forgets them) or in
Redis/Memcached/MongoDB. This store keeps them in a small table of its own database,
by default `instance/ratelimits.db` beside the archive's: the limit holds across
workers and restarts without a server to run, and the counters never wait behind the
archive database's write lock. With Redis at hand, set RATELIMIT_STORAGE_URI=redis://…
instead.

URI: `counters+<SQLAlchemy URL>`, e.g. `counters+sqlite:////srv/juanzong/ratelimits.db`
or `counters+postgresql+psycopg://user@host/db`. Fixed-window strategy only (the one
the app uses).
"""

import time
from pathlib import Path

import sqlalchemy as sa
from limits.storage import Storage

_metadata = sa.MetaData()
counters = sa.Table(
    "rate_limit_counters", _metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)
PREFIX = "counters+"


class SQLCounterStorage(Storage):
    STORAGE_SCHEME = ["counters+sqlite", "counters+postgresql", "counters+postgresql+psycopg"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        url = uri[len(PREFIX):]
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            sa.event.listen(self.engine, "connect", _sqlite_connect)
        _metadata.create_all(self.engine)

    @property
    def base_exceptions(self):
        return sa.exc.SQLAlchemyError

    def _insert(self):
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(counters)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the key's counter, starting a new window of `expiry` seconds
        when the last one has run out; the count in the window, atomically."""
        moment = time.time()
        stmt = self._insert().values(key=key, count=amount, expires_at=moment + expiry)
        expired = counters.c.expires_at <= moment
        stmt = stmt.on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": sa.case((expired, amount), else_=counters.c.count + amount),
                "expires_at": sa.case((expired, moment + expiry), else_=counters.c.expires_at),
            },
        ).returning(counters.c.count)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(counters).where(counters.c.expires_at < moment - 60))
            return conn.execute(stmt).scalar_one()

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(counters.c.count).where(
                counters.c.key == key, counters.c.expires_at > time.time())).scalar()
        return value or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(counters.c.expires_at).where(
                counters.c.key == key)).scalar()
        return value if value is not None and value > time.time() else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(counters)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(counters).where(counters.c.key == key))


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Workers increment at once: wait for the lock rather than fail; WAL so a reader
    # never blocks a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
