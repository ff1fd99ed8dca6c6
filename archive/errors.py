"""Errors to HTTP, once: JSON `{"error": {...}}` under /api/, an HTML page elsewhere."""

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from archive.extensions import db
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


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        db.session.rollback()
        return respond(exc.status, exc.code, exc.message, exc.details)

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
        db.session.rollback()
        return respond(500, "internal", MESSAGES[500])
