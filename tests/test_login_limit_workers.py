"""The failed-login limit holds across worker processes and restarts (not per worker).

Two real gunicorn servers share one instance, as the workers of one deployment do; the
attempts alternate between them, so a per-process counter would let through twice as
many."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from config import TestConfig
from tests import databases
from tests.conftest import PASSWORDS

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "archive:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:  # answering, not only bound: the worker has booted
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


class Browser:
    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect())

    def login(self, port: int, username: str, password: str) -> int:
        page = self.opener.open(f"http://127.0.0.1:{port}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "username": username,
                                       "password": password}).encode()
        try:
            return self.opener.open(f"http://127.0.0.1:{port}/login", data).status
        except urllib.error.HTTPError as error:
            return error.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def instance(template_root, tmp_path):
    databases.copy(template_root, tmp_path)
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path / "instance"),
           "DATABASE_URL": TestConfig.database_url(tmp_path),
           "STORAGE_DIR": str(tmp_path / "storage"), "INDEX_DIR": str(tmp_path / "index"),
           "SECRET_KEY": "two-workers-test", "LOGIN_LIMIT_PER_ACCOUNT": "3 per 15 minutes",
           "LOGIN_LIMIT_PER_IP": "100 per 15 minutes"}
    env.pop("RATELIMIT_STORAGE_URI", None)
    servers: list[subprocess.Popen] = []

    def start(count: int) -> list[int]:
        ports = [_free_port() for _ in range(count)]
        servers.extend(_serve(env, port) for port in ports)
        return ports

    def stop() -> None:
        while servers:
            process = servers.pop()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    yield start, stop
    stop()


def test_failed_login_limit_is_shared_by_every_worker_and_survives_a_restart(instance):
    start, stop = instance
    first, second = start(2)
    browser = Browser()
    # Three failures, spread over both workers, use up the account's allowance...
    assert [browser.login(port, "staff", "wrong-password-1")
            for port in (first, second, first)] == [401, 401, 401]
    # ...on either of them, even with the right password.
    assert browser.login(second, "staff", PASSWORDS["staff"]) == 429
    assert browser.login(first, "staff", PASSWORDS["staff"]) == 429
    assert browser.login(second, "officer", PASSWORDS["officer"]) == 302
    stop()
    (third,) = start(1)
    assert Browser().login(third, "staff", PASSWORDS["staff"]) == 429
