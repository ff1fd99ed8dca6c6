"""CPU time and SQL statements per request, in-process (issue 14, "Capacity under load").

    .venv/bin/python bench/request_cpu.py                          # this checkout
    .venv/bin/python bench/request_cpu.py --baseline-ref 2ac2b1c   # and a commit, with ratios
    .venv/bin/python bench/request_cpu.py --profile "web search"   # cProfile of one type

Wall-clock load figures (bench/web_load.py) measure the machine as much as the app when
others share it; the CPU a request costs the server does not depend on the neighbours. For
each checkout (this one, and with --baseline-ref a commit checked out into a temporary
`git worktree`), this builds a throw-away instance like bench/web_load.py (init-db,
demo-data, reindex; --keep / --instance reuse one), logs each of the eight demo accounts
in (the login form, once) and collects through the API the dossiers, documents and search
terms it may use, as bench/web_load.py does. Then it sends, in the app's own process
through Flask's test client, --repeat requests of each of the issue's five types (API
search, web search, dossier page, document page, customer list) per account, cycling
through its terms and ids, and measures around the app's WSGI callable only (not the test
client): time.process_time() and the SQL statements the engine executed. It prints the
median per type and account, the issue's mix (40/20/20/10/10, accounts weighted equally as
locust cycles them) and, with a baseline, the ratio now/baseline.

A request that does not answer 200 stops the run: the figures are of served pages only.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNTS = [
    ("officer", "Jz2026-dangan"), ("staff", "Jz2026-xiaoshou"), ("service", "Jz2026-kefu"),
    ("head", "Jz2026-jingli"), ("gmoffice", "Jz2026-zongban"), ("legal", "Jz2026-fawu"),
    ("gm", "Jz2026-zongjingli"), ("auditor", "Jz2026-shenji"),
]
COMMON_TERMS = ["维修", "认购书", "入伙"]
CALLS_SAMPLE = 5  # requests of each type and account counted under cProfile
MIX = {"api search": 0.4, "web search": 0.2, "dossier page": 0.2, "document page": 0.1,
       "customer list": 0.1}


def instance_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "ARCHIVE_CONFIG", "FLASK_APP")}
    env.update(INSTANCE_DIR=str(root / "instance"), STORAGE_DIR=str(root / "storage"),
               INDEX_DIR=str(root / "instance" / "index"), PYTHONDONTWRITEBYTECODE="1")
    return env


def prepare(checkout: Path, venv: Path, root: Path) -> dict[str, str]:
    """A demo instance under `root` (unless one is there); an API token per account."""
    tokens_file = root / "tokens.json"
    if tokens_file.exists():
        return json.loads(tokens_file.read_text())
    root.mkdir(parents=True, exist_ok=True)

    def flask(*args: str) -> str:
        done = subprocess.run([str(venv / "bin" / "flask"), "--app", "archive", *args],
                              cwd=checkout, env=instance_env(root), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    subprocess.run([str(venv / "bin" / "pybabel"), "-q", "compile", "-d", "archive/translations"],
                   cwd=checkout, check=True)
    for step in ("init-db", "demo-data", "reindex"):
        print(f"  {checkout.name}: flask {step}", file=sys.stderr, flush=True)
        flask(step)
    tokens = {name: flask("create-token", name).strip().splitlines()[-1] for name, _ in ACCOUNTS}
    tokens_file.write_text(json.dumps(tokens))
    return tokens


def measure(checkout: Path, venv: Path, root: Path, args) -> dict:
    """Run the measuring worker in the checkout's own code, on a copy of the instance
    (requests write audit events and sessions: every run starts from the same state)."""
    tokens = prepare(checkout, venv, root)
    work = Path(tempfile.mkdtemp(prefix="request-cpu-run-"))
    try:
        shutil.copytree(root / "instance", work / "instance", symlinks=True)
        os.symlink(root / "storage", work / "storage")
        # The checkout may have moved past the instance's schema: upgrade the copy.
        subprocess.run([str(venv / "bin" / "flask"), "--app", "archive", "init-db"], cwd=checkout,
                       env=instance_env(work), check=True, capture_output=True)
        job = {"checkout": str(checkout), "tokens": tokens, "repeat": args.repeat,
               "warmup": args.warmup, "accounts": args.accounts, "types": args.types,
               "profile": args.profile, "show_sql": args.show_sql,
               "profile_dump": args.profile_dump and str(args.profile_dump), "out": str(work / "result.json")}
        (work / "job.json").write_text(json.dumps(job))
        done = subprocess.run([str(venv / "bin" / "python"), str(Path(__file__).resolve()),
                               "--worker", str(work / "job.json")],
                              cwd=checkout, env=instance_env(work))
        if done.returncode != 0:
            raise SystemExit(f"{checkout}: the measuring worker failed")
        return json.loads((work / "result.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- the worker: runs inside the measured checkout's code --------------------------------

def worker(job_file: str) -> None:
    job = json.loads(Path(job_file).read_text())
    sys.path.insert(0, job["checkout"])
    import cProfile
    import gc
    import pstats

    from sqlalchemy import event

    from archive import create_app
    from archive.extensions import db

    app = create_app()
    # As a gunicorn worker of the checkout would, once it has loaded the app.
    hooks = Path(job["checkout"]) / "gunicorn.conf.py"
    if hooks.exists():
        import runpy

        runpy.run_path(str(hooks)).get("post_worker_init", lambda _worker: None)(None)
    statements, shown = [0], []

    def _count(_conn, _cursor, sql, *_args):
        statements[0] += 1
        if show_sql[0]:
            shown.append(" ".join(sql.split())[:160])

    show_sql = [False]
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", _count)

    taken: list[tuple[float, int, float]] = []
    # The cyclic garbage collector's passes, timed: their cost grows with every object
    # the process holds (the app's code and caches), not with the request's own work.
    collecting = [0.0, 0.0]

    def _gc(phase, _info):
        if phase == "start":
            collecting[1] = time.process_time()
        else:
            collecting[0] += time.process_time() - collecting[1]

    gc.callbacks.append(_gc)
    profiler = cProfile.Profile() if job["profile"] else None
    inner = app.wsgi_app

    def timed(environ, start_response):
        # Only the app's own work: the test client's building of the request is outside.
        before_sql, before_gc, before = statements[0], collecting[0], time.process_time()
        if profiler is not None and environ.get("HTTP_X_PROFILE"):
            profiler.enable()
        body = list(inner(environ, start_response))
        if profiler is not None:
            profiler.disable()
        taken.append((time.process_time() - before, statements[0] - before_sql,
                      collecting[0] - before_gc))
        return body

    app.wsgi_app = timed
    names = job["accounts"] or [name for name, _ in ACCOUNTS]
    passwords = dict(ACCOUNTS)
    plans = {}
    for name in names:
        client = app.test_client()
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        response = client.post("/login", data={"username": name, "password": passwords[name],
                                               "csrf_token": csrf.group(1) if csrf else ""})
        if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
            raise SystemExit(f"login as {name}: {response.status_code}")
        plans[name] = (client, _plan(client, job["tokens"][name]))

    def one(client, token, kind, i, plan, headers=None):
        headers = dict(headers or {})
        if kind == "api search":
            return client.get("/api/v1/search", query_string={"q": plan["terms"][i % len(plan["terms"])]},
                              headers={"Authorization": f"Bearer {token}", **headers})
        if kind == "web search":
            return client.get("/search", query_string={"q": plan["terms"][i % len(plan["terms"])]},
                              headers=headers)
        if kind == "dossier page":
            return client.get(f"/dossiers/{plan['dossiers'][i % len(plan['dossiers'])]}",
                              headers=headers)
        if kind == "document page":
            return client.get(f"/documents/{plan['documents'][i % len(plan['documents'])]}",
                              headers=headers)
        return client.get("/customers", headers=headers)

    kinds = job["types"] or list(MIX)
    results: dict = {}
    out_sql: dict = {}
    for kind in kinds:
        for name in names:
            client, plan = plans[name]
            token = job["tokens"][name]
            for i in range(job["warmup"]):
                one(client, token, kind, i, plan)
            if job["show_sql"] and name == names[0]:
                show_sql[0] = True
                one(client, token, kind, 0, plan)
                show_sql[0] = False
                out_sql[kind] = shown[:]
                del shown[:]
            del taken[:]
            for i in range(job["repeat"]):
                response = one(client, token, kind, i, plan,
                               headers={"X-Profile": "1"} if profiler else None)
                if response.status_code != 200:
                    raise SystemExit(f"{kind} as {name}: HTTP {response.status_code}")
            cpu = sorted(t for t, _s, _g in taken)
            # Python function calls per request: repeatable whatever else runs on the
            # machine, unlike CPU time (other processes share the caches and cores).
            counter = cProfile.Profile()
            for i in range(CALLS_SAMPLE):
                counter.enable()
                one(client, token, kind, i, plan)
                counter.disable()
            results.setdefault(kind, {})[name] = {
                "cpu_ms": round(1000 * statistics.median(cpu), 3),
                "cpu_ms_mean": round(1000 * statistics.fmean(cpu), 3),
                "sql": statistics.median(s for _t, s, _g in taken),
                "calls": round(pstats.Stats(counter).total_calls / CALLS_SAMPLE),
                "gc_ms": round(1000 * statistics.fmean(g for _t, _s, g in taken), 3),
            }
    out = {"results": results, "sql": out_sql}
    if profiler is not None:
        stream = __import__("io").StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats(job["profile"]).print_stats(60)
        if job["profile_dump"]:
            stats.dump_stats(job["profile_dump"])
        out["profile"] = stream.getvalue()
    Path(job["out"]).write_text(json.dumps(out))


def _plan(client, token: str) -> dict:
    """What the account may open, as bench/web_load.py collects it."""
    headers = {"Authorization": f"Bearer {token}"}

    def get(path, **params):
        response = client.get(f"/api/v1{path}", query_string=params, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status_code}")
        return response.get_json()

    customers, page = [], 1
    while True:
        body = get("/customers", page=page)
        customers += body["customers"]
        if not body["customers"] or len(customers) >= body["total"]:
            break
        page += 1
    dossiers = [get(f"/dossiers/{summary['id']}") for customer in customers
                for summary in get(f"/customers/{customer['id']}").get("dossiers", [])]
    rooms = [f"{d['unit']['building']}栋{d['unit']['unit']}单元{d['unit']['room']}"
             for d in dossiers if d.get("unit")]
    return {"dossiers": [d["id"] for d in dossiers],
            "documents": [d["id"] for dossier in dossiers for g in dossier["groups"]
                          for d in g["documents"]],
            "terms": COMMON_TERMS + rooms[:3] + [c["name"] for c in customers[:3]]}


# ---- report -----------------------------------------------------------------------------

def mix(result: dict, key: str) -> float:
    """The issue's mix: each type's mean over the accounts, weighted by its share."""
    return sum(share * statistics.fmean(r[key] for r in result[kind].values())
               for kind, share in MIX.items() if kind in result)


def report(runs: list[tuple[str, dict]]) -> str:
    lines = []
    kinds = list(runs[0][1]["results"])
    names = list(next(iter(runs[0][1]["results"].values())))
    for label, run in runs:
        res = run["results"]
        lines += [f"\n## {label}: CPU ms per request (median of each account's requests), "
                  "SQL statements", "",
                  "| request | " + " | ".join(names)
                  + " | mean | of which GC (mean) | Python calls |",
                  "|---|" + "---:|" * (len(names) + 3)]
        for kind in kinds:
            row = res[kind]
            cells = [f"{row[n]['cpu_ms']:.2f} ({row[n]['sql']:g})" for n in names]
            mean_cpu = statistics.fmean(row[n]["cpu_ms"] for n in names)
            mean_sql = statistics.fmean(row[n]["sql"] for n in names)
            mean_gc = statistics.fmean(row[n].get("gc_ms", 0.0) for n in names)
            mean_calls = statistics.fmean(row[n].get("calls", 0) for n in names)
            lines.append(f"| {kind} | " + " | ".join(cells)
                         + f" | {mean_cpu:.2f} ({mean_sql:.1f}) | {mean_gc:.2f} | {mean_calls:.0f} |")
        if set(MIX) <= set(kinds):
            lines.append(f"\nmix (40/20/20/10/10): {mix(res, 'cpu_ms'):.2f} ms CPU, "
                         f"{mix(res, 'sql'):.1f} SQL statements, {mix(res, 'calls'):.0f} "
                         "Python calls a request")
    if len(runs) == 2:
        (base_label, base), (now_label, now) = runs
        lines += [f"\n## {now_label} / {base_label} (mean over the accounts)", "",
                  "| request | CPU ms base | CPU ms now | ratio | SQL base | SQL now "
                  "| calls base | calls now | ratio |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for kind in kinds:
            b = statistics.fmean(r["cpu_ms"] for r in base["results"][kind].values())
            n = statistics.fmean(r["cpu_ms"] for r in now["results"][kind].values())
            bs = statistics.fmean(r["sql"] for r in base["results"][kind].values())
            ns = statistics.fmean(r["sql"] for r in now["results"][kind].values())
            bc = statistics.fmean(r.get("calls", 0) for r in base["results"][kind].values())
            nc = statistics.fmean(r.get("calls", 0) for r in now["results"][kind].values())
            lines.append(f"| {kind} | {b:.2f} | {n:.2f} | {n / b:.2f} | {bs:.1f} | {ns:.1f} "
                         f"| {bc:.0f} | {nc:.0f} | {nc / bc if bc else 0:.2f} |")
        if set(MIX) <= set(kinds):
            b, n = mix(base["results"], "cpu_ms"), mix(now["results"], "cpu_ms")
            bc, nc = mix(base["results"], "calls"), mix(now["results"], "calls")
            lines.append(f"| mix | {b:.2f} | {n:.2f} | {n / b:.2f} | "
                         f"{mix(base['results'], 'sql'):.1f} | {mix(now['results'], 'sql'):.1f} "
                         f"| {bc:.0f} | {nc:.0f} | {nc / bc:.2f} |")
    return "\n".join(lines)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-ref", help="also measure this commit (git worktree), first")
    parser.add_argument("--repeat", type=int, default=60, help="requests per type and account")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests before them")
    parser.add_argument("--accounts", type=lambda s: s.split(","), default=None,
                        help="comma-separated demo accounts (default: all eight)")
    parser.add_argument("--types", type=lambda s: s.split(","), default=None,
                        help=f"comma-separated request types (default: {', '.join(MIX)})")
    parser.add_argument("--profile", nargs="?", const="tottime", default=None,
                        help="cProfile the measured requests, sorted by this key (tottime)")
    parser.add_argument("--show-sql", action="store_true",
                        help="print the SQL statements of one request of each type (first account)")
    parser.add_argument("--profile-dump", type=Path, default=None,
                        help="also write the profile's pstats file here (pstats, snakeviz)")
    parser.add_argument("--instance", type=Path, default=None,
                        help="keep this checkout's demo instance here and reuse it next time")
    parser.add_argument("--baseline-instance", type=Path, default=None,
                        help="the same for the baseline")
    parser.add_argument("--checkout", type=Path, default=REPO,
                        help="the checkout measured as 'now' (default: this one, with its "
                             "uncommitted changes)")
    parser.add_argument("--venv", type=Path, default=REPO / ".venv")
    args = parser.parse_args()

    runs, cleanup = [], []
    try:
        if args.baseline_ref:
            ref = git("rev-parse", "--short", args.baseline_ref)
            worktree = Path(tempfile.mkdtemp(prefix="request-cpu-base-")) / "checkout"
            git("worktree", "add", "--detach", str(worktree), args.baseline_ref)
            cleanup.append(lambda: git("worktree", "remove", "--force", str(worktree)))
            root = args.baseline_instance or Path(tempfile.mkdtemp(prefix="request-cpu-inst-"))
            if args.baseline_instance is None:
                cleanup.append(lambda: shutil.rmtree(root, ignore_errors=True))
            runs.append((f"baseline {ref}", measure(worktree, args.venv, root, args)))
        root = args.instance or Path(tempfile.mkdtemp(prefix="request-cpu-inst-"))
        if args.instance is None:
            cleanup.append(lambda: shutil.rmtree(root, ignore_errors=True))
        here = ["-C", str(args.checkout)]
        dirty = " (with uncommitted changes)" if git(*here, "status", "--porcelain", "--",
                                                     "archive", "templates") else ""
        runs.append((f"now {git(*here, 'rev-parse', '--short', 'HEAD')}{dirty}",
                     measure(args.checkout, args.venv, root, args)))
    finally:
        for step in reversed(cleanup):
            step()
    print(report(runs))
    for label, run in runs:
        for kind, statements in run.get("sql", {}).items():
            print(f"\n## SQL of one {kind}, {label}")
            print("\n".join(f"{i + 1:3d} {sql}" for i, sql in enumerate(statements)))
        if run.get("profile"):
            print(f"\n## profile, {label}\n{run['profile']}")


if __name__ == "__main__":
    main()
