"""Ingest benchmark: N real PDF+DOCX files with Chinese text through the upload service.

Prints documents/s and MB/s for the whole filing path (type check, extraction, blob
store with fsync, numbering, audit, database commit, search indexing) next to the raw
extraction rate of pypdf / python-docx alone on the same files, and their ratio.

    .venv/bin/python bench/ingest.py [--docs 1000] [--backend tantivy|whoosh] [--bulk]
                                     [--rounds 3]

--bulk also files them through the bulk importer (`flask import`'s path: a folder with a
manifest; reading in a pool of processes, the index written per batch by a process beside
the writer, blobs fsynced) and prints its rate and its ratio to the raw extraction rate
in the same run: the two alternate `--rounds` times and each side's median is reported,
with every round's figures.
"""

import argparse
import contextlib
import csv
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

CATEGORIES = ("销售", "签约", "办证", "入伙", "维修", "赔付", "诉讼", "商铺租赁", "其他")


def make_files(n: int, seed: int = 7):
    from archive import samples

    rng = random.Random(seed)
    files = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        paragraphs = samples.chinese_paragraphs(category, rng, rng.randint(4, 10))
        title = f"{category}资料{i:05d}"
        if i % 2:
            files.append((f"{title}.docx", category, title,
                          samples.make_docx(title, paragraphs, header="翠湖苑", footer="客服中心")))
        else:
            files.append((f"{title}.pdf", category, title, samples.make_pdf(title, paragraphs)))
    return files


def raw_extraction(files) -> float:
    """Seconds for pypdf / python-docx alone to read all text from the same files."""
    import docx
    from pypdf import PdfReader

    start = time.perf_counter()
    for name, _, _, data in files:
        if name.endswith(".pdf"):
            reader = PdfReader(io.BytesIO(data))
            "".join(page.extract_text() or "" for page in reader.pages)
        else:
            document = docx.Document(io.BytesIO(data))
            "\n".join(p.text for p in document.paragraphs)
            for table in document.tables:
                for row in table.rows:
                    [c.text for c in row.cells]
    return time.perf_counter() - start


@contextlib.contextmanager
def _archive(backend: str, **settings):
    """A fresh archive (app context) with an archive-room officer and the project 翠湖苑."""
    from archive import create_app
    from archive.cli import init_db
    from archive.extensions import db
    from archive.models import Department, Level, Project
    from archive.services import accounts, work
    from config import TestConfig

    root = Path(tempfile.mkdtemp(prefix="jz-bench-"))
    try:
        config = TestConfig(root)
        config.SEARCH_BACKEND = backend
        config.MAX_UPLOAD_MB = 100
        for key, value in settings.items():
            setattr(config, key, value)
        app = create_app(config)
        with app.app_context():
            init_db()
            with work.unit(db.session):
                department = Department(name="销售经营部", code="XS")
                db.session.add_all([department, Project(name="翠湖苑")])
                db.session.flush()
                officer = accounts.create_user(
                    db.session, username="bench", password="Jz-ingest-2026x", role="officer",
                    department_id=department.id, clearance=Level.CONFIDENTIAL)
            yield app, officer, root
            db.session.remove()
            app.extensions["search"].close()
    finally:
        shutil.rmtree(root, ignore_errors=True)  # ~90 MB a run


def _ten_dossiers(app, officer) -> list[int]:
    """One customer's ten dossiers (a unit each) that the paths file into in turn."""
    from archive.extensions import db
    from archive.services import customers, work

    with work.unit(db.session):
        customer = customers.create_customer(db.session, officer,
                                             {"name": "张伟", "department": "XS"})
        dossiers = [customers.create_dossier(db.session, officer, {
            "customer_id": customer.id, "project": "翠湖苑", "building": str(b),
            "unit_no": "1", "room": "101"}, number_format=app.config["DOSSIER_NUMBER_FORMAT"])
            for b in range(10)]
        return [d.id for d in dossiers]


def service_ingest(files, backend: str) -> float:
    """Seconds to file every document through filing.file_document, as the upload does."""
    from archive.extensions import db
    from archive.services import filing, work

    with _archive(backend) as (app, officer, _root):
        dossier_ids = _ten_dossiers(app, officer)
        limits = filing.Limits(max_bytes=100 * 2**20, max_docx_uncompressed=200 * 2**20)
        store = app.extensions["blob_store"]
        start = time.perf_counter()
        for i, (name, category, title, data) in enumerate(files):
            with work.unit(db.session):  # one unit per document, as an import files its rows
                filing.file_document(db.session, officer, dossier_ids[i % 10],
                                     {"title": title, "category": category},
                                     [filing.Upload(name, data)], store=store, limits=limits)
        elapsed = time.perf_counter() - start
        indexed = len(app.extensions["search"].document_ids())
        assert indexed == len(files), f"indexed {indexed} of {len(files)}"
    return elapsed


