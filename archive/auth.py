"""Who is asking: session login for the web UI, bearer tokens for the API."""

from datetime import datetime, timedelta

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

from archive.errors import respond
from archive.extensions import db, login_manager
from archive.models import User
from archive.services import accounts, audit
from archive.services.clock import now

# When the session last made a request, by archive.services.clock (so tests can move it).
# The cookie's own lifetime runs on real time; this is the check that counts.
LAST_SEEN = "last_seen"


def _expire_idle_session(app: Flask) -> None:
    """Log out a session idle for more than SESSION_IDLE_MINUTES (or without a stamp)."""
    if "_user_id" not in session:
        return
    try:
        last_seen = datetime.fromisoformat(session.get(LAST_SEEN, ""))
    except (TypeError, ValueError):
        last_seen = None
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    if last_seen is not None and now() - last_seen <= idle:
        return
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash("长时间未操作，请重新登录", "info")


def init_app(app: Flask) -> None:
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
        user_id, _, version = value.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or str(user.session_version) != version:
            return None  # the password changed since: this session is over
        return user

    @login_manager.request_loader
    def _load_from_token(req):
        header = req.headers.get("Authorization", "")
        if not req.path.startswith("/api/") or not header.startswith("Bearer "):
            return None
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
        # Every response refreshes the cookie's lifetime: a session ends only after
        # SESSION_IDLE_MINUTES without a request.
        session.permanent = True
        _expire_idle_session(app)

    @app.after_request
    def _stamp_activity(response):
        if "_user_id" in session:
            session[LAST_SEEN] = now().isoformat()
        return response

    @app.teardown_request
    def _forget_user_cache(_exc):
        user = getattr(current_user, "_get_current_object", lambda: None)()
        if user is not None and hasattr(user, "_active_grants"):
            del user._active_grants
