"""Errors to HTTP, once: JSON `{"error": {...}}` under /api/, an HTML page elsewhere."""

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from archive.extensions import db
from archive.services import work
from archive.services.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求无效",
    401: "请先登录",
    403: "无权执行此操作",
    404: "页面或对象不存在",
    405: "不支持的请求方法",
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


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        work.discard(db.session)  # whatever the request had begun (its unit has rolled back)
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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        work.discard(db.session)
        return respond(500, "internal", MESSAGES[500])
