"""Logging in safely: limits on guessing, cookie flags, security headers, idle sessions,
password policy, logout everywhere, and an audit trail of logins and refusals."""

import json
import re
from datetime import timedelta

import pytest

from archive import clock, create_app
from archive.extensions import db
from archive.models import AuditEvent, LoginSession, User
from archive.services import accounts, audit, sessions, work
from archive.services.errors import Invalid
from config import ProductionConfig, TestConfig
from tests import databases
from tests.conftest import PASSWORDS, login

SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options")


def _events(action: str):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq).all()


# -- rate limits on failed logins -------------------------------------------------------

@pytest.fixture
def limited_app(template_root, tmp_path):
    """Rate limiting on, with small limits: 3 failures per account, 5 per address."""
    databases.copy(template_root, tmp_path)
    config = TestConfig(tmp_path)
    config.RATELIMIT_ENABLED = True
    config.LOGIN_LIMIT_PER_ACCOUNT = "3 per 15 minutes"
    config.LOGIN_LIMIT_PER_IP = "5 per 15 minutes"
    application = create_app(config)
    yield application
    application.extensions["search"].close()


def _attempt(client, username, password="wrong-password-1", ip="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_failed_logins_per_account_are_limited_from_any_address(limited_app):
    client = limited_app.test_client()
    for i in range(3):
        assert _attempt(client, "staff", ip=f"10.0.1.{i}").status_code == 401
    refused = _attempt(client, "staff", ip="10.0.1.99")
    assert refused.status_code == 429
    assert "尝试次数过多" in refused.get_data(as_text=True)
    assert all(h in refused.headers for h in SECURITY_HEADERS)
    # Even the right password waits now; another account is not affected.
    assert _attempt(client, "staff", PASSWORDS["staff"], ip="10.0.1.98").status_code == 429
    assert _attempt(client, "officer", PASSWORDS["officer"], ip="10.0.1.97").status_code == 302


def test_failed_logins_per_address_are_limited_across_accounts(limited_app):
    client = limited_app.test_client()
    for name in ("staff", "officer", "head", "legal", "gm"):
        assert _attempt(client, name, ip="10.0.2.1").status_code == 401
    assert _attempt(client, "auditor", ip="10.0.2.1").status_code == 429
    assert _attempt(client, "auditor", PASSWORDS["auditor"], ip="10.0.2.2").status_code == 302


def test_only_the_limited_views_consult_the_limiter(limited_app, monkeypatch):
    """No default or application-wide limit is declared: pages and API calls do not pay
    for Flask-Limiter's per-request hook; the limited views still check (above)."""
    from archive.extensions import limiter

    assert limiter._check_request_limit not in limited_app.before_request_funcs.get(None, [])
    checks = []
    real = limiter._check_request_limit
    monkeypatch.setattr(limiter, "_check_request_limit",
                        lambda *a, **k: checks.append(a or k) or real(*a, **k))
    client = limited_app.test_client()
    assert client.get("/api/v1/search?q=x").status_code == 401
    assert client.get("/static/app.css").status_code in (200, 304) and checks == []
    assert _attempt(client, "staff").status_code == 401 and len(checks) >= 1


def test_successful_logins_do_not_count(limited_app):
    client = limited_app.test_client()
    for _ in range(6):
        assert _attempt(client, "staff", PASSWORDS["staff"]).status_code == 302
        client.post("/logout", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert _attempt(client, "staff").status_code == 401
    assert _attempt(client, "staff").status_code == 401
    assert _attempt(client, "staff", PASSWORDS["staff"]).status_code == 302


def test_unknown_accounts_are_limited_too(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        _attempt(client, "nobody")
    response = _attempt(client, "nobody")
    assert response.status_code == 429 and "请稍后再试" in response.get_data(as_text=True)


# -- cookies and headers ----------------------------------------------------------------

class _ProductionForTests(ProductionConfig):
    def __init__(self, root):
        test = TestConfig(root)
        for key in ("INSTANCE_DIR", "STORAGE_DIR", "INDEX_DIR", "SQLALCHEMY_DATABASE_URI",
                    "SECRET_KEY", "RATELIMIT_STORAGE_URI"):
            setattr(self, key, getattr(test, key))
        self.SEARCH_BACKEND = TestConfig.SEARCH_BACKEND


def test_production_session_cookie_is_secure_httponly_samesite(template_root, tmp_path):
    databases.copy(template_root, tmp_path)
    application = create_app(_ProductionForTests(tmp_path))
    try:
        client = application.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = client.post("/login", data={
            "username": "staff", "password": PASSWORDS["staff"], "csrf_token": token})
        assert response.status_code == 302
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        application.extensions["search"].close()


def test_session_cookie_flags_in_the_default_configuration(client):
    cookie = login(client, "staff").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def _assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_security_headers_on_every_kind_of_response(app, client, api):
    @app.get("/test-boom")
    def _boom():
        raise RuntimeError("boom")

    responses = [client.get("/login"), client.get("/customers"), client.get("/no-such-page"),
                 client.get("/api/v1/customers"), client.get("/api/v1/customers/99999",
                                                             headers=api("officer")),
                 client.get("/api/v1/openapi.json"), client.post("/api/v1/customers",
                                                                 headers=api("officer"), data="x"),
                 client.get("/test-boom"), client.delete("/login")]
    login(client, "auditor")
    responses += [client.get("/audit/export.csv"), client.get("/dossiers/99999")]
    assert [r.status_code for r in responses] == [
        200, 302, 404, 401, 404, 200, 400, 500, 405, 200, 404]
    for response in responses:
        _assert_security_headers(response)


def test_pages_carry_no_inline_script_or_style(app, login_as):
    """The CSP forbids inline code, so the pages must not rely on any."""
    client = login_as("officer")
    for path in ("/", "/customers", "/customers/new", "/search", "/account/password", "/login"):
        body = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", body), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", body), path


# -- idle sessions ----------------------------------------------------------------------

@pytest.fixture
def moving_clock():
    yield clock
    clock.reset()


def test_a_session_ends_after_the_idle_time(app, login_as, moving_clock):
    client = login_as("staff")
    assert client.get("/").status_code == 200
    moving_clock.travel(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    # Gone for good, not just for one request.
    assert client.get("/customers").status_code == 302
    assert login(client, "staff").status_code == 302
    assert client.get("/").status_code == 200


def test_activity_keeps_a_session_alive(app, login_as, moving_clock):
    client = login_as("staff")
    step = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 5)
    for _ in range(3):
        moving_clock.travel(step)
        assert client.get("/").status_code == 200


def test_a_session_cookie_without_a_server_session_is_not_accepted(app, login_as):
    client = login_as("staff")
    with client.session_transaction() as sess:
        assert sess.pop("sid")
    assert client.get("/").status_code == 302


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A fresh browser presenting a saved session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/customers")


def test_logout_ends_the_session_on_the_server(app, login_as):
    client = login_as("staff")
    saved = _cookie(client)
    assert _replay(app, saved).status_code == 200  # the cookie alone opens pages
    assert client.post("/logout").status_code == 302
    replayed = _replay(app, saved)
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/login")
    row = db.session.query(LoginSession).filter_by(end_reason="logout").one()
    assert row.user.username == "staff" and row.ended_at is not None


def test_an_idle_session_stays_ended_for_a_saved_cookie(app, login_as, moving_clock):
    client = login_as("staff")
    saved = _cookie(client)
    moving_clock.travel(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert client.get("/").status_code == 302
    moving_clock.reset()  # even with the clock back, the server has ended it
    assert _replay(app, saved).status_code == 302
    assert db.session.query(LoginSession).one().end_reason == "idle"


def test_deactivation_ends_every_session_and_token_of_the_user(app, login_as, api):
    headers = api("staff")
    first, second = login_as("staff"), app.test_client()
    assert login(second, "staff").status_code == 302
    saved = _cookie(first)
    user = db.session.query(User).filter_by(username="staff").one()
    assert len(sessions.active_sessions(db.session, user)) == 2
    with work.unit(db.session):
        accounts.deactivate_user(db.session, user)
    assert first.get("/").status_code == 302
    assert second.get("/").status_code == 302
    assert _replay(app, saved).status_code == 302
    assert app.test_client().get("/api/v1/customers", headers=headers).status_code == 401
    assert login(app.test_client(), "staff").status_code == 401
    assert sessions.active_sessions(db.session, user) == []
    assert json.loads(_events("user.deactivated")[-1].details) == {"sessions_ended": 2,
                                                                  "tokens_revoked": 1}


def test_deactivate_user_command(app, login_as):
    client = login_as("head")
    result = app.test_cli_runner().invoke(args=["deactivate-user", "head"])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302
    again = app.test_cli_runner().invoke(args=["deactivate-user", "head"])
    assert again.exit_code != 0 and "已停用" in again.output


# -- passwords --------------------------------------------------------------------------

@pytest.mark.parametrize("password, reason", [
    ("Short1", "至少"), ("onlyletterslong", "字母和数字"), ("1234567890123", "字母和数字"),
    ("xiaoming-2026-pw", "用户名"),
])
def test_weak_passwords_are_refused_at_creation(session, password, reason):
    from archive.models import Level

    before = session.query(User).count()
    with pytest.raises(Invalid) as error:
        accounts.create_user(session, username="xiaoming", password=password, role="staff",
                             department_id=None, clearance=Level.INTERNAL)
    assert reason in error.value.message
    assert session.query(User).count() == before


def test_weak_new_password_is_refused_and_the_old_one_still_works(app, login_as):
    client = login_as("staff")
    response = client.post("/account/password", data={
        "old": PASSWORDS["staff"], "new": "short1", "confirm": "short1"})
    assert response.status_code == 422 and "至少" in response.get_data(as_text=True)
    client.post("/logout")
    assert login(client, "staff").status_code == 302


def test_changing_the_password_logs_out_every_other_session_and_token(app, api):
    headers = api("staff")
    first, second = app.test_client(), app.test_client()
    assert login(first, "staff").status_code == 302
    assert login(second, "staff").status_code == 302
    assert second.get("/").status_code == 200
    assert first.get("/api/v1/customers", headers=headers).status_code == 200
    new = "Changed-pass-2026"
    response = first.post("/account/password", data={
        "old": PASSWORDS["staff"], "new": new, "confirm": new})
    assert response.status_code == 302
    assert first.get("/").status_code == 200  # the session that changed it goes on
    other = second.get("/")
    assert other.status_code == 302 and other.headers["Location"].startswith("/login")
    assert app.test_client().get("/api/v1/customers", headers=headers).status_code == 401
    assert login(app.test_client(), "staff").status_code == 401
    assert login(app.test_client(), "staff", new).status_code == 302
    assert _events("password.changed")[-1].actor_name == "staff"


# -- audit of logins and refusals -------------------------------------------------------

def test_failed_and_successful_logins_are_audited(app, client):
    login(client, "staff", "not-the-password-9")
    login(client, "no_such_user", "whatever-123")
    login(client, "staff")
    failed = _events("login.failed")
    assert [(e.actor_name, e.outcome) for e in failed[-2:]] == [("staff", "denied"), ("", "denied")]
    assert '"username": "no_such_user"' in failed[-1].details
    assert _events("login.succeeded")[-1].actor_name == "staff"
    assert all(e.ip == "127.0.0.1" for e in failed[-2:])


def test_access_denials_are_audited_although_the_request_is_rolled_back(
        app, login_as, make_customer, make_dossier):
    secret = make_dossier(make_customer(), classification="2")
    client = login_as("staff")
    assert client.get(f"/dossiers/{secret.id}").status_code == 404
    client = login_as("auditor")
    assert client.post(f"/dossiers/{secret.id}/upload", data={
        "title": "x", "category": "其他"}).status_code == 403
    denied = _events("access.denied")
    assert [(e.actor_name, e.object_type, e.object_id, e.outcome) for e in denied[-2:]] == [
        ("staff", "dossier", str(secret.id), "denied"),
        ("auditor", "dossier", str(secret.id), "denied")]
    assert '"permission": "dossier.view"' in denied[-2].details
    assert '"permission": "document.upload"' in denied[-1].details
    assert audit.verify(db.session).ok


def test_signing_in_again_ends_the_browsers_previous_session(app, login_as):
    client = login_as("staff")
    saved = _cookie(client)
    assert login(client, "head").status_code == 302
    assert _replay(app, saved).status_code == 302
    ended = db.session.query(LoginSession).filter_by(end_reason="relogin").one()
    assert ended.user.username == "staff"
