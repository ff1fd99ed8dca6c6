"""Users, passwords (argon2), API tokens and logins, and their administration: the
administrator creates and edits accounts, deactivates and reactivates them, resets a
password to a one-time one, revokes tokens and ends sessions (issue 18). Every change is
audited; the CLI calls the same functions with no actor (the machine's operator)."""

import functools
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from archive.clock import now
from archive.models import ApiToken, Department, LoginSession, User
from archive.models.enums import Level, Role
from archive.services import access, audit, sessions, validation, work
from archive.services.errors import Conflict, Invalid, NotFound, Unauthorized

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


# A hash to verify against when the user does not exist, so timing does not reveal it.
# Made at the first such login, not at import: an argon2 hash (64 MiB, 3 passes) costs
# 0.2 s of CPU and 0.6–0.9 s on a loaded machine, which every process paid at start
# (each background worker, each CLI command) whether or not anyone logs in there.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("no-such-user-password")
    return _DUMMY_HASH


def check_password_policy(password: str, username: str = "") -> None:
    """At least 10 characters, letters and digits, and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符", code="weak_password")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise Invalid("密码须同时包含字母和数字", code="weak_password")
    if username and username.lower() in password.lower():
        raise Invalid("密码不能包含用户名", code="weak_password")


def _role(value) -> str:
    try:
        return Role(str(value or "").strip()).value
    except ValueError:
        raise Invalid(f"未知角色：{value}（可选：{', '.join(r.value for r in Role)}）",
                      details={"field": "role"}) from None


def _display_name(value, default: str) -> str:
    return validation.text({"display_name": value}, "display_name", "姓名", max_len=100) or default


def create_user(session, *, username: str, password: str, role: str, department_id: int | None,
                clearance: Level, display_name: str = "", actor: User | None = None,
                must_change_password: bool = False) -> User:
    """A new account, checked against the password policy and audited. `actor` is the
    administrator (None: the CLI or set-up); `must_change_password` makes `password` a
    one-time password."""
    if actor is not None:
        access.require(actor, "user.manage")
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise Invalid("用户名只能包含字母、数字、下划线、点和连字符（2–64 个字符）",
                      details={"field": "username"})
    role = _role(role)
    display_name = _display_name(display_name, username)
    if department_id is not None and session.get(Department, department_id) is None:
        raise Invalid(f"部门不存在：{department_id}", details={"field": "department"})
    check_password_policy(password, username)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"用户已存在：{username}")
    user = User(username=username, display_name=display_name,
                password_hash=_hasher.hash(password), role=role,
                department_id=department_id, clearance=int(clearance),
                must_change_password=must_change_password)
    if not work.insert(session, user):  # created meanwhile by a concurrent request
        raise Conflict(f"用户已存在：{username}")
    audit.record(session, actor, "user.created", user, username=username, role=role,
                 clearance=int(clearance), department_id=department_id)
    return user


def one_time_password() -> str:
    """A password that meets the policy, for the administrator to hand over once."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if re.search(r"[A-Za-z]", candidate) and re.search(r"\d", candidate):
            return candidate


def get_user(session, user_id) -> User:
    """The user with `user_id`, or NotFound."""
    user_id = validation.row_id(user_id)
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise NotFound("用户不存在")
    return user


def list_users(session, actor: User) -> list[User]:
    """Every account, active ones first, by user name (the administrator's list)."""
    access.require(actor, "user.manage")
    return list(session.execute(
        select(User).options(joinedload(User.department))
        .order_by(User.active.desc(), User.username)).scalars())


def update_user(session, actor: User | None, user: User, data: dict) -> dict:
    """Change a user's name, role, clearance, department or GM-office-director designation
    (the keys present in `data`); returns {field: [old, new]} of what changed, audited as
    one event. Access follows at the user's next request: it is computed from the row."""
    if actor is not None:
        access.require(actor, "user.manage")
    new = {}
    if "display_name" in data:
        new["display_name"] = _display_name(data["display_name"], user.display_name)
    if "role" in data:
        new["role"] = _role(data["role"])
    if "clearance" in data:
        new["clearance"] = int(validation.level(data, "clearance", Level(user.clearance)))
    if "department" in data:
        value = data["department"]
        if value in (None, ""):
            new["department_id"] = None
        else:
            from archive.services.customers import find_department

            new["department_id"] = find_department(session, value).id
    if "gm_office_director" in data:
        new["gm_office_director"] = str(data["gm_office_director"]).lower() in (
            "1", "true", "on", "yes")
    role = new.get("role", user.role)
    if new.get("gm_office_director", user.gm_office_director) and role != Role.GM_OFFICE:
        raise Invalid("只有总经理办公室的人员可以被指定为总经理办公室主任",
                      details={"field": "gm_office_director"})
    if actor is not None and actor.id == user.id and role != Role.ADMIN:
        raise Conflict("不能取消自己的管理员角色（请另一位管理员操作）")
    changes = {k: [getattr(user, k), v] for k, v in new.items() if getattr(user, k) != v}
    if not changes:
        return {}
    for key, (_old, value) in changes.items():
        setattr(user, key, value)
    access.forget(user)
    audit.record(session, actor, "user.updated", user, changes=changes)
    return changes


