"""Web load benchmark (issue 14): many users on the served app, measured with locust.

    make bench-load                                   # both modes, HEAD against the baseline
    .venv-bench/bin/python bench/web_load.py --think --baseline-ref 2ac2b1c
    .venv-bench/bin/python bench/web_load.py --saturate --worker-class gthread --threads 4

For each checkout measured (this one, and with --baseline-ref a commit checked out into a
temporary `git worktree`), it builds a throw-away instance in a temporary folder
(INSTANCE_DIR, STORAGE_DIR, INDEX_DIR; init-db, demo-data, reindex), creates an API token
for each demo account, serves the checkout with gunicorn on a free port and collects
through the API, for each account, the customers, dossiers and documents it can see and
search terms from them (a room, a customer's name) beside 维修, 认购书, 入伙. Then locust
(bench/locustfile.py, headless, in its own process) runs the mix of the issue: 40 % API
search, 20 % web search, 20 % dossier pages, 10 % document pages, 10 % customer list,
each simulated user logged in as one of eight demo accounts of different roles.

--think: 50 users thinking 1-3 s between requests (about 25 requests/s offered) for a
fixed time. --saturate: no think time; the user count steps up until a step's p95
crosses 500 ms; the figure is the highest req/s of a step with p95 <= 500 ms.

Each step settles (logins, warm-up) before its measured window. Reported per window:
req/s, p50/p95/p99, errors, and the CPU of the server (gunicorn and its workers), of the
load tool (locust) and of everything else on the machine (other work sharing the cores),
sampled every second with psutil. The checkouts are measured one after the other with
the same settings, and the figures of this checkout are printed beside the baseline's
with their ratio.

Server model: --workers/--worker-class/--threads when given; otherwise what the
checkout's `make run` uses (its gunicorn.conf.py, or 2 sync workers without one).

--database postgres: each instance runs on a fresh database of the throw-away cluster
`make postgres` starts (build/pg; created with createdb, dropped afterwards) instead of
SQLite (issue 21, docs/postgresql.md).
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
OUT_DIR = REPO / "bench" / "out"
PG_SOCKET, PG_PORT = REPO / "build" / "pg", "55432"  # make postgres

# The demo accounts (README.md), one of each role the load mixes.
ACCOUNTS = [
    ("officer", "Jz2026-dangan"), ("staff", "Jz2026-xiaoshou"), ("service", "Jz2026-kefu"),
    ("head", "Jz2026-jingli"), ("gmoffice", "Jz2026-zongban"), ("legal", "Jz2026-fawu"),
    ("gm", "Jz2026-zongjingli"), ("auditor", "Jz2026-shenji"),
]
COMMON_TERMS = ["维修", "认购书", "入伙"]
P95_LIMIT_MS = 500.0


@dataclass
class Server:
    """One checkout served from a throw-away instance."""

    label: str
    checkout: Path
    venv: Path
    options: list[str]
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="web-load-")))
    port: int = 0
    model: str = ""
    process: subprocess.Popen | None = None
    database: str = ""  # a PostgreSQL URL (--database postgres); SQLite under root if empty

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "SECRET_KEY", "ARCHIVE_CONFIG", "FLASK_APP")}
        env.update(INSTANCE_DIR=str(self.root / "instance"), STORAGE_DIR=str(self.root / "storage"),
                   INDEX_DIR=str(self.root / "instance" / "index"), PYTHONDONTWRITEBYTECODE="1")
        if self.database:
            env["DATABASE_URL"] = self.database
        return env

    def flask(self, *args: str) -> str:
        done = subprocess.run([str(self.venv / "bin" / "flask"), "--app", "archive", *args],
                              cwd=self.checkout, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{self.label}: flask {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def prepare(self) -> dict[str, str]:
        """Instance, demo archive, index; returns an API token per account."""
        subprocess.run([str(self.venv / "bin" / "pybabel"), "-q", "compile", "-d",
                        "archive/translations"], cwd=self.checkout, check=True)
        self.flask("init-db")
        self.flask("demo-data")
        self.flask("reindex")
        return {name: self.flask("create-token", name).strip().splitlines()[-1]
                for name, _ in ACCOUNTS}

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        log = open(self.root / "gunicorn.log", "w")  # noqa: SIM115 (kept open while it runs)
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", str(self.root / "access.log"), *self.options,
             "archive:create_app()"],
            cwd=self.checkout, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.label}: gunicorn exited; see {self.root / 'gunicorn.log'}")
            try:
                if requests.get(f"{self.url}/login", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.label}: gunicorn did not answer within 90 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def discard(self, keep: bool) -> None:
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
            if self.database:
                _pg("dropdb", "--if-exists", "--force", urlsplit(self.database).path.lstrip("/"))


def _pg(tool: str, *args: str) -> None:
    subprocess.run([tool, "-h", str(PG_SOCKET), "-p", PG_PORT, "-U", "postgres", *args],
                   check=True)


def postgres_database() -> str:
    """A fresh, empty database on the cluster of `make postgres`; its URL."""
    name = f"web_load_{os.getpid()}_{time.monotonic_ns()}"
    _pg("createdb", name)
    return f"postgresql+psycopg://postgres@/{name}?host={PG_SOCKET}&port={PG_PORT}"


def server_options(checkout: Path, args) -> list[str]:
    """gunicorn options: those given, else the checkout's own (gunicorn.conf.py, read by
    gunicorn from its working directory, or the Makefile's 2 sync workers)."""
    options = []
    if args.workers is not None:
        options += ["--workers", str(args.workers)]
    if args.worker_class is not None:
        options += ["--worker-class", args.worker_class]
    if args.threads is not None:
        options += ["--threads", str(args.threads)]
    if not (checkout / "gunicorn.conf.py").exists() and args.workers is None:
        options += ["--workers", "2"]
    return options


