"""Errors to HTTP, once: JSON `{"error": {...}}` under /api/, an HTML page elsewhere."""

import logging

import sqlalchemy.exc
from flask import Flask, g, jsonify, make_response, message_flashed, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from archive.extensions import db
from archive.services import audit, work
from archive.services.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求无效",
    401: "请先登录",
    403: "无权执行此操作",
    404: "页面或对象不存在",
    405: "不支持的请求方法",
    409: "与同时进行的另一操作冲突，未作任何修改，请刷新后重试",
    413: "文件过大",
    415: "不支持的文件类型",
    422: "提交的数据有误",
    429: "尝试次数过多，请稍后再试",
    500: "服务器内部错误",
    507: "存储空间不足",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def respond(status: int, code: str, message: str, details: dict | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def _record_denial(denial: dict) -> None:
    """Audit a refusal by access.require: the request's unit has been rolled back, and the
    denial must outlive it."""
    from flask_login import current_user

    user = current_user._get_current_object() if current_user.is_authenticated else None
    work.record_refusal(db.session, user, "access.denied",
                        (denial["object_type"], denial["object_id"]),
                        permission=denial["action"], method=request.method, path=request.path)


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _refusal_reason(response) -> str:
    """Why a write was refused: the domain error's message, the error a page flashed, or
    the JSON error's message."""
    if g.get("refusal_message"):
        return g.refusal_message
    if g.get("flashed_errors"):
        return g.flashed_errors[-1]
    if response.is_json:
        body = response.get_json(silent=True) or {}
        return str((body.get("error") or {}).get("message", ""))
    return MESSAGES.get(response.status_code, "")


def _uploaded_names() -> list[str]:
    try:
        return [f.filename or "" for f in request.files.values()]
    except HTTPException:  # a body past the size limit is never read
        return []


def _audit_refused_write(response):
    """A write refused with a 4xx (a rejected upload, a form error, a conflict) goes on
    the record with who, what was asked and why, unless the refusal is recorded already
    (access.denied, login.failed, a loan's or approval's own refusal). Signing in is the
    login's own business."""
    from flask_login import current_user

    refused = 400 <= response.status_code < 500 and response.status_code != 401
    # A page that flashes the reason and sends the browser back refused it all the same.
    refused = refused or (300 <= response.status_code < 400 and bool(g.get("flashed_errors")))
    if (request.method in WRITES and refused and request.endpoint != "auth.login"
            and current_user.is_authenticated and not audit.refusal_recorded.get()):
        work.record_refusal(db.session, current_user._get_current_object(),
                            "request.refused", None, method=request.method,
                            path=request.path, status=response.status_code,
                            message=_refusal_reason(response)[:300],
                            **({"files": names} if (names := _uploaded_names()) else {}))
    return response


def init_app(app: Flask) -> None:
    @app.before_request
    def _nothing_refused_yet():
        audit.refusal_recorded.set(False)
        g.refusal_message = ""
        g.flashed_errors = []

    def _remember_error(sender, message, category, **extra):
        if category == "error" and "flashed_errors" in g:
            g.flashed_errors.append(str(message))

    message_flashed.connect(_remember_error, app, weak=False)  # a local function

    app.after_request(_audit_refused_write)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        work.discard(db.session)  # whatever the request had begun (its unit has rolled back)
        g.refusal_message = exc.message
        denial = getattr(exc, "denial", None)
        if denial is not None:
            _record_denial(denial)
        response, status = respond(exc.status, exc.code, exc.message, exc.details)
        if status == 503:  # being repaired: tell clients when to ask again
            response = make_response(response, status)
            response.headers["Retry-After"] = "10"
        return response, status

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return respond(400, "csrf", "表单已过期或缺少安全令牌，请刷新页面后重试")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 413:
            limit = app.config["MAX_UPLOAD_MB"]
            return respond(413, "too_large", f"文件过大：单个上传不能超过 {limit} MB")
        return respond(status, exc.name.lower().replace(" ", "_"), MESSAGES.get(status, exc.name))

    @app.errorhandler(sqlalchemy.exc.IntegrityError)
    def _lost_race(exc: sqlalchemy.exc.IntegrityError):
        # The last line behind the services' own handling (work.insert): a unique key a
        # concurrent request took first, on PostgreSQL, anywhere no service expects it.
        # Nothing of this request stays; anything else is still the error it is.
        work.discard(db.session)
        if not work.unique_violation(exc):
            log.error("integrity error", exc_info=exc)
            return respond(500, "internal", MESSAGES[500])
        log.warning("a concurrent request took a unique key first: %s", exc.orig)
        g.refusal_message = MESSAGES[409]
        return respond(409, "conflict", MESSAGES[409])

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        work.discard(db.session)
        return respond(500, "internal", MESSAGES[500])