def reactivate_user(session, user: User, actor: User | None = None) -> None:
    """Let a deactivated account log in again (its old sessions and tokens stay ended)."""
    if actor is not None:
        access.require(actor, "user.manage")
    if user.active:
        raise Conflict(f"账号未停用：{user.username}")
    user.active = True
    audit.record(session, actor, "user.reactivated", user)


def reset_password(session, user: User, actor: User | None = None) -> str:
    """Give the user a one-time password, returned to be handed over (only its hash is
    kept): every session of the user ends, its API tokens are revoked, and the user must
    choose a new password at the next login."""
    if actor is not None:
        access.require(actor, "user.manage")
    password = one_time_password()
    user.password_hash = _hasher.hash(password)
    user.must_change_password = True
    user.session_version += 1
    ended = sessions.end_all(session, user, "password_reset")
    revoked = _revoke_tokens(session, user)
    audit.record(session, actor, "user.password_reset", user, sessions_ended=ended,
                 tokens_revoked=revoked)
    return password


def tokens(session, user: User) -> list[ApiToken]:
    """The user's API tokens that still work, newest first."""
    return list(session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def revoke_token(session, user: User, token_id, actor: User | None = None) -> ApiToken:
    """Revoke one of `user`'s API tokens (by id); it stops working at once."""
    if actor is not None:
        access.require(actor, "user.manage")
    token_id = validation.row_id(token_id)
    token = session.get(ApiToken, token_id) if token_id is not None else None
    if token is None or token.user_id != user.id:
        raise NotFound("API 令牌不存在")
    if token.revoked:
        raise Conflict("API 令牌已撤销")
    token.revoked = True
    audit.record(session, actor, "token.revoked", user, prefix=token.prefix)
    return token


def end_session(session, user: User, session_id, actor: User | None = None) -> LoginSession:
    """End one of `user`'s open web sessions (by id): its browser is signed out at once."""
    if actor is not None:
        access.require(actor, "user.manage")
    session_id = validation.row_id(session_id)
    row = session.get(LoginSession, session_id) if session_id is not None else None
    if row is None or row.user_id != user.id:
        raise NotFound("会话不存在")
    if row.ended_at is not None:
        raise Conflict("会话已结束")
    sessions.end(row, "admin")
    audit.record(session, actor, "session.ended", user, session_id=row.id, ip=row.ip)
    return row


def authenticate(session, username: str, password: str) -> User:
    """The user if the password matches; every attempt is audited (a failed one in its own
    transaction, which outlives the caller's unit)."""
    user = session.execute(
        select(User).where(User.username == (username or "").strip())
    ).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password or "")
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


def password_matches(user: User, password) -> bool:
    """Whether `password` is the user's (a supervisor confirming a destruction); nothing
    is recorded here: the caller audits the outcome, never the password."""
    try:
        return bool(_hasher.verify(user.password_hash, password if isinstance(password, str)
                                   else ""))
    except (VerifyMismatchError, InvalidHashError):
        return False


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
    if new == old:
        raise Invalid("新密码不能与原密码相同", code="weak_password")
    user.password_hash = _hasher.hash(new)
    user.must_change_password = False
    user.session_version += 1
    ended = sessions.end_all(session, user, "password", keep=keep_session)
    _revoke_tokens(session, user)
    audit.record(session, user, "password.changed", user, sessions_ended=ended)


def deactivate_user(session, user: User, actor: User | None = None) -> None:
    """Deactivate an account: it can no longer log in, every session of it ends at once
    and its API tokens are revoked. Items the person still holds stay recorded against
    them (the handover is the transfers' business)."""
    if actor is not None:
        access.require(actor, "user.manage")
        if actor.id == user.id:
            raise Conflict("不能停用自己的账号（请另一位管理员操作）")
    if not user.active:
        raise Conflict(f"账号已停用：{user.username}")
    user.active = False
    ended = sessions.end_all(session, user, "deactivated")
    revoked = _revoke_tokens(session, user)
    audit.record(session, actor, "user.deactivated", user, sessions_ended=ended,
                 tokens_revoked=revoked)


def _revoke_tokens(session, user: User) -> int:
    """Revoke every working token of the user; how many."""
    count = 0
    for token in tokens(session, user):
        token.revoked = True
        count += 1
    return count


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


@functools.cache
def _unrevoked_token():
    # Built once: every API request asks it (as sessions._by_token). The user as an
    # object, the token as the two columns the lookup reads: an ApiToken object beside
    # it cost a third of the lookup.
    return (select(User, ApiToken.id, ApiToken.last_used_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(False)))


@functools.cache
def _token_used():
    return (update(ApiToken).where(ApiToken.id == bindparam("token"))
            .values(last_used_at=bindparam("moment")))


def user_for_token(session, token: str) -> User | None:
    """The active user whose unrevoked token this is, or None (its last use is noted at
    most once a minute, in the caller's unit)."""
    row = session.execute(_unrevoked_token(),
                          {"token_hash": sessions.token_hash(token or "")}).first()
    # A one-time password is for the browser's password form only: no API use until the
    # user has chosen their own (a reset revoked the tokens; one made since is refused).
    if row is None or not row.User.active or row.User.must_change_password:
        return None
    moment = now()
    if row.last_used_at is None or moment - row.last_used_at >= TOKEN_TOUCH_EVERY:
        session.execute(_token_used(), {"token": row.id, "moment": moment})
    return row.User