def describe_model(checkout: Path, options: list[str]) -> str:
    settings = {"workers": 1, "worker_class": "sync", "threads": 1}
    conf = checkout / "gunicorn.conf.py"
    if conf.exists():
        scope: dict = {}
        exec(compile(conf.read_text(), str(conf), "exec"), scope)  # the config is plain Python
        settings.update({k: scope[k] for k in settings if k in scope})
    flags = dict(zip(options[::2], options[1::2], strict=True))
    settings["workers"] = int(flags.get("--workers", settings["workers"]))
    settings["worker_class"] = flags.get("--worker-class", settings["worker_class"])
    settings["threads"] = int(flags.get("--threads", settings["threads"]))
    if settings["worker_class"] == "sync":
        return f"{settings['workers']} sync workers"
    return f"{settings['workers']} {settings['worker_class']} workers x {settings['threads']} threads"


def _api_reader(api: requests.Session, base: str):
    def get(path: str, **params):
        response = api.get(f"{base}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()
    return get


def collect_plan(server: Server, tokens: dict[str, str]) -> list[dict]:
    """For each account: ids of dossiers and documents it can open, and search terms."""
    accounts = []
    for name, password in ACCOUNTS:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {tokens[name]}"
        get = _api_reader(api, f"{server.url}/api/v1")
        customers, page = [], 1
        while True:
            body = get("/customers", page=page)
            customers += body["customers"]
            if not body["customers"] or len(customers) >= body["total"]:
                break
            page += 1
        dossiers, terms = [], list(COMMON_TERMS)
        for customer in customers:
            for summary in get(f"/customers/{customer['id']}").get("dossiers", []):
                dossiers.append(get(f"/dossiers/{summary['id']}"))
        documents = [d["id"] for dossier in dossiers for g in dossier["groups"]
                     for d in g["documents"]]
        rooms = [f"{d['unit']['building']}栋{d['unit']['unit']}单元{d['unit']['room']}"
                 for d in dossiers if d.get("unit")]
        terms += rooms[:3] + [c["name"] for c in customers[:3]]
        if not dossiers or not documents:
            raise SystemExit(f"{server.label}: {name} sees no dossier or document")
        accounts.append({"username": name, "password": password, "token": tokens[name],
                         "dossiers": [d["id"] for d in dossiers], "documents": documents,
                         "terms": terms})
    return accounts


class CpuSampler(threading.Thread):
    """Every second: CPU seconds used so far by the server, the load tool and the machine."""

    def __init__(self, server: Server, locust_pid: int):
        super().__init__(daemon=True)
        self.server, self.locust = server, psutil.Process(locust_pid)
        self.rows: list[tuple[float, float, float, float]] = []
        self.done = threading.Event()

    @staticmethod
    def _cpu(processes) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def run(self) -> None:
        known: dict[int, psutil.Process] = {}
        while not self.done.is_set():
            try:
                for process in self.server.processes():
                    known.setdefault(process.pid, process)
                machine = psutil.cpu_times()
                busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
                self.rows.append((time.time(), self._cpu(known.values()),
                                  self._cpu([self.locust]), busy))
            except psutil.NoSuchProcess:
                pass
            self.done.wait(1.0)

    def between(self, start: float, end: float) -> tuple[float, float, float]:
        """CPU seconds (server, load tool, machine) used from `start` to `end` (interpolated)."""
        def at(t: float, column: int) -> float:
            before = [r for r in self.rows if r[0] <= t] or self.rows[:1]
            after = [r for r in self.rows if r[0] >= t] or self.rows[-1:]
            a, b = before[-1], after[0]
            if b[0] == a[0]:
                return a[column]
            return a[column] + (b[column] - a[column]) * (t - a[0]) / (b[0] - a[0])

        return tuple(at(end, c) - at(start, c) for c in (1, 2, 3))


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def window_figures(result: dict, window: dict, sampler: CpuSampler) -> dict:
    start, end = window["start"], window["end"]
    rows = [s for s in result["samples"] if start <= s[0] < end]
    seconds = end - start
    times = sorted(s[2] for s in rows)
    server_cpu, tool_cpu, machine_cpu = sampler.between(start, end)
    by_name = {}
    for name in sorted({s[1] for s in rows}):
        mine = sorted(s[2] for s in rows if s[1] == name)
        by_name[name] = {"n": len(mine), "p50": percentile(mine, 0.5), "p95": percentile(mine, 0.95)}
    return {
        "users": window["users"], "login_s": window.get("login_s"), "seconds": round(seconds, 1), "requests": len(rows),
        "rps": len(rows) / seconds, "p50": percentile(times, 0.5), "p95": percentile(times, 0.95),
        "p99": percentile(times, 0.99), "max": times[-1] if times else float("nan"),
        "errors": sum(1 for s in rows if not s[3]),
        "server_cpu_s": server_cpu, "server_ms_per_request": 1000 * server_cpu / max(1, len(rows)),
        "tool_cpu_s": tool_cpu, "tool_cores": tool_cpu / seconds,
        "server_cores": server_cpu / seconds,
        "other_cores": max(0.0, machine_cpu - server_cpu - tool_cpu) / seconds,
        "by_name": by_name,
    }


def run_load(server: Server, accounts: list[dict], args) -> dict:
    if args.saturate:
        steps = [[users, args.settle, args.step_seconds] for users in args.steps]
        think, stop = None, P95_LIMIT_MS
    else:
        steps = [[args.users, args.settle, args.duration]]
        think, stop = [1.0, 3.0], None
    out = server.root / "locust-result.json"
    plan = {"accounts": accounts, "steps": steps, "think": think, "stop_p95_ms": stop,
            "out": str(out)}
    plan_file = server.root / "plan.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False))
    bound = sum(s[1] + s[2] + 180 for s in steps) + 60  # 180: a step's login timeout
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", server.url,
         "--run-time", f"{int(bound)}s", "--stop-timeout", "10", "--only-summary",
         "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        env={**os.environ, "WEB_LOAD_PLAN": str(plan_file)},
        stdout=subprocess.DEVNULL, stderr=open(server.root / "locust.log", "w"))  # noqa: SIM115
    sampler = CpuSampler(server, locust.pid)
    sampler.start()
    locust.wait()
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not out.exists():
        raise SystemExit(f"{server.label}: locust wrote no result; see {server.root / 'locust.log'}")
    result = json.loads(out.read_text())
    windows = [window_figures(result, w, sampler) for w in result["windows"]]
    return {
        "windows": windows, "errors": result["errors"],
        "tool_cpu_s_total": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def headline(measured: dict, saturate: bool) -> dict:
    windows = measured["windows"]
    if not saturate:
        return windows[0]
    within = [w for w in windows if w["p95"] <= P95_LIMIT_MS]
    return max(within, key=lambda w: w["rps"]) if within else windows[0]


def measure(server: Server, args) -> dict:
    print(f"[{server.label}] preparing a fresh instance in {server.root}", flush=True)
    tokens = server.prepare()
    server.start()
    try:
        accounts = collect_plan(server, tokens)
        print(f"[{server.label}] {server.model}: load ({'saturate' if args.saturate else 'think'})",
              flush=True)
        measured = run_load(server, accounts, args)
    finally:
        server.stop()
    measured["label"], measured["model"] = server.label, server.model
    return measured


COLUMNS = [("users", "users", "{:.0f}"), ("req/s", "rps", "{:.1f}"), ("p50 ms", "p50", "{:.0f}"),
           ("p95 ms", "p95", "{:.0f}"), ("p99 ms", "p99", "{:.0f}"), ("errors", "errors", "{:.0f}"),
           ("server ms/req", "server_ms_per_request", "{:.1f}"),
           ("server cores", "server_cores", "{:.2f}"), ("locust cores", "tool_cores", "{:.2f}"),
           ("locust CPU s", "tool_cpu_s", "{:.1f}"), ("other cores", "other_cores", "{:.2f}")]


def table(rows: list[tuple[str, dict]]) -> str:
    head = "| | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for label, figures in rows:
        lines.append(f"| {label} | " + " | ".join(
            fmt.format(figures[key]) for _h, key, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def report(results: list[dict], args) -> str:
    mode = (f"saturate: no think time, users stepped {args.steps}, {args.settle} s settle + "
            f"{args.step_seconds} s measured per step, stop when p95 > {P95_LIMIT_MS:.0f} ms"
            if args.saturate else
            f"think: {args.users} users, 1-3 s think time, {args.settle} s settle + "
            f"{args.duration} s measured")
    lines = [f"## Web load, {mode}", ""]
    for r in results:
        lines += [f"### {r['label']} ({r['model']})", "", table(
            [(f"{w['users']} users", w) for w in r["windows"]]), ""]
        if r["errors"]:
            lines += ["errors: " + json.dumps(r["errors"], ensure_ascii=False), ""]
        best = headline(r, args.saturate)
        lines += ["| request | n | p50 ms | p95 ms |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {v['n']} | {v['p50']:.0f} | {v['p95']:.0f} |"
                  for name, v in best["by_name"].items()]
        lines.append("")
    heads = [(r["label"], headline(r, args.saturate)) for r in results]
    lines += ["### Headline" + (" (highest req/s with p95 <= 500 ms)" if args.saturate else ""),
              "", table(heads)]
    if len(heads) == 2:
        (_, base), (_, now) = heads
        lines.append(f"\nnow / baseline: req/s x{now['rps'] / base['rps']:.2f}, "
                     f"p50 x{now['p50'] / base['p50']:.2f}, p95 x{now['p95'] / base['p95']:.2f}, "
                     f"server ms/req x{now['server_ms_per_request'] / base['server_ms_per_request']:.2f}")
    return "\n".join(lines)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--think", action="store_true", help="50 users, 1-3 s think time")
    mode.add_argument("--saturate", action="store_true", help="no think time, step users up")
    parser.add_argument("--checkout", type=Path, default=REPO, help="checkout to measure")
    parser.add_argument("--baseline-ref", help="also measure this commit (git worktree), first")
    parser.add_argument("--app-venv", type=Path, default=REPO / ".venv",
                        help="virtualenv with the app's requirements (gunicorn, flask)")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--worker-class", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60, help="measured seconds (--think)")
    parser.add_argument("--settle", type=int, default=10,
                        help="unmeasured seconds per step, after its users have logged in")
    parser.add_argument("--steps", default="2,4,6,8,12,16,24,32,48,64,96,128",
                        help="user counts of --saturate")
    parser.add_argument("--step-seconds", type=int, default=20, help="measured seconds a step")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instances")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres: on the cluster of `make postgres` (build/pg)")
    args = parser.parse_args()
    args.steps = [int(n) for n in args.steps.split(",")]

    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({psutil.cpu_count()} cores)", flush=True)
    servers, worktree = [], None
    checkout = args.checkout.resolve()
    if args.baseline_ref:
        worktree = Path(tempfile.mkdtemp(prefix="web-load-baseline-")) / "checkout"
        git("worktree", "add", "--detach", str(worktree), args.baseline_ref)
        ref = git("rev-parse", "--short", args.baseline_ref)
        options = server_options(worktree, args)
        servers.append(Server(f"baseline {ref}", worktree, args.app_venv, options))
    for server in servers:
        server.database = postgres_database() if args.database == "postgres" else ""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=checkout,
                           capture_output=True, text=True).stdout.strip()
    servers.append(Server(f"now {head}{' + uncommitted changes' if dirty else ''}", checkout,
                          args.app_venv, server_options(checkout, args),
                          database=postgres_database() if args.database == "postgres" else ""))
    results = []
    try:
        for server in servers:
            server.model = describe_model(server.checkout, server.options) + (
                ", PostgreSQL" if server.database else ", SQLite")
            results.append(measure(server, args))
            server.discard(args.keep)
    finally:
        for server in servers:
            server.stop()
        if worktree is not None:
            git("worktree", "remove", "--force", str(worktree))
            shutil.rmtree(worktree.parent, ignore_errors=True)
    text = report(results, args)
    print("\n" + text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"web_load-{'saturate' if args.saturate else 'think'}-{stamp}"
    (OUT_DIR / f"{name}.json").write_text(json.dumps(
        {"load_before": load, "results": results}, ensure_ascii=False, indent=1, default=str))
    (OUT_DIR / f"{name}.md").write_text(text + "\n")
    print(f"\nwritten to {OUT_DIR / name}.md and .json")


if __name__ == "__main__":
    sys.exit(main())
