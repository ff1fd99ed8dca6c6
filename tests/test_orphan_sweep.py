"""The orphan sweep (issue 21): blobs no row names are removed, never one a row names or an
upload in flight has just stored or reused; a refused upload stores nothing once it ran."""

import os
import threading
import time

import pytest
import sqlalchemy as sa

from archive import samples
from archive.extensions import db
from archive.models import StoredFile
from archive.services import orphans, work
from tests.conftest import archive_state
from tests.databases import ON_POSTGRES

HOUR = 3600


def _blobs(app) -> set[str]:
    return {p.name for p in app.config["STORAGE_DIR"].rglob("*") if p.is_file()}


def _age(app, digest: str, seconds: int) -> None:
    path = app.extensions["blob_store"].path_for(digest)
    then = time.time() - seconds
    os.utime(path, (then, then))


def _orphan(app, data: bytes, *, age: int) -> str:
    digest, _new = app.extensions["blob_store"].put(data)
    _age(app, digest, age)
    return digest


def test_a_refused_upload_stores_nothing_once_the_sweep_ran(app, make_customer, make_dossier,
                                                             file_doc):
    dossier = make_dossier(make_customer())
    before = archive_state(app)
    with pytest.raises(RuntimeError), work.unit(db.session):
        file_doc(dossier, files=[("认购书.pdf", samples.make_pdf("认购书", ["被撤回的上传"]))])
        raise RuntimeError("the request fails after filing")
    orphans.sweep(db.session, app.extensions["blob_store"], grace_seconds=0)
    assert _blobs(app) <= orphans.referenced(db.session), "nothing unreferenced remains"
    assert archive_state(app) == before


def test_the_sweep_removes_only_old_unreferenced_blobs(app, make_customer, make_dossier,
                                                       file_doc):
    dossier = make_dossier(make_customer())
    filed = samples.make_pdf("认购书", ["归档的"])
    kept = file_doc(dossier, files=[("认购书.pdf", filed)])
    digest = kept.files[0].sha256
    _age(app, digest, 2 * HOUR)
    old = _orphan(app, samples.make_pdf("孤儿", ["两小时前失败的上传"]), age=2 * HOUR)
    recent = _orphan(app, samples.make_pdf("孤儿", ["刚刚存下、尚未提交的上传"]), age=60)
    crashed = app.config["STORAGE_DIR"] / old[:2] / old[2:4] / ".tmp-crashed"
    crashed.write_bytes(b"half a blob")
    os.utime(crashed, (time.time() - 2 * HOUR,) * 2)

    removed = orphans.sweep(db.session, app.extensions["blob_store"], grace_seconds=HOUR)

    assert removed == [old]
    assert _blobs(app) == {digest, recent}
    assert app.extensions["blob_store"].get(digest) == filed


def test_an_orphan_reused_by_an_upload_is_spared(app):
    data = samples.make_pdf("孤儿", ["一份失败上传留下的文件，又被另一份上传用上"])
    digest = _orphan(app, data, age=2 * HOUR)
    assert app.extensions["blob_store"].put(data) == (digest, False)  # reused, not written

    assert orphans.sweep(db.session, app.extensions["blob_store"], grace_seconds=HOUR) == []
    assert app.extensions["blob_store"].exists(digest)


def test_sweep_orphans_command(app):
    old = _orphan(app, samples.make_pdf("孤儿", ["命令行清除"]), age=2 * HOUR)
    result = app.test_cli_runner().invoke(args=["sweep-orphans"])
    assert result.exit_code == 0, result.output
    assert "清除了 1 个无引用的存储文件" in result.output
    assert not app.extensions["blob_store"].exists(old)


@pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite the write lock keeps the second upload "
                    "out until the first has ended: the race cannot happen there")
def test_a_failed_upload_leaves_a_blob_a_concurrent_upload_reused(app, make_customer,
                                                                   make_dossier, file_doc):
    """Upload A stores a new blob; upload B of the same bytes (another dossier) reuses it and
    waits for the audit head A holds; A fails and rolls back. B's file must still be there."""
    data = samples.make_pdf("认购书", ["两份同时上传的同一文件"])
    first, second = make_dossier(make_customer()), make_dossier(make_customer("李娜"), room="902")
    outcome = {}

    def upload_b():
        with app.app_context():
            try:
                outcome["document"] = file_doc(second, files=[("b.pdf", data)]).id
            except Exception as exc:  # noqa: BLE001 (reported to the test below)
                outcome["error"] = exc
            finally:
                db.session.remove()

    other = threading.Thread(target=upload_b)
    with pytest.raises(RuntimeError), work.unit(db.session):
        file_doc(first, files=[("a.pdf", data)])
        other.start()
        _wait_for_lock_waiter(app)
        raise RuntimeError("upload A fails after storing its blob")
    other.join(30)
    assert "error" not in outcome, outcome
    orphans.sweep(db.session, app.extensions["blob_store"], grace_seconds=0)
    stored = db.session.execute(sa.select(StoredFile).where(
        StoredFile.document_id == outcome["document"])).scalar_one()
    assert app.extensions["blob_store"].get(stored.sha256) == data


def _wait_for_lock_waiter(app) -> None:
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for _ in range(300):
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
            if waiting:
                return
            time.sleep(0.1)
    raise AssertionError("the second upload never waited for the first")
