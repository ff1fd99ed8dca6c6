"""Backup and restore (issue 21, docs/backup.md): the restore drill — a live archive backed
up, restored into an empty instance elsewhere, every table compared row by row
(generically, so tables added later are covered), every file hash, the audit chain and
search; a corrupted backup detected; and a destruction made after the backup re-applied by
the restore, so that a restore never resurrects destroyed content."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from archive import clock, create_app, samples
from archive.extensions import db
from archive.models import Document, RegisterEntry
from archive.services import approvals, audit, backup, destruction, work
from archive.services.search import SearchQuery, Visibility
from config import TestConfig
from tests import databases
from tests.conftest import PASSWORDS

TOKEN = "备份演练暗号丁戊己"
# What a restore itself adds or a rebuild rewrites: compared separately or not at all.
SKIP = {"audit_events", "audit_head", "alembic_version"}


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


def _run(app, *args):
    with app.app_context():
        return CliRunner().invoke(app.cli, list(args), catch_exceptions=False)


def _query(url: str, read):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return read(conn)
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, list[str]]:
    def read(conn):
        return {t: sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f'SELECT * FROM "{t}"'))
                for t in sa.inspect(conn).get_table_names() if t not in SKIP}
    return _query(url, read)


def _events(url: str) -> list[tuple]:
    return _query(url, lambda conn: [tuple(r) for r in conn.exec_driver_sql(
        "SELECT seq, action, hash FROM audit_events ORDER BY seq")])


def _snapshot(app, dest: Path) -> str:
    """The database as the backup took it: the SQLite snapshot itself; on PostgreSQL the
    dump cannot be read, and the live database, which nothing but its `backup.taken` event
    changed since, stands for it."""
    if databases.ON_POSTGRES:
        return app.config["SQLALCHEMY_DATABASE_URI"]
    return f"sqlite:///{dest / 'database' / 'archive.db'}"


def _archive(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("备份客户"))
    file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf(
        "认购书", ["客户认购翠湖苑一套住宅。"]))])
    old = file_doc(dossier, "投诉记录", "投诉", date="2020-01-01", files=[(
        "t.pdf", samples.make_pdf("投诉记录", [TOKEN] + ["回访记录。"] * 3))])
    file_doc(dossier, "纸质来函", "其他", pages="2")
    return old


def _empty_instance(tmp_path_factory):
    root = tmp_path_factory.mktemp("restored")
    databases.create_empty(root)
    return create_app(TestConfig(root)), root


def test_the_restore_drill(app, tmp_path, tmp_path_factory, make_customer, make_dossier,
                           file_doc):
    _archive(make_customer, make_dossier, file_doc)
    db.session.commit()
    dest = tmp_path / "backup"
    taken = _run(app, "backup", str(dest))
    assert taken.exit_code == 0, taken.output
    assert _run(app, "verify-backup", str(dest)).exit_code == 0
    snapshot = _snapshot(app, dest)
    other, root = _empty_instance(tmp_path_factory)
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    copy = other.config["SQLALCHEMY_DATABASE_URI"]
    assert _rows(copy) == _rows(snapshot)
    before = [e for e in _events(snapshot) if e[1] != "backup.taken"]
    after = _events(copy)
    assert after[:len(before)] == before and after[-1][1] == "backup.restored"
    with other.app_context():
        assert audit.verify(db.session).ok
        storage = Path(other.config["STORAGE_DIR"])
        for path in (dest / "blobs").rglob("*"):
            if path.is_file():
                copy = storage / path.relative_to(dest / "blobs")
                assert backup.sha256_file(copy) == path.name
        hits = other.extensions["search"].search(SearchQuery(text="认购"),
                                                 Visibility(unrestricted=True))
        assert hits.total == 1
    # Incremental: a second backup copies no blob again.
    again = _run(app, "backup", str(dest))
    assert "新复制 0 个存储文件" in again.output


def test_a_corrupted_backup_is_detected_and_not_restored(app, tmp_path, tmp_path_factory,
                                                         make_customer, make_dossier,
                                                         file_doc):
    _archive(make_customer, make_dossier, file_doc)
    db.session.commit()
    dest = tmp_path / "backup"
    _run(app, "backup", str(dest))
    blob = next(p for p in (dest / "blobs").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    checked = _run(app, "verify-backup", str(dest))
    assert checked.exit_code == 1 and "校验失败" in checked.output
    other, root = _empty_instance(tmp_path_factory)
    refused = _run(other, "restore", str(dest))
    assert refused.exit_code != 0 and "未恢复" in refused.output


def test_a_destruction_after_the_backup_is_reapplied_by_the_restore(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    old = _archive(make_customer, make_dossier, file_doc)
    sha = old.files[0].sha256
    db.session.commit()
    dest = tmp_path / "backup"
    assert _run(app, "backup", str(dest)).exit_code == 0
    journal = backup.journal_path(app.config["INSTANCE_DIR"])
    with work.unit(db.session):
        batch = destruction.propose(db.session, users["officer"],
                                    {"items": [old.id], "reason": "期满"})
        approvals.approve(db.session, users["gmoffice"], destruction.requests_of(batch)[0].id,
                          "", {"supervisors": ["auditor", "legal"]})
        batch_id = batch.id
    destruction.execute(db.session, users["officer"], batch_id, {"supervisors": [
        {"username": "auditor", "password": PASSWORDS["auditor"]},
        {"username": "legal", "password": PASSWORDS["legal"]}]},
        store=app.extensions["blob_store"], journal=journal)
    assert len(backup.journal_entries(journal)) == 1

    other, root = _empty_instance(tmp_path_factory)
    restored = _run(other, "restore", str(dest), "--journal", str(journal))
    assert restored.exit_code == 0, restored.output
    assert "重放 1 件销毁" in restored.output
    with other.app_context():
        tomb = db.session.get(Document, old.id)
        assert tomb.status == "destroyed" and tomb.files[0].text == ""
        assert not other.extensions["blob_store"].exists(sha)
        row = db.session.query(RegisterEntry).filter_by(document_id=old.id).one()
        assert destruction.register_digest(row) == row.digest
        assert destruction.verify_register(db.session) == []
        assert old.id not in other.extensions["search"].document_ids()
    for path in root.rglob("*"):
        if path.is_file() and path.suffix != ".jsonl":
            assert TOKEN.encode("utf-8") not in path.read_bytes(), path
