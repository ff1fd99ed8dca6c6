"""Who is asking: session login for the web UI, bearer tokens for the API."""

from flask import Flask, g, redirect, request, session, url_for
from flask_login import current_user

from archive.errors import respond
from archive.extensions import db, login_manager
from archive.models import User
from archive.services import accounts, audit


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
        audit.client_ip.set(request.remote_addr or "")
        # Every response refreshes the cookie's lifetime: a session ends only after
        # SESSION_IDLE_MINUTES without a request.
        session.permanent = True

    @app.teardown_request
    def _forget_user_cache(_exc):
        user = getattr(current_user, "_get_current_object", lambda: None)()
        if user is not None and hasattr(user, "_active_grants"):
            del user._active_grants
