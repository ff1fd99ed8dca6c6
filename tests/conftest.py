"""Shared fixtures: an app on a fresh copy of a migrated database, users of every role,
helpers to log in, and a headless-Chromium page against a live server."""

import threading

import jinja2
import pytest
from argon2 import PasswordHasher
from flask import Flask, g
from werkzeug.routing import Rule
from werkzeug.serving import make_server

from archive import create_app
from archive.demo import DEMO_PASSWORDS, DEPARTMENTS, DIRECTORS, USERS
from archive.extensions import db
from archive.models import Department, Project, User
from archive.services import accounts, index_batches, work
from config import TestConfig
from tests import databases

EXTRA_USERS = [
    # username, display, role, department code, clearance key
    ("staff_public", "钱公开", "staff", "XS", "public"),
    ("staff_secret", "冯秘密", "staff", "XS", "secret"),
    ("service_head", "褚主管", "dept_head", "KF", "confidential"),
]
TEST_PROJECTS = ["翠湖苑", "锦绣花园", "矩阵苑", "矩阵新苑"]
PASSWORDS = {**DEMO_PASSWORDS, **{u[0]: f"Jz2026-test-{i}" for i, u in enumerate(EXTRA_USERS)}}

# Passwords are hashed with argon2's cheapest parameters in the tests: the real ones cost
# about 0.19 s of CPU per login or hash (64 MiB, 3 passes, 4 lanes), and the suite logs in
# thousands of times. argon2 reads the parameters from each stored hash, so a login works
# the same; tests/test_password_hashing.py checks the real parameters (REAL_HASHER) and the
# rehash of a cheap hash to them. Subprocesses (gunicorn, the CLI) keep the real hasher.
# REAL_HASHER is taken when this module is imported (it is imported twice: as a conftest
# and by tests), before the session fixture below swaps the hasher.
REAL_HASHER = accounts._hasher
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    real = accounts._hasher, accounts._DUMMY_HASH
    accounts._hasher = TEST_HASHER
    accounts._DUMMY_HASH = TEST_HASHER.hash("no-such-user-password")
    yield
    accounts._hasher, accounts._DUMMY_HASH = real


# Every test builds an app of its own (create_app), which compiles the same code again: a
# URL builder function for each of the ~225 routes (three quarters of create_app's CPU
# time) and each template a page renders. Both are kept for the session. A builder
# depends only on its rule's parts and defaults (the key below, as Rule._compile_builder
# reads them; it is bound to each new rule); Jinja checks a template's source against
# the checksum of its cached code and recompiles a changed one.
class SharedBytecode(jinja2.BytecodeCache):
    def __init__(self):
        self.codes = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.codes:
            bucket.bytecode_from_string(self.codes[bucket.key])

    def dump_bytecode(self, bucket):
        self.codes[bucket.key] = bucket.bytecode_to_string()


def _shared_builders(compile_builder):
    builders = {}

    def cached(rule, append_unknown=True):
        defaults = rule.defaults or {}
        key = (rule.rule, tuple(rule._trace), tuple(defaults), append_unknown,
               tuple((name, rule._converters[name].to_url(value))
                     for name, value in defaults.items() if name in rule._converters))
        if key not in builders:
            builders[key] = compile_builder(rule, append_unknown)
        return builders[key]
    return cached


@pytest.fixture(scope="session", autouse=True)
def compiled_once():
    real = Rule._compile_builder, Flask.jinja_options
    Rule._compile_builder = _shared_builders(Rule._compile_builder)
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedBytecode()}
    yield
    Rule._compile_builder, Flask.jinja_options = real


