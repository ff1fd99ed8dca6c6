"""Search benchmark: the service's backends against SQLite FTS5 and raw tantivy.

    .venv/bin/python bench/search.py --backend tantivy|whoosh|all --docs N [--corpus varied|repetitive]

Generates N documents (~2 KB of Chinese text each, deterministic for --seed), indexes
them through the service (`index_many`, batches of 1000), then runs the same queries
on every engine and prints indexing speed, index size, latency percentiles and any
query whose total differs between engines. Everything lands in bench/out/.

Engines:
* service:<backend> — `open_search(...).search(...)`: parsing, visibility, facets,
  highlights included;
* fts5 — SQLite FTS5 with the trigram tokenizer on the same normalised text; 1–2
  character terms fall back to LIKE (a trigram index cannot serve them);
* raw-tantivy — the index the service built, queried directly with the `tantivy`
  library (query objects, count, facets aggregation, stored fields of the page), as
  the floor the service's overhead is measured against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import pathlib
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tantivy  # noqa: E402

from archive.services.search import SearchQuery, Visibility, analysis, open_search  # noqa: E402
from bench.corpus import COMMON, STYLES, TOPICS, document, documents  # noqa: E402

OUT = ROOT / "bench" / "out"
BATCH = 1000
PER_PAGE = 20
UNRESTRICTED = Visibility(unrestricted=True)
# A clerk of departments 1 and 2 with clearance 内部, named reader of some documents.
CLERK = Visibility(max_level=1, department_ids=frozenset({1, 2}), user_id=7)
# --facets: also count the 4 facets over every match (the search page shows them);
# without it, each engine returns the page and the exact total, as the API can.
FACETED = False
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
CONTRACT = re.compile(r"HT-\d{4}-\d{4}")
# --corpus: which generated archive (see bench/corpus.py).
STYLE = "varied"
FACETS = {"category": "category", "classification": "classification",
          "department": "department_id", "year": "year"}


# --- queries --------------------------------------------------------------------


def make_queries(seed: int, docs: int, count: int, style: str = "varied") -> list[dict]:
    """`count` query specs cycling through the kinds a user types.

    Text is cut from the corpus: for `varied`, from a random document (so queries are
    as common or rare as the text they come from, traditional script included); for
    `repetitive`, from its 45 fixed sentences (so every text query is a broad one)."""
    rng = random.Random(seed + 1)
    sentences = [s for pool in TOPICS.values() for s in pool] + COMMON
    fixed_runs = [r for s in sentences for r in s.replace("，", " ").split()]

    def sample_doc() -> dict:
        return document(seed, rng.randrange(docs), style=style)

    def runs() -> list[str]:
        if style == "repetitive":
            return fixed_runs
        return CJK_RUN.findall(sample_doc()["text"])

    def piece(n: int, pool: list[str] | None = None) -> str:
        run = rng.choice([r for r in (pool or runs()) if len(r) >= n])
        start = rng.randint(0, len(run) - n)
        return run[start:start + n]

    def two_pieces() -> str:
        pool = runs()  # both from one document, as a user refines what they saw
        return f"{piece(2, pool)} {piece(3, pool)}"

    kinds = [
        ("1-char", lambda: {"text": piece(1)}),
        ("2-char", lambda: {"text": piece(2)}),
        ("4-char", lambda: {"text": piece(4)}),
        ("phrase", lambda: {"text": f'"{piece(6)}"'}),
        ("AND", lambda: {"text": two_pieces()}),
        ("room", lambda: {"text": sample_doc()["dossier_number"].replace("-", "")}),
        ("contract", lambda: {"text": CONTRACT.search(sample_doc()["text"]).group()}),
        ("category", lambda: {"text": piece(2), "category": rng.choice(list(TOPICS))}),
        ("clearance", lambda: {"text": piece(2), "vis": "clerk"}),
        ("faceted", lambda: {"text": "", "vis": "clerk", "year": rng.randint(2015, 2025)}),
    ]
    out = []
    for i in range(count):
        kind, make = kinds[i % len(kinds)]
        out.append({"kind": kind, "vis": "all", **make()})
    return out


def search_query(spec: dict) -> SearchQuery:
    q = SearchQuery(text=spec["text"], category=spec.get("category"), per_page=PER_PAGE,
                    facets=FACETED)
    if "year" in spec:
        q.date_from, q.date_to = dt.date(spec["year"], 1, 1), dt.date(spec["year"], 12, 31)
    return q


def literals(text: str) -> list[str]:
    """The AND'ed literals of a bench query (bench queries use no other syntax)."""
    return [t.strip('"') for t in (text.split() if not text.startswith('"') else [text])]


