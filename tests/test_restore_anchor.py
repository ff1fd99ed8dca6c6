"""The audit chain's checkpoint file and backups (docs/audit.md). A backup holds the file
as it stood at the snapshot, sealed in the manifest; a restore puts it back, so a trail
deleted or recomputed in the restored database is still caught. A restore into the
instance folder that survived the loss of its database (the audit key and the checkpoint
file still there, as docs/audit.md advises) sets that folder's file aside (kept, named):
its checkpoints signed after the backup name events the restore cannot bring back."""

import json
import shutil
from pathlib import Path

from sqlalchemy import delete, insert, update

from archive import create_app, samples
from archive.clock import now
from archive.extensions import db
from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.services import audit_anchor, backup, work
from config import TestConfig
from tests import databases
from tests.test_audit_anchor import (
    _anchor,
    _backup_and_empty_instance,
    _recompute_from,
    _record,
    _run,
)


def test_a_restore_sets_aside_the_checkpoints_signed_after_the_backup(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    _record(users, 5)
    _anchor(app)  # a checkpoint signed after the backup, of events it does not hold
    instance = Path(app.config["INSTANCE_DIR"])
    (root / "instance").mkdir()
    for name in ("audit_key", audit_anchor.FILE_NAME):  # the folder that survived
        shutil.copy(instance / name, root / "instance" / name)
    old_lines = (instance / audit_anchor.FILE_NAME).read_text().splitlines()
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    assert "审计检查点文件" in restored.output
    [kept] = (root / "instance").glob(f"{audit_anchor.FILE_NAME}.before-restore-*")
    assert kept.read_text().splitlines() == old_lines  # set aside whole, never edited
    for args in (("verify-audit",), ("verify-audit", "--full"), ("verify-audit",)):
        result = _run(other, *args)
        assert result.exit_code == 0, result.output


def _restored(app, dest, root):
    (root / "instance").mkdir(exist_ok=True)
    shutil.copy(Path(app.config["INSTANCE_DIR"]) / "audit_key", root / "instance" / "audit_key")
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    return other


def test_a_backup_holds_the_checkpoint_file_and_a_restore_puts_it_back(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    copy = dest / audit_anchor.FILE_NAME
    lines = (Path(app.config["INSTANCE_DIR"]) / audit_anchor.FILE_NAME).read_bytes()
    assert copy.read_bytes() == lines  # nothing was signed after the snapshot
    manifest = json.loads((dest / "manifest.json").read_text())["files"]
    assert manifest[audit_anchor.FILE_NAME] == backup.sha256_file(copy)  # sealed
    other = _restored(app, dest, root)
    assert (root / "instance" / audit_anchor.FILE_NAME).read_bytes() == lines
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 0, result.output
    # Then someone with the restored database deletes the whole trail and its checkpoint
    # rows (which verified as "0 events, intact" when the file was not restored).
    with other.app_context():
        with db.engine.begin() as con:
            for table in (AuditEvent.__table__, AuditHead.__table__,
                          AuditCheckpoint.__table__):
                con.execute(delete(table))
    result = _run(other, "verify-audit")
    assert result.exit_code == 1 and "在数据库中被删除" in result.output, result.output


def test_a_restored_chain_rewritten_and_recomputed_is_detected(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    other = _restored(app, dest, root)
    with other.app_context():
        with db.engine.begin() as con:
            con.execute(update(AuditEvent.__table__).where(AuditEvent.__table__.c.seq == 2)
                        .values(ip="10.6.6.6"))
        _recompute_from(2)
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 1 and "重算过" in result.output, result.output


def _line(key: str, seq: int, digest: str) -> dict:
    return {"seq": seq, "hash": digest, "key_id": audit_anchor.key_id(key),
            "signature": audit_anchor.sign(key, seq, digest), "at": "2026-12-02T16:00:00"}


def test_checkpoints_whose_rows_commit_during_the_backup_are_left_out_of_it(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    """The file is read before the snapshot. A line written then whose unit commits its
    row only after the snapshot (here: during the copy of the blobs), and a checkpoint
    signed whole after the snapshot: kept in the copy, either would read as tampering in
    the restored archive."""
    dossier = make_dossier(make_customer("审计客户"))
    file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf("认购书", ["认购。"]))])
    db.session.commit()
    key, path = audit_anchor.settings()
    head = db.session.get(AuditHead, 1)
    in_flight = _line(key, head.seq, head.hash)
    db.session.commit()
    with path.open("a") as fh:  # the line goes first; its row is not committed yet
        fh.write(json.dumps(in_flight) + "\n")
    during = []

    def commit_meanwhile(done, total):
        if during:
            return
        with db.engine.begin() as con:
            con.execute(insert(AuditCheckpoint.__table__).values(
                **{**in_flight, "at": now()}))
        _record(users, 1)
        latest = db.session.get(AuditHead, 1, populate_existing=True)
        with work.unit(db.session):
            during.append(audit_anchor.checkpoint(db.session, key, path, latest.seq,
                                                  latest.hash))

    dest = tmp_path / "backup"
    report = backup.backup(app.config["SQLALCHEMY_DATABASE_URI"],
                           Path(app.config["STORAGE_DIR"]), tmp_path / "none.jsonl", dest,
                           checkpoints=path, progress=commit_meanwhile)
    assert report.ok and during
    assert len(path.read_text().splitlines()) == 2
    assert not (dest / audit_anchor.FILE_NAME).read_text()  # both left out
    root = tmp_path_factory.mktemp("restored")
    databases.create_empty(root)
    other = _restored(app, dest, root)
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 0, result.output


def test_a_checkpoint_row_deleted_before_the_backup_is_still_told_after_the_restore(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest = tmp_path / "backup"
    dossier = make_dossier(make_customer("审计客户"))
    file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf("认购书", ["认购。"]))])
    _anchor(app)
    with db.engine.begin() as con:
        con.execute(delete(AuditCheckpoint.__table__))
    assert _run(app, "backup", str(dest)).exit_code == 0
    assert (dest / audit_anchor.FILE_NAME).read_text()  # the line stays: it is the evidence
    root = tmp_path_factory.mktemp("restored")
    databases.create_empty(root)
    other = _restored(app, dest, root)
    result = _run(other, "verify-audit")
    assert result.exit_code == 1 and "在数据库中被删除" in result.output, result.output
