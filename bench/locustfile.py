"""The users of bench/web_load.py, run by locust in its own process (see that file).

Each simulated user is one of the demo accounts, logs in through the login form (CSRF
token from the page) and then, for ever, picks from the issue's mix: 40 % API search,
20 % web search, 20 % dossier pages, 10 % document pages, 10 % customer list, with
search terms, dossiers and documents that this account can see (collected by the
orchestrator through the API before the run). The plan (accounts, steps, think time)
comes from the JSON file named by WEB_LOAD_PLAN; every request's start, duration and
outcome go to the file named in the plan when locust stops, and web_load.py computes
the figures of each step's measured window from them.
"""

import itertools
import json
import os
import random
import re
import time

from locust import LoadTestShape, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(open(os.environ["WEB_LOAD_PLAN"], encoding="utf-8").read())
LOGIN = "login"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# (start time, request name, milliseconds, ok); login requests are kept out of the figures.
samples: list[tuple[float, str, float, bool]] = []
errors: dict[str, int] = {}
windows: list[dict] = []
logged_in = 0  # users whose on_start finished (logins are slow by design: argon2)
_accounts = itertools.cycle(PLAN["accounts"])


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None,
            start_time=None, **_kw):
    if name == LOGIN:
        if exception is not None:
            errors[f"login: {exception}"] = errors.get(f"login: {exception}", 0) + 1
        return
    samples.append((start_time or time.time(), name, response_time, exception is None))
    if exception is not None:
        key = f"{name}: {str(exception)[:120]}"
        errors[key] = errors.get(key, 0) + 1


@events.quitting.add_listener
def _dump(environment, **_kw):
    with open(PLAN["out"], "w", encoding="utf-8") as fh:
        json.dump({"samples": samples, "errors": errors, "windows": windows}, fh)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class Steps(LoadTestShape):
    """Each step: `users` users; once all of them have logged in, `settle` seconds to
    reach a steady state (not measured), then `measure` seconds measured. With a p95
    limit, the run stops after the first step whose p95 crossed it. The load goes on for
    DRAIN seconds after the last window, so that the requests it started finish and are
    counted."""

    DRAIN = 5.0
    LOGIN_TIMEOUT = 180.0

    def __init__(self):
        super().__init__()
        self.index = -1
        self.step_started = 0.0
        self.settle_from: float | None = None
        self.draining_until: float | None = None

    def tick(self):
        steps, limit = PLAN["steps"], PLAN.get("stop_p95_ms")
        elapsed = self.get_run_time()
        if self.draining_until is not None:
            users = steps[self.index][0]
            return (users, users) if elapsed < self.draining_until else None
        if self.index >= 0:
            users, settle, measure = steps[self.index]
            if self.settle_from is None:
                if logged_in < users and elapsed < self.step_started + self.LOGIN_TIMEOUT:
                    return users, users
                self.settle_from = elapsed
            if elapsed < self.settle_from + settle + measure:
                return users, users
            begin = time.time() - (elapsed - self.settle_from - settle)
            windows.append({"users": users, "start": begin, "end": begin + measure,
                            "login_s": round(self.settle_from - self.step_started, 1)})
            p95 = _p95([ms for t, _n, ms, _ok in samples if begin <= t < begin + measure])
            if (limit is not None and p95 > limit) or self.index + 1 >= len(steps):
                self.draining_until = elapsed + self.DRAIN
                return users, users
        self.index += 1
        self.step_started, self.settle_from = elapsed, None
        users = steps[self.index][0]
        return users, users


class ArchiveUser(FastHttpUser):
    wait_time = between(*PLAN["think"]) if PLAN.get("think") else constant(0)
    connection_timeout = 60.0
    network_timeout = 60.0

    def on_start(self):
        self.account = next(_accounts)
        self.api = {"Authorization": f"Bearer {self.account['token']}"}
        page = self.client.get("/login", name=LOGIN)
        match = CSRF.search(page.text or "")
        with self.client.post(
            "/login", name=LOGIN, allow_redirects=False, catch_response=True,
            data={"username": self.account["username"], "password": self.account["password"],
                  "csrf_token": match.group(1) if match else ""},
        ) as response:
            if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
                response.failure(f"login as {self.account['username']}: {response.status_code}")
        global logged_in
        logged_in += 1

    def _page(self, path: str, name: str, **kwargs):
        # A redirect (to the login page, say) is a failure: the page was not served.
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True,
                             **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")

    @task(40)
    def api_search(self):
        term = random.choice(self.account["terms"])
        self._page("/api/v1/search", "api search", params={"q": term}, headers=self.api)

    @task(20)
    def web_search(self):
        term = random.choice(self.account["terms"])
        self._page("/search", "web search", params={"q": term})

    @task(20)
    def dossier_page(self):
        self._page(f"/dossiers/{random.choice(self.account['dossiers'])}", "dossier page")

    @task(10)
    def document_page(self):
        self._page(f"/documents/{random.choice(self.account['documents'])}", "document page")

    @task(10)
    def customer_list(self):
        self._page("/customers", "customer list")
