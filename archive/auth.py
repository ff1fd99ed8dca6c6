"""Who is asking: session login for the web UI, bearer tokens for the API."""

from datetime import timedelta

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from archive.errors import respond
from archive.extensions import db, limiter, login_manager
from archive.models import User
from archive.services import access, accounts, audit, sessions, work

# The cookie's key for the server-side session's token (archive.services.sessions).
SESSION_TOKEN = "sid"
# What a user with a one-time password may open before choosing their own.
BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "auth.login",
                          "auth.set_language", "static"}


def password_attempts_limited(view):
    """Limit a view that checks other people's passwords (the supervisors confirming a
    destruction) like the login form: each wrong password (answered 403) counts against
    the same per-address limit."""
    return limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"],
                         deduct_when=lambda response: response.status_code == 403)(view)


def forget_browser_session() -> None:
    """Drop everything the cookie held except the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _resume_session(app: Flask, value: str) -> User | None:
    """The user of the cookie's server-side session, if it is still open.

    `value` is what Flask-Login stored at login (user id and password version); it must
    name the session's own user."""
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    # Its own unit when it writes: an idle session ends, and activity is noted, whatever
    # the request does (work.lookup).
    with work.lookup(db.session):
        user, why, noted = sessions.resume(db.session, session.get(SESSION_TOKEN), idle)
    if user is None or not user.active or user.get_id() != value:
        forget_browser_session()
        if why == "idle":
            flash("长时间未操作，请重新登录", "info")
        return None
    if noted:
        # The cookie lives as long as the server's idle time from the activity it notes:
        # renewed with it (SESSION_REFRESH_EACH_REQUEST is off), not on every page.
        session.modified = True
    return user


class PageSessions(SecureCookieSessionInterface):
    """The browser's signed cookie, for the pages only. The API authenticates by bearer
    token alone (it is exempt from CSRF, so it must not act on a cookie another site's
    form could send): a call neither reads the cookie (its signature checked and its
    contents decoded on every call, for nothing) nor sets one."""

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not request.path.startswith("/api/"):
            super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessions()
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "strong"

    @login_manager.unauthorized_handler
    def _unauthorized():
        if request.path.startswith("/api/"):
            return respond(401, "unauthorized", "需要有效的 API 令牌（Authorization: Bearer …）")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @login_manager.user_loader
    def _load_user(value: str):
        if request.path.startswith("/api/"):
            # The API is exempt from CSRF, so it must not accept the browser's session
            # cookie: a form on another page could post with it. Bearer tokens only.
            return None
        return _resume_session(app, value)

    @login_manager.request_loader
    def _load_from_token(req):
        header = req.headers.get("Authorization", "")
        if not req.path.startswith("/api/") or not header.startswith("Bearer "):
            return None
        with work.lookup(db.session):  # its own unit when it notes the token's use
            user = accounts.user_for_token(db.session, header[7:].strip())
        if user is not None:
            g.api_token_auth = True
        return user

    @app.before_request
    def _request_context():
        # Flask-Login caches the user on `g`, which outlives the request when an app
        # context was pushed beforehand (tests, scripts): every request finds its own user.
        g.pop("_login_user", None)
        # Each request reads the database afresh (sessions keep objects after commit).
        db.session.expire_all()
        audit.client_ip.set(request.remote_addr or "")
        # A page's cookie is permanent: its lifetime is renewed when the session's activity
        # is noted (_resume_session); whether the session is still open is decided on the
        # server (archive.services.sessions). The API reads no cookie (bearer tokens only)
        # and sets none (PageSessions).
        if not request.path.startswith("/api/") and not session.permanent:
            session.permanent = True

    @app.before_request
    def _one_time_password():
        # An administrator's reset or a new account: the password form first, every page.
        if request.path.startswith("/api/") or request.endpoint in BEFORE_PASSWORD_CHANGE:
            return None
        if current_user.is_authenticated and current_user.must_change_password:
            flash("请先修改管理员设置的一次性密码", "info")
            return redirect(url_for("auth.change_password"))
        return None

    @app.teardown_request
    def _forget_user_cache(_exc):
        # The user Flask-Login loaded for this request, if it did (asking current_user
        # would look one up for a request that never asked: a static file).
        # Not user.is_authenticated: that reads `active`, which a rolled-back request (a
        # refusal, a 404) has expired, so asking it reloaded the user after the answer.
        user = g.get("_login_user")
        if isinstance(user, User):
            access.forget(user)  # the grants and the reach built from them
