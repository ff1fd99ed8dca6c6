"""Users, passwords (argon2), API tokens and logins."""

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from archive.clock import now
from archive.models import ApiToken, User
from archive.models.enums import Level, Role
from archive.services import audit, sessions, work
from archive.services.errors import Conflict, Invalid, Unauthorized

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("no-such-user-password")

MIN_PASSWORD_LENGTH = 10


def check_password_policy(password: str, username: str = "") -> None:
    """At least 10 characters, letters and digits, and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符", code="weak_password")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise Invalid("密码须同时包含字母和数字", code="weak_password")
    if username and username.lower() in password.lower():
        raise Invalid("密码不能包含用户名", code="weak_password")


def create_user(session, *, username: str, password: str, role: str, department_id: int | None,
                clearance: Level, display_name: str = "") -> User:
    """A new account, checked against the password policy and audited."""
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise Invalid("用户名只能包含字母、数字、下划线、点和连字符（2–64 个字符）")
    try:
        role = Role(role).value
    except ValueError:
        raise Invalid(f"未知角色：{role}（可选：{', '.join(r.value for r in Role)}）") from None
    check_password_policy(password, username)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"用户已存在：{username}")
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), role=role,
                department_id=department_id, clearance=int(clearance))
    session.add(user)
    session.flush()
    audit.record(session, None, "user.created", user, username=username, role=role,
                 clearance=int(clearance))
    return user


def authenticate(session, username: str, password: str) -> User:
    """The user if the password matches; every attempt is audited (a failed one in its own
    transaction, which outlives the caller's unit)."""
    user = session.execute(
        select(User).where(User.username == (username or "").strip())
    ).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
        ok = user is not None and user.active
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    if not ok:
        work.record_refusal(session, user, "login.failed", user, username=(username or "")[:64])
        raise Unauthorized("用户名或密码错误", code="bad_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, user, "login.succeeded", user)
    return user


def change_password(session, user: User, old: str, new: str, *,
                    keep_session: str | None = None) -> None:
    """Change the password, end every other session of the user (all but the one whose
    token is `keep_session`) and revoke the user's API tokens. A wrong old password is
    audited in its own transaction."""
    try:
        _hasher.verify(user.password_hash, old or "")
    except (VerifyMismatchError, InvalidHashError):
        work.record_refusal(session, user, "password.change_failed", user)
        raise Invalid("原密码不正确", code="bad_credentials") from None
    check_password_policy(new, user.username)
    user.password_hash = _hasher.hash(new)
    user.session_version += 1
    ended = sessions.end_all(session, user, "password", keep=keep_session)
    _revoke_tokens(session, user)
    audit.record(session, user, "password.changed", user, sessions_ended=ended)


def deactivate_user(session, user: User, actor: User | None = None) -> None:
    """Deactivate an account: it can no longer log in, every session of it ends at once
    and its API tokens are revoked."""
    if not user.active:
        raise Conflict(f"账号已停用：{user.username}")
    user.active = False
    ended = sessions.end_all(session, user, "deactivated")
    _revoke_tokens(session, user)
    audit.record(session, actor, "user.deactivated", user, sessions_ended=ended)


def _revoke_tokens(session, user: User) -> None:
    for token in session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
    ).scalars():
        token.revoked = True


def create_token(session, user: User) -> str:
    """A new API token for `user`; only its hash is kept, so this is the one chance to see it."""
    token = "jz_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=sessions.token_hash(token), prefix=token[:10]))
    audit.record(session, user, "token.created", user, prefix=token[:10])
    return token


# last_used_at is written at most this often: a write per API request would take the
# database's write lock for a time stamp (GET requests otherwise take it only for their
# audit event).
TOKEN_TOUCH_EVERY = timedelta(seconds=60)


def user_for_token(session, token: str) -> User | None:
    """The active user whose unrevoked token this is, or None (its last use is noted at
    most once a minute, in the caller's unit)."""
    row = session.execute(
        select(ApiToken).options(joinedload(ApiToken.user))
        .where(ApiToken.token_hash == sessions.token_hash(token or ""), ApiToken.revoked.is_(False))
    ).scalar_one_or_none()
    if row is None or not row.user.active:
        return None
    moment = now()
    if row.last_used_at is None or moment - row.last_used_at >= TOKEN_TOUCH_EVERY:
        row.last_used_at = moment
    return row.user
