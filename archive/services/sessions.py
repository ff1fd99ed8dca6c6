"""Web sessions kept on the server (`LoginSession`).

The browser's cookie holds a random token; the row, found by the token's SHA-256,
says whether the session is still open. Logout ends the one session; a password
change ends the user's others; deactivation ends them all; a session idle for longer
than the configured time ends when next seen. Ended rows are kept: they are the list
of a user's sessions and outlive the cookie.
"""

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from archive.clock import now
from archive.models import LoginSession, User

# last_seen_at is written at most this often: a write per request would put every page
# view behind the database's write lock for nothing but a time stamp.
TOUCH_EVERY = timedelta(seconds=60)


def token_hash(token: str) -> str:
    """What is stored of a secret token (a session's, an API token): its SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session, user: User, *, ip: str = "", user_agent: str = "") -> str:
    """Open a session for `user` and return the token for the cookie (not stored)."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=token_hash(token), user_id=user.id, ip=ip[:64],
                             user_agent=user_agent[:300]))
    return token


@functools.cache
def _by_token():
    # Built once: every page asks this, and building a statement and its cache key cost
    # as much as running it (bench/request_cpu.py).
    return (select(LoginSession).options(joinedload(LoginSession.user))
            .where(LoginSession.token_hash == bindparam("token_hash")))


def find(session, token: str | None) -> LoginSession | None:
    """The session a cookie's token names, open or ended (None if there is none)."""
    if not token or not isinstance(token, str):
        return None
    return session.execute(_by_token(), {"token_hash": token_hash(token)}).scalar_one_or_none()


class Resumed(NamedTuple):
    user: User | None
    why: str = ""  # when there is no user: "missing", "ended" or "idle"
    noted: bool = False  # the session's activity time was moved now


@functools.cache
def _resumable():
    # Built once, as _by_token. The user as an object, the session as the columns resume
    # reads: a LoginSession object beside the user cost a third of the lookup.
    return (select(User, LoginSession.id, LoginSession.ended_at, LoginSession.last_seen_at)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.token_hash == bindparam("token_hash")))


@functools.cache
def _seen():
    return (update(LoginSession).where(LoginSession.id == bindparam("row"))
            .values(last_seen_at=bindparam("moment")))


@functools.cache
def _ended_idle():
    return (update(LoginSession)
            .where(LoginSession.id == bindparam("row"), LoginSession.ended_at.is_(None))
            .values(ended_at=bindparam("moment"), end_reason="idle"))


def resume(session, token: str | None, idle: timedelta) -> Resumed:
    """The user of an open session, refreshing its activity time (at most once a minute:
    `noted`); or no user and why: "missing" (no such session), "ended", or "idle" (it has
    just been ended). The caller's unit commits the change."""
    if not token or not isinstance(token, str):
        return Resumed(None, "missing")
    row = session.execute(_resumable(), {"token_hash": token_hash(token)}).first()
    if row is None:
        return Resumed(None, "missing")
    if row.ended_at is not None:
        return Resumed(None, "ended")
    moment = now()
    if moment - row.last_seen_at > idle:
        session.execute(_ended_idle(), {"row": row.id, "moment": moment})
        return Resumed(None, "idle")
    if moment - row.last_seen_at >= TOUCH_EVERY:
        session.execute(_seen(), {"row": row.id, "moment": moment})
        return Resumed(row.User, noted=True)
    return Resumed(row.User)


def end(row: LoginSession, reason: str) -> None:
    """End one session (in the caller's unit)."""
    if row.ended_at is None:
        row.ended_at = now()
        row.end_reason = reason


def end_token(session, token: str | None, reason: str) -> None:
    """End the session `token` names, if it is open (in the caller's unit)."""
    row = find(session, token)
    if row is not None:
        end(row, reason)


def logout(session, user: User, token: str | None) -> None:
    """End the session `token` names (if it is `user`'s) and audit the logout."""
    from archive.services import audit

    row = find(session, token)
    if row is not None and row.user_id == user.id:
        end(row, "logout")
    audit.record(session, user, "logout", user)


def end_all(session, user: User, reason: str, *, keep: str | None = None) -> int:
    """End every open session of `user` but the one whose token is `keep`; how many."""
    stmt = (update(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason))
    if keep:
        stmt = stmt.where(LoginSession.token_hash != token_hash(keep))
    return session.execute(stmt).rowcount


def active_sessions(session, user: User) -> list[LoginSession]:
    """The user's open sessions, newest first."""
    return list(session.execute(
        select(LoginSession).where(LoginSession.user_id == user.id,
                                   LoginSession.ended_at.is_(None))
        .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
    ).scalars())
