"""Concurrent filer processes (issue 21), each with its own app, filing into one group while
some of their uploads of the same bytes fail and roll back: the sequence numbers are unique
and gap-free, the audit chain verifies, no committed file lost its blob, and once the orphan
sweep ran nothing unreferenced remains. On PostgreSQL this is the real test of the group
counter and the audit head read FOR UPDATE and of leaving failed uploads' blobs to the
sweep (on SQLite the write lock serialises the same work, so the test runs on PostgreSQL)."""

import multiprocessing

import pytest

from archive import create_app, samples
from archive.extensions import db
from archive.models import Document, StoredFile
from archive.services import audit, orphans
from config import TestConfig
from tests.databases import ON_POSTGRES

WORKERS, ROUNDS = 4, 3


def _shared(round_no: int) -> bytes:
    # Made once per round and passed to every worker: the same bytes, so the same blob.
    return samples.make_pdf("认购书", [f"第{round_no}轮各归档员都上传的同一份文件"])


def _filer(root: str, worker: int, shared: list[bytes]) -> None:
    app = create_app(TestConfig(root))
    from archive.models import Dossier, User
    from archive.services import filing, work

    with app.app_context():
        officer = db.session.query(User).filter_by(username="officer").one()
        dossier = db.session.query(Dossier).one()
        limits = filing.Limits.from_config(app.config)
        store = app.extensions["blob_store"]

        def upload(round_no: int, fail: bool) -> None:
            own = samples.make_pdf("维修", [f"第{worker}号归档员第{round_no}轮的文件{fail}"])
            files = [filing.Upload("shared.pdf", shared[round_no]),
                     filing.Upload("own.pdf", own)]
            try:
                with work.unit(db.session):
                    filing.file_document(db.session, officer, dossier.id,
                                         {"title": f"并发{worker}-{round_no}", "category": "销售"},
                                         files, store=store, limits=limits, index=False)
                    if fail:
                        raise RuntimeError("the request fails after filing")
            except RuntimeError:
                pass

        for round_no in range(ROUNDS):
            # Half the workers fail first and the other half after: a failing upload and a
            # succeeding one of the same bytes overlap.
            order = (True, False) if worker % 2 else (False, True)
            for fail in order:
                upload(round_no, fail)
    app.extensions["search"].close()


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers under its write lock; "
                    "test_eight_concurrent_filers_lose_nothing covers it there")
def test_concurrent_filers_number_chain_and_keep_every_blob(app, make_customer, make_dossier,
                                                            tmp_path):
    make_dossier(make_customer())
    db.session.remove()
    shared = [_shared(n) for n in range(ROUNDS)]
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_filer, args=(str(tmp_path), w, shared))
               for w in range(WORKERS)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(300)
    assert [p.exitcode for p in workers] == [0] * WORKERS

    docs = db.session.query(Document).all()
    assert sorted(d.seq for d in docs) == list(range(1, WORKERS * ROUNDS + 1))
    assert audit.verify(db.session).ok
    store = app.extensions["blob_store"]
    files = db.session.query(StoredFile).all()
    assert len(files) == 2 * WORKERS * ROUNDS
    for stored in files:
        store.get(stored.sha256)  # raises if the blob is missing or altered
    orphans.sweep(db.session, store, grace_seconds=0)
    on_disk = {p.name for p in app.config["STORAGE_DIR"].rglob("*") if p.is_file()}
    assert on_disk == {f.sha256 for f in files}, "nothing unreferenced remains after the sweep"
