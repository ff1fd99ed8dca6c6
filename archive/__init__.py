"""Juanzong (卷宗): customer document and archive management."""

import io
import os
from datetime import timedelta
from pathlib import Path

import flask_babel
from babel import Locale
from flask import Flask, Request, has_request_context, request, session
from sqlalchemy import event
from werkzeug.routing import IntegerConverter

from archive import clock
from archive.extensions import babel, csrf, db, limiter, login_manager, migrate

BASE_DIR = Path(__file__).resolve().parent.parent


def _config_object(config):
    if config is not None:
        return config
    import config as config_module

    name = os.environ.get("ARCHIVE_CONFIG", "default").lower()
    classes = {"default": config_module.DefaultConfig, "production": config_module.ProductionConfig}
    return classes[name]()


def _reads_first() -> bool:
    """Whether the current transaction belongs to a request that only reads (GET, HEAD):
    a page, a search, a download. Its only writes are audit events. So does a process
    that only reads (work.reads_first)."""
    from archive.services import work

    return (has_request_context() and request.method in ("GET", "HEAD")) or work.reads_first.get()


def _writes(statement: str, context) -> bool:
    """Whether a statement writes or locks for writing (SELECT ... FOR UPDATE, which SQLite
    does not have: the audit chain's head and a group's counter are read that way)."""
    verb = statement.lstrip()[:9].upper()
    if verb.startswith(("SELECT", "WITH")):
        compiled = getattr(context, "compiled", None)
        return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    return not verb.startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "RELEASE", "EXPLAIN"))


def _sqlite_pragmas(engine) -> None:
    """WAL for concurrent readers; one writer at a time, queued (busy_timeout) for the lock.

    A transaction that may write takes the write lock at its first statement (BEGIN
    IMMEDIATE), so its checks and its writes see the same state and a write never fails to
    upgrade a read. A request that only reads (every page view and search, which write
    nothing but their audit event) begins without it: its reads run beside other requests,
    and at its first write or SELECT ... FOR UPDATE (the audit head) the reads so far end
    as a read-only transaction and the rest runs under the lock. So the lock is held for
    the audit head, insert and commit, not for the whole request, and no event is lost:
    the event is still committed before the page is rendered or the results returned."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted content is overwritten, not left in free pages: a destroyed document's
        # text must not be recoverable from the database file (issue 17).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        locked = not _reads_first()
        conn.info["write_locked"] = locked
        conn.exec_driver_sql("BEGIN IMMEDIATE" if locked else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _lock_before_writing(conn, cursor, statement, _parameters, context, _executemany):
        if conn.info.get("write_locked", True) or not _writes(statement, context):
            return
        conn.info["write_locked"] = True
        # Nothing has been written yet: COMMIT only ends the read snapshot, and the
        # statement runs (and reads the audit head) under the lock, on the newest state.
        cursor.execute("COMMIT")
        cursor.execute("BEGIN IMMEDIATE")


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` for ids the database can hold: a larger number names no object (404)
    instead of overflowing in the driver (500). Replaces the `int` converter app-wide, so
    every route and every blueprint gets it without saying so.

    Only an id as the archive writes it matches: ASCII digits without a leading zero.
    Werkzeug's `\\d+` also takes full-width (１) and other scripts' digits and `01`, so
    several paths acted on one object while the request's log named another; they name
    nothing here (404)."""

    regex = r"(?:0|[1-9][0-9]*)"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        from archive.services.validation import MAX_INTEGER

        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_INTEGER if max is None else max, signed=signed)


class ArchiveRequest(Request):
    """A request whose form body cannot be parsed (a multipart body cut short or with a
    broken boundary) is refused as malformed (400), not read as an empty form: Werkzeug
    parses silently, and an upload then answered 请填写题名 as if the client had left the
    title out."""

    def make_form_data_parser(self):
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except ValueError:
            from archive.services.errors import BadRequest

            # Read as empty from now on, so that the refusal's own record reads no body.
            empty = self.parameter_storage_class()
            self.__dict__.update(stream=io.BytesIO(), form=empty, files=empty)
            raise BadRequest("请求体格式有误，无法解析（multipart 表单不完整或分隔符不符），未作任何修改",
                             code="malformed_body") from None


def _limit_only_where_declared(app: Flask) -> None:
    """Flask-Limiter checks every request in a before_request hook, for its default and
    application-wide limits. The archive declares none: the login form and the password
    confirmations are limited by decorators, which check as their view is called. The
    hook then found nothing to check, at about 2 % of every request's CPU. It stays if
    such limits are ever configured."""
    manager, hooks = limiter.limit_manager, app.before_request_funcs.get(None, [])
    if (not manager.default_limits and not manager.application_limits
            and limiter._check_request_limit in hooks):  # not there when disabled
        hooks.remove(limiter._check_request_limit)


def create_app(config=None) -> Flask:
    """Build the application: extensions, blueprints, CLI commands, error handlers."""
    cfg = _config_object(config)
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(cfg.INSTANCE_DIR),
    )
    app.request_class = ArchiveRequest
    app.config.from_object(cfg)
    clock.set_zone(app.config["ARCHIVE_TIMEZONE"])
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = cfg.MAX_CONTENT_LENGTH
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    for key in ("INSTANCE_DIR", "STORAGE_DIR", "INDEX_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.before_request(_fresh_locale)
    import archive.limits_storage  # noqa: F401  registers the counters+… storage scheme

    limiter.init_app(app)
    _limit_only_where_declared(app)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _sqlite_pragmas(db.engine)

    from archive.services.search import open_search
    from archive.services.storage import LocalBlobStore

    app.extensions["blob_store"] = LocalBlobStore(Path(app.config["STORAGE_DIR"]))
    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], Path(app.config["INDEX_DIR"]))

    from archive import worker

    worker.init_app(app)  # the job queue (OCR) and the `worker` and `ocr` commands
    from archive import import_queue

    import_queue.init_app(app)  # uploaded imports run on the same queue

    from archive import auth, cli, cli_admin, errors
    from archive.api import bp as api_bp
    from archive.web import register as register_web

    auth.init_app(app)
    errors.init_app(app)
    register_web(app)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    cli.init_app(app)
    cli_admin.init_app(app)
    _security_headers(app)
    return app


# Parsed once: Babel parses a name such as "zh_CN" (an alias, no data file of its own) by
# comparing it with every locale it knows, about a millisecond, and the language is
# chosen again for every request.
LOCALES = {code: Locale.parse(code) for code in ("zh_CN", "en")}


def _select_locale():
    lang = session.get("lang") if request else None
    return LOCALES[lang if lang in ("zh_CN", "en") else "zh_CN"]


def _fresh_locale() -> None:
    # Flask-Babel caches the locale on `g`, which outlives one request when an app context
    # was pushed beforehand (tests, scripts): choose the language again for every request.
    flask_babel.refresh()


def _security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; "
            "form-action 'self'",
        )
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