# With pytest-xdist (`make test TEST_WORKERS=2`, --dist loadgroup) a file's tests run on
# one worker, in their order: some files share module-scoped state that their tests change
# in turn (test_access_matrix.py's world: a batch submitted by one test is withdrawn by a
# later one). The files whose tests start processes of their own (servers, workers,
# children killed mid-way) or race threads are one group, so two of them never compete
# for the cores and free ports at once. Without -n this changes nothing.
OWN_PROCESSES = {"test_login_limit_workers.py", "test_destruction_crash.py",
                 "test_import_crash.py", "test_worker_kill.py", "test_upload_retries.py",
                 "test_concurrent_filers.py", "test_audit_head_race.py"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = "own_processes" if item.path.name in OWN_PROCESSES else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def template_root(tmp_path_factory):
    """A database migrated once and holding departments and users; copied per test."""
    from archive.cli import init_db
    from archive.models import Level

    root = tmp_path_factory.mktemp("template")
    databases.create_empty(root)
    app = create_app(TestConfig(root))
    with app.app_context():
        init_db()
        with work.unit(db.session):
            departments = {}
            for name, code in DEPARTMENTS:
                departments[code] = Department(name=name, code=code)
                db.session.add(departments[code])
            db.session.flush()
            # The tests' 客服中心 head is service_head (机密), not the demo's kfhead, and
            # 法律室 has no head (the demo's flhead): a request nobody could decide.
            rows = [(u, d, r, c, lv) for u, d, r, c, lv in USERS
                    if u not in ("kfhead", "flhead")]
            rows += [(u, d, r, c, Level.parse(lv)) for u, d, r, c, lv in EXTRA_USERS]
            for username, display, role, dept, level in rows:
                accounts.create_user(db.session, username=username, password=PASSWORDS[username],
                                     role=role, clearance=level, display_name=display,
                                     department_id=departments[dept].id if dept else None)
        # The projects (苑) the tests open dossiers in, as the administrator keeps them.
        for name in TEST_PROJECTS:
            db.session.add(Project(name=name))
        # 总经理办公室主任: a designation on a GM-office user (002:942, 002:946)
        for user in db.session.query(User).filter(User.username.in_(DIRECTORS)):
            user.gm_office_director = True
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    app.extensions["search"].close()
    yield root
    databases.drop_made()


@pytest.fixture
def app(template_root, tmp_path):
    databases.reusable(template_root, tmp_path)
    application = create_app(TestConfig(tmp_path))
    with application.app_context():
        yield application
        index_batches.stop(application)  # a test that batched uploads: no write after it
        db.session.remove()
        db.engine.dispose()
    application.extensions["search"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def users(app):
    """username -> User, loaded in the test's session."""
    loaded = {u.username: u for u in db.session.query(User).all()}
    db.session.commit()  # release SQLite's write lock for the requests the test makes
    return loaded


@pytest.fixture
def departments(app):
    loaded = {d.code: d for d in db.session.query(Department).all()}
    db.session.commit()
    return loaded


def login(client, username: str, password: str | None = None):
    return client.post("/login", data={"username": username,
                                       "password": password or PASSWORDS[username]})


@pytest.fixture
def login_as(client):
    def _login(username: str):
        client.post("/logout")
        response = login(client, username)
        assert response.status_code == 302, response.data[:500]
        return client
    return _login


@pytest.fixture
def api(app, users):
    """api(username) -> headers with a fresh bearer token for that user."""
    def _headers(username: str) -> dict:
        with work.unit(db.session):
            token = accounts.create_token(db.session, users[username])
        return {"Authorization": f"Bearer {token}"}
    return _headers


@pytest.fixture
def call(client, api):
    """call(username, method, url, json=None, **kw) with that user's bearer token (one per
    user per test); `data=` sends a form, multipart unless `content_type` says otherwise."""
    tokens = {}

    def _call(username, method, url, json=None, **kw):
        # The fixtures' app context keeps Flask-Login's user on `g` between requests.
        g.pop("_login_user", None)
        headers = tokens.setdefault(username, api(username))
        if kw.get("data") is not None:
            kw.setdefault("content_type", "multipart/form-data")
            return client.open(url, method=method, headers=headers, **kw)
        kw.pop("data", None)
        return client.open(url, method=method, headers=headers, json=json, **kw)
    return _call


@pytest.fixture
def live_server(app):
    """The app served on a free localhost port in a thread, for the browser tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        yield page
        browser.close()


NUMBER_FORMAT = TestConfig.DOSSIER_NUMBER_FORMAT


@pytest.fixture
def make_customer(app, users, departments):
    from archive.services import customers

    def _make(name="张伟", department="XS", actor="officer", **extra):
        data = {"name": name, "department": departments[department].id, **extra}
        with work.unit(db.session):
            return customers.create_customer(db.session, users[actor], data)
    return _make


@pytest.fixture
def make_dossier(app, users):
    from archive.services import customers

    def _make(customer, project="翠湖苑", building="3", unit_no="2", room="1201",
              actor="officer", **extra):
        data = {"customer_id": customer.id, "project": project, "building": building,
                "unit_no": unit_no, "room": room, **extra}
        with work.unit(db.session):
            return customers.create_dossier(db.session, users[actor], data,
                                            number_format=NUMBER_FORMAT)
    return _make


@pytest.fixture
def file_doc(app, users):
    """file_doc(dossier, title, category, files=[(name, bytes)], actor=..., **fields):
    filed in a unit of its own, indexed after its commit."""
    from archive.services import filing

    def _file(dossier, title="认购书", category="销售", files=(), actor="officer", **fields):
        with work.unit(db.session):
            return filing.file_document(
                db.session, users[actor], dossier.id,
                {"title": title, "category": category, **fields},
                [filing.Upload(n, d) for n, d in files], store=app.extensions["blob_store"],
                limits=filing.Limits.from_config(app.config))
    return _file


def archive_state(app) -> dict:
    """Row counts and blob files (after the orphan sweep): what a failed operation must
    leave unchanged."""
    from archive.models import Customer, Document, Dossier, StoredFile
    from archive.services import orphans

    if databases.ON_POSTGRES:  # there a failed upload's blobs are left to the sweep
        orphans.sweep(db.session, app.extensions["blob_store"], grace_seconds=0)
    storage = app.config["STORAGE_DIR"]
    return {
        "customers": db.session.query(Customer).count(),
        "dossiers": db.session.query(Dossier).count(),
        "documents": db.session.query(Document).count(),
        "files": db.session.query(StoredFile).count(),
        "blobs": sorted(p.name for p in storage.rglob("*") if p.is_file()),
    }