# --- engines --------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.mean(ordered) * 1000}


def size_of(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_service(backend: str, seed: int, n: int) -> tuple[object, dict]:
    root = OUT / f"{backend}-{n}-{STYLE}"
    shutil.rmtree(root, ignore_errors=True)
    svc = open_search(backend, root)
    analysis.warm_up()
    elapsed = 0.0
    for batch in batches(seed, n):
        start = time.perf_counter()
        svc.index_many(batch)
        elapsed += time.perf_counter() - start
    return svc, {"docs_per_s": n / elapsed, "index_mb": size_of(root) / 1e6}


def batches(seed: int, n: int) -> Iterator[list[dict]]:
    """The corpus in batches of BATCH. Generating a document costs about as much as
    indexing it: engines are timed on each batch, never on its generation."""
    docs = documents(seed, n, STYLE)
    while batch := list(itertools.islice(docs, BATCH)):
        yield batch


def run_service(svc, queries: list[dict]) -> tuple[list[int], list[float]]:
    totals, times = [], []
    for spec in queries:
        vis = CLERK if spec["vis"] == "clerk" else UNRESTRICTED
        q = search_query(spec)
        start = time.perf_counter()
        result = svc.search(q, vis)
        times.append(time.perf_counter() - start)
        totals.append(result.total)
    return totals, times


class RawTantivy:
    """The service's index queried with nothing but the tantivy library."""

    def __init__(self, path: pathlib.Path):
        self.index = tantivy.Index.open(str(path))
        self.index.register_tokenizer(
            "units", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        self.schema = self.index.schema
        self.agg = {n: {"terms": {"field": f, "size": 10_000}} for n, f in FACETS.items()}

    def prepare(self, spec: dict) -> dict:
        """Analysis happens before timing: raw users bring their own terms."""
        phrases = [analysis.literal_phrase(lit) for lit in literals(spec["text"])]
        return {**spec, "phrases": [p for p in phrases if p]}

    def query(self, spec: dict) -> tantivy.Query:
        Q, must = tantivy.Query, tantivy.Occur.Must
        clauses = []
        for stream, terms in spec["phrases"]:
            field = f"{stream}_all"
            words = analysis.sparse_phrase(terms) if stream != "uni" else list(terms)
            clauses.append((must, Q.term_query(self.schema, field, terms[0]) if len(terms) == 1
                            else Q.phrase_query(self.schema, field, words)))
        if spec.get("category"):
            clauses.append((must, Q.term_query(self.schema, "category", spec["category"])))
        if "year" in spec:
            clauses.append((must, Q.term_query(self.schema, "year", spec["year"])))
        if spec["vis"] == "clerk":
            cleared = Q.boolean_query([
                (must, Q.range_query(self.schema, "classification", tantivy.FieldType.Integer,
                                     None, 1)),
                (must, Q.term_set_query(self.schema, "department_id", [1, 2]))])
            clauses.append((must, Q.boolean_query([
                (tantivy.Occur.Should, cleared),
                (tantivy.Occur.Should, Q.term_query(self.schema, "readers", 7))])))
        return Q.boolean_query(clauses) if clauses else Q.all_query()

    def run(self, queries: list[dict]) -> tuple[list[int], list[float]]:
        prepared = [self.prepare(s) for s in queries]
        totals, times = [], []
        for spec in prepared:
            start = time.perf_counter()
            searcher = self.index.searcher()
            query = self.query(spec)
            if spec["phrases"]:
                result = searcher.search(query, PER_PAGE, count=not FACETED)
            else:
                result = searcher.search(query, PER_PAGE, count=not FACETED,
                                         order_by_field="sort_key")
            for _, address in result.hits:
                searcher.doc(address)
            if FACETED:
                facets = searcher.aggregate(query, self.agg)
                # Every document has a classification: its buckets sum to the exact total.
                total = sum(b["doc_count"] for b in facets["classification"]["buckets"])
            else:
                total = result.count
            times.append(time.perf_counter() - start)
            totals.append(total)
        return totals, times


class Fts5:
    """SQLite FTS5, trigram tokenizer, over the same normalised fields."""

    COLUMNS = ("title", "body", "customer", "number", "unit", "files")

    def __init__(self, path: pathlib.Path):
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(f"""
            PRAGMA journal_mode=WAL;
            CREATE VIRTUAL TABLE fts USING fts5({", ".join(self.COLUMNS)}, tokenize='trigram');
            CREATE TABLE meta(id INTEGER PRIMARY KEY, category TEXT, classification INT,
                              department_id INT, customer_id INT, year INT, readers TEXT,
                              sort_key INT);
            CREATE INDEX meta_sort ON meta(sort_key);
        """)
        self.path = path

    def build(self, seed: int, n: int) -> dict:
        elapsed = 0.0
        norm = analysis.normalize
        for batch in batches(seed, n):
            start = time.perf_counter()
            self._flush(*self._rows(batch, norm))
            elapsed += time.perf_counter() - start
        return {"docs_per_s": n / elapsed, "index_mb": size_of(self.path) / 1e6}

    @staticmethod
    def _rows(batch: list[dict], norm) -> tuple[list, list]:
        rows, metas = [], []
        for d in batch:
            date = d["doc_date"]
            rows.append((d["id"], norm(d["title"]), norm(d["text"]),
                         norm(f"{d['customer_name']} {d['customer_code']}"),
                         norm(d["dossier_number"]), norm(d["unit"]), norm(" ".join(d["file_names"]))))
            metas.append((d["id"], d["category"], d["classification"], d["department_id"],
                          d["customer_id"], date.year if date else None,
                          "," + ",".join(map(str, d["readers"])) + ",",
                          (date.toordinal() if date else 0) << 32 | d["id"]))
        return rows, metas

    def _flush(self, rows: list, metas: list) -> None:
        with self.db:
            self.db.executemany("INSERT INTO fts(rowid, title, body, customer, number, unit, files)"
                                " VALUES (?,?,?,?,?,?,?)", rows)
            self.db.executemany("INSERT INTO meta VALUES (?,?,?,?,?,?,?,?)", metas)

    def where(self, spec: dict) -> tuple[str, list, bool]:
        conditions, params, ranked = [], [], False
        for lit in literals(spec["text"]):
            lit = "".join(analysis.normalize(lit).split())
            if not lit:
                continue
            if len(lit) >= 3:
                conditions.append("fts MATCH ?")
                params.append('"' + lit.replace('"', '""') + '"')
                ranked = True
            else:
                conditions.append("(" + " OR ".join(f"fts.{c} LIKE ?" for c in self.COLUMNS) + ")")
                params.extend([f"%{lit}%"] * len(self.COLUMNS))
        if spec.get("category"):
            conditions.append("meta.category = ?")
            params.append(spec["category"])
        if "year" in spec:
            conditions.append("meta.year = ?")
            params.append(spec["year"])
        if spec["vis"] == "clerk":
            conditions.append("((meta.classification <= 1 AND meta.department_id IN (1, 2))"
                              " OR meta.readers LIKE '%,7,%')")
        return " AND ".join(conditions) or "1", params, ranked

    def run(self, queries: list[dict]) -> tuple[list[int], list[float]]:
        totals, times = [], []
        for spec in queries:
            where, params, ranked = self.where(spec)
            start = time.perf_counter()
            # Matches once into a temp table, then page, total and facets from it.
            self.db.execute("DROP TABLE IF EXISTS temp.hits")
            order = "fts.rank" if ranked else "-meta.sort_key"
            self.db.execute(f"CREATE TEMP TABLE hits AS SELECT meta.* , {order} AS o FROM fts "
                            f"JOIN meta ON meta.id = fts.rowid WHERE {where}", params)
            self.db.execute("SELECT id FROM hits ORDER BY o LIMIT ?", (PER_PAGE,)).fetchall()
            (total,) = self.db.execute("SELECT count(*) FROM hits").fetchone()
            for field in FACETS.values() if FACETED else ():
                self.db.execute(f"SELECT {field}, count(*) FROM hits GROUP BY {field}").fetchall()
            times.append(time.perf_counter() - start)
            totals.append(total)
        return totals, times


# --- report ---------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["tantivy", "whoosh", "all"], default="all")
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=284)
    parser.add_argument("--corpus", choices=STYLES, default="varied",
                        help="varied: realistic text (default); repetitive: 45 fixed sentences, "
                             "every text query broad (stress case)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-fts5", action="store_true", help="skip the SQLite FTS5 comparison")
    parser.add_argument("--facets", action="store_true",
                        help="every search also counts 4 facets over all its matches")
    args = parser.parse_args()
    global FACETED, STYLE
    FACETED, STYLE = args.facets, args.corpus
    OUT.mkdir(parents=True, exist_ok=True)
    backends = ["tantivy", "whoosh"] if args.backend == "all" else [args.backend]
    queries = make_queries(args.seed, args.docs, args.queries, STYLE)
    rows: dict[str, dict] = {}
    totals: dict[str, list[int]] = {}

    for backend in backends:
        print(f"indexing {args.docs} documents with {backend} …", file=sys.stderr, flush=True)
        svc, figures = build_service(backend, args.seed, args.docs)
        run_service(svc, queries)  # warm caches
        totals[f"service:{backend}"], times = run_service(svc, queries)
        rows[f"service:{backend}"] = {**figures, **percentiles(times)}
        if backend == "tantivy":
            raw = RawTantivy(svc.directory.root / svc.directory.generation())
            raw.run(queries)
            totals["raw-tantivy"], times = raw.run(queries)
            rows["raw-tantivy"] = {"docs_per_s": None, "index_mb": None, **percentiles(times)}
        svc.close()

    if not args.no_fts5:
        print("indexing with SQLite FTS5 …", file=sys.stderr, flush=True)
        fts = Fts5(OUT / f"fts5-{args.docs}-{STYLE}.sqlite")
        figures = fts.build(args.seed, args.docs)
        totals["fts5"], times = fts.run(queries)
        rows["fts5"] = {**figures, **percentiles(times)}

    def cell(value, fmt):
        return "—" if value is None else format(value, fmt)

    lines = [f"{args.docs} documents ({STYLE} corpus), {len(queries)} queries (ms per search: page of "
             f"{PER_PAGE}, exact total{', 4 facets' if FACETED else ''})", "",
             "| engine | index docs/s | index MB | p50 | p95 | p99 | mean |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {cell(r['docs_per_s'], '.0f')} | {cell(r['index_mb'], '.0f')} | "
                     f"{r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['mean']:.2f} |")
    if "raw-tantivy" in rows:
        s, r = rows["service:tantivy"], rows["raw-tantivy"]
        lines.append("")
        lines.append(f"service:tantivy over raw-tantivy: p50 ×{s['p50'] / r['p50']:.2f}, "
                     f"p95 ×{s['p95'] / r['p95']:.2f}, p99 ×{s['p99'] / r['p99']:.2f}")
    by_kind: dict[str, list[float]] = {}
    mismatches = []
    for i, spec in enumerate(queries):
        seen = {name: t[i] for name, t in totals.items()}
        if len(set(seen.values())) > 1:
            mismatches.append(f"  {spec['kind']:9} {spec['text']!r} {spec.get('category') or ''} "
                              f"{spec['vis']}: {seen}")
        by_kind.setdefault(spec["kind"], []).append(next(iter(seen.values())))
    lines.append("")
    lines.append("mean hits per query kind: " + ", ".join(
        f"{k} {statistics.mean(v):.0f}" for k, v in by_kind.items()))
    lines.append(f"total mismatches between engines: {len(mismatches)}")
    lines.extend(mismatches[:30])
    report = "\n".join(lines)
    print(report)
    (OUT / f"search-{args.docs}-{STYLE}.md").write_text(report + "\n", encoding="utf-8")
    (OUT / f"search-{args.docs}-{STYLE}.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
