"""Login, logout, language, password change."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from archive.auth import SESSION_TOKEN, forget_browser_session
from archive.extensions import db, limiter
from archive.services import accounts, sessions, work
from archive.services.errors import DomainError
from archive.web import local_path

bp = Blueprint("auth", __name__)


def _login_failed(response) -> bool:
    # Only failed attempts count against the limits.
    return response.status_code != 302


def _account_key() -> str:
    return "account:" + (request.form.get("username") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"],
               deduct_when=_login_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, deduct_when=_login_failed)
def login():
    if request.method == "POST":
        try:
            with work.unit(db.session):
                user = accounts.authenticate(db.session, request.form.get("username", ""),
                                             request.form.get("password", ""))
                # Signing in again from a browser that was signed in ends its previous session.
                sessions.end_token(db.session, session.get(SESSION_TOKEN), "relogin")
                token = sessions.start(db.session, user, ip=request.remote_addr or "",
                                       user_agent=request.user_agent.string)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("auth/login.html"), 401
        forget_browser_session()  # a new session, never the one the cookie came with
        session[SESSION_TOKEN] = token
        login_user(user)
        return redirect(local_path(request.args.get("next")) or url_for("main.dashboard"))
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("auth/login.html")


@bp.post("/logout")
@login_required
def logout():
    with work.unit(db.session):
        sessions.logout(db.session, current_user, session.get(SESSION_TOKEN))
    logout_user()
    forget_browser_session()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in ("zh_CN", "en"):
        session["lang"] = code
    target = request.referrer or url_for("main.dashboard")
    return redirect(target if target.startswith(request.host_url) else url_for("main.dashboard"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "POST":
        if request.form.get("new") != request.form.get("confirm"):
            flash(_("两次输入的新密码不一致"), "error")
            return render_template("auth/password.html"), 422
        try:
            with work.unit(db.session):
                accounts.change_password(db.session, current_user, request.form.get("old", ""),
                                         request.form.get("new", ""),
                                         keep_session=session.get(SESSION_TOKEN))
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("auth/password.html"), exc.status
        login_user(current_user._get_current_object())  # keep this session, end the others
        flash(_("密码已修改，其他会话已全部退出"), "info")
        return redirect(url_for("main.dashboard"))
    return render_template("auth/password.html")