def upload_ingest(files, backend: str, batch_seconds: float, clients: int) -> float:
    """Seconds to upload every document through the API's upload route (the request as a
    client sends it, in this process through Flask's test client) from `clients` threads,
    each indexed in its request (batch_seconds 0) or by the batch writer, until every one
    is searchable."""
    import threading

    from archive.extensions import db
    from archive.models import Document
    from archive.services import accounts, work

    with _archive(backend, INDEX_BATCH_SECONDS=batch_seconds) as (app, officer, _root):
        dossier_ids = _ten_dossiers(app, officer)
        with work.unit(db.session):
            headers = {"Authorization": "Bearer " + accounts.create_token(db.session, officer)}
        failures: list[str] = []

        def upload(share):
            client = app.test_client()
            for i, (name, category, title, data) in share:
                response = client.post(
                    f"/api/v1/dossiers/{dossier_ids[i % 10]}/documents", headers=headers,
                    data={"title": title, "category": category, "file": (io.BytesIO(data), name)},
                    content_type="multipart/form-data")
                if response.status_code != 201:
                    failures.append(f"{name}: {response.status_code} {response.get_data()[:200]}")
        shares = [list(enumerate(files))[k::clients] for k in range(clients)]
        threads = [threading.Thread(target=upload, args=(share,)) for share in shares]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while db.session.execute(select(Document.id).where(
                Document.needs_index.is_(True)).limit(1)).first():
            db.session.commit()
            time.sleep(0.02)
        filed = set(db.session.execute(select(Document.id)).scalars())
        db.session.commit()
        elapsed = time.perf_counter() - start
        assert not failures, failures[:3]
        assert len(filed) == len(files) and filed <= app.extensions["search"].document_ids()
    return elapsed


def bulk_ingest(files, backend: str, workers: int | None) -> float:
    """Seconds for the bulk importer (flask import's path) to file every document from a
    folder and manifest: reading the manifest, every row, the last index write, and a check
    that every filed document is searchable. Customers and dossiers are opened by the rows."""
    from archive.extensions import db
    from archive.models import Document
    from archive.services import imports, work

    with _archive(backend) as (app, officer, root):
        folder = root / "import"
        folder.mkdir()
        with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["客户名称", "负责部门", "项目", "栋号", "单元", "房号", "类别", "题名",
                             "文件"])
            for i, (name, category, title, data) in enumerate(files):
                (folder / name).write_bytes(data)
                writer.writerow(["张伟", "XS", "翠湖苑", str(i % 10), "1", "101", category, title,
                                 name])
        settings = imports.Settings.from_app(app)
        if workers is not None:
            settings.workers = workers
        start = time.perf_counter()
        with work.unit(db.session):
            batch = imports.open_import(db.session, officer, folder, kind="folder",
                                        source=str(folder))
        batch = imports.run(db.session, officer, batch.id, folder, settings)
        filed = set(db.session.execute(select(Document.id)).scalars())
        db.session.commit()
        searchable = app.extensions["search"].document_ids()
        elapsed = time.perf_counter() - start
        assert batch.state == "done" and len(filed) == len(files), imports.counts(db.session, batch)
        assert filed <= set(searchable), f"{len(filed - set(searchable))} not searchable"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--backend", default="tantivy", choices=("tantivy", "whoosh"))
    parser.add_argument("--bulk", action="store_true",
                        help="also file them through the bulk importer (flask import's path)")
    parser.add_argument("--workers", type=int, default=None,
                        help="reading processes of the importer (default: IMPORT_WORKERS, the cores)")
    parser.add_argument("--no-service", action="store_true", help="skip the upload service path")
    parser.add_argument("--uploads", type=lambda v: [int(c) for c in v.split(",")], default=None,
                        metavar="CLIENTS", help="also upload them through the API route from "
                        "this many clients at once (e.g. 1,4), each indexed in its request and "
                        "by the batch writer (INDEX_BATCH_SECONDS)")
    parser.add_argument("--batch-seconds", type=float, default=0.5,
                        help="the batch writer's pause for --uploads")
    parser.add_argument("--rounds", type=int, default=3,
                        help="raw extraction and bulk import alternate this many times; the "
                             "table reports each side's median (this VM's speed drifts by "
                             "a quarter between minutes)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    files = make_files(args.docs)
    megabytes = sum(len(f[3]) for f in files) / 2**20
    print(f"generated {len(files)} files ({megabytes:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    raw_extraction(files[:100])  # warm both sides' imports and caches, untimed
    raws: list[float] = []
    bulks: list[float] = []
    for round_ in range(1, (args.rounds if args.bulk else 1) + 1):
        raws.append(raw_extraction(files))
        if args.bulk:
            bulks.append(bulk_ingest(files, args.backend, args.workers))
            print(f"round {round_}: raw {len(files) / raws[-1]:.0f} docs/s, bulk import "
                  f"{len(files) / bulks[-1]:.0f} docs/s, ratio {raws[-1] / bulks[-1]:.2f}")
    raw = statistics.median(raws)
    rows = [("raw extraction (pypdf / python-docx only, one process)", raw)]
    if not args.no_service:
        rows.append((f"filing service ({args.backend}, per-document commit + index)",
                     service_ingest(files, args.backend)))
    for clients in args.uploads or ():
        for seconds in (0.0, args.batch_seconds):
            how = f"batched ({seconds} s)" if seconds else "indexed in each request"
            rows.append((f"API uploads, {clients} client(s), {how}, until searchable",
                         upload_ingest(files, args.backend, seconds, clients)))
    if args.bulk:
        rows.append((f"bulk import ({args.backend}, flask import: rows, batched index, "
                     "searchable check)", statistics.median(bulks)))
    print()
    if len(raws) > 1:
        print(f"medians of {len(raws)} alternating rounds")
    print("| path | docs/s | MB/s | ratio to raw |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {len(files) / seconds:.0f} | {megabytes / seconds:.2f} | "
              f"{raw / seconds:.2f} |")


if __name__ == "__main__":
    main()
