"""Moving the audit chain to a new audit key (`flask --app archive rotate-audit-key`,
docs/audit.md): the old key signs a hand-over naming the new key's id, the new key signs
from there on, and the old key is kept in instance/audit_keyring so that the checkpoints
it signed stay checkable. Someone who holds only the old key (it leaked, which is why it
was rotated) and the database cannot sign over a chain rewritten after the rotation."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from archive import create_app
from archive.clock import now
from archive.extensions import db
from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.services import audit_anchor
from config import TestConfig
from tests.test_audit_anchor import (
    _anchor,
    _backup_and_empty_instance,
    _plain_chain_ok,
    _recompute_from,
    _record,
    _run,
)

EVENTS = AuditEvent.__table__
CHECKPOINTS = AuditCheckpoint.__table__


def _rotate(app) -> tuple[str, str]:
    old = app.config["AUDIT_KEY"]
    result = _run(app, "rotate-audit-key")
    assert result.exit_code == 0, result.output
    return old, app.config["AUDIT_KEY"]


def _instance(app) -> Path:
    return Path(app.config["INSTANCE_DIR"])


def test_verify_audit_passes_across_a_rotation(app, users):
    _record(users, 5)
    _anchor(app)
    old, new = _rotate(app)
    assert new != old
    assert (_instance(app) / "audit_key").read_text().strip() == new
    assert (_instance(app) / "audit_keyring").read_text().split() == [old]
    assert not (_instance(app) / "audit_key.next").exists()
    old_id, new_id = audit_anchor.key_id(old), audit_anchor.key_id(new)
    lines = [json.loads(line) for line in
             (_instance(app) / audit_anchor.FILE_NAME).read_text().splitlines()]
    handover, first = lines[-2:]
    assert (handover["key_id"], handover["next_key_id"]) == (old_id, new_id)
    assert first["key_id"] == new_id and first["seq"] == handover["seq"]
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "audit.key_rotated")).scalar_one()
    db.session.commit()
    assert json.loads(event.details) == {"old_key_id": old_id, "new_key_id": new_id}
    assert event.seq == handover["seq"]  # the hand-over signs the rotation's own record
    _record(users, 5)
    assert f"密钥 {new_id}" in _anchor(app)
    for args in (("verify-audit", "--full"), ("verify-audit",)):
        result = _run(app, *args)
        assert result.exit_code == 0, result.output
    assert "4 个签名检查点相符" in _run(app, "verify-audit", "--full").output
    # The new key signs what follows; the old one signs nothing more.
    signers = db.session.execute(select(CHECKPOINTS.c.key_id).where(
        CHECKPOINTS.c.seq > handover["seq"])).scalars().all()
    db.session.commit()
    assert signers and set(signers) == {new_id}


def test_a_chain_rewritten_after_the_rotation_by_the_old_keys_holder_is_detected(app, users):
    _record(users, 3)
    _anchor(app)
    old, _new = _rotate(app)
    rotated_at = db.session.get(AuditHead, 1).seq
    db.session.commit()
    _record(users, 5)
    db.session.commit()
    # The old key's holder rewrites an event after the rotation, recomputes the chain and
    # signs its new head with the old key, into the table and the file alike.
    with db.engine.begin() as con:
        con.execute(update(EVENTS).where(EVENTS.c.seq == rotated_at + 2)
                    .values(details=json.dumps({"q": "无关的查询"})))
    _recompute_from(rotated_at + 2)
    assert _plain_chain_ok()
    head = db.session.get(AuditHead, 1, populate_existing=True)
    seq, digest = head.seq, head.hash
    db.session.commit()
    forged = {"seq": seq, "hash": digest, "key_id": audit_anchor.key_id(old),
              "signature": audit_anchor.sign(old, seq, digest)}
    with db.engine.begin() as con:
        con.execute(insert(CHECKPOINTS).values(**forged, at=now()))
    with (_instance(app) / audit_anchor.FILE_NAME).open("a") as fh:
        fh.write(json.dumps({**forged, "at": "2026-12-02T00:00:00"}) + "\n")
    for args in (("verify-audit",), ("verify-audit", "--full")):
        result = _run(app, *args)
        assert result.exit_code == 1, result.output
        assert "已退役的审计密钥" in result.output and f"#{seq}" in result.output


def test_without_the_new_key_verify_audit_says_it_is_missing_not_tampered(app, users):
    _record(users, 3)
    _anchor(app)
    old, new = _rotate(app)
    _record(users, 2)
    _anchor(app)
    # The instance folder is put back from a copy made before the rotation: the old key.
    (_instance(app) / "audit_key").write_text(old)
    (_instance(app) / "audit_keyring").unlink()
    app.config["AUDIT_KEY"] = old
    signed = db.session.execute(select(CHECKPOINTS.c.id)).scalars().all()
    db.session.commit()
    result = _run(app, "verify-audit")
    assert result.exit_code == 2, result.output
    assert "缺少审计密钥" in result.output and audit_anchor.key_id(new) in result.output
    assert "已退役" not in result.output and "签名不符" not in result.output
    assert db.session.execute(select(CHECKPOINTS.c.id)).scalars().all() == signed  # none
    db.session.commit()
    # The new key without the keyring: the old key's checkpoints cannot be checked.
    (_instance(app) / "audit_key").write_text(new)
    app.config["AUDIT_KEY"] = new
    result = _run(app, "verify-audit")
    assert result.exit_code == 2 and audit_anchor.key_id(old) in result.output, result.output


def test_a_broken_chain_is_not_rotated(app, users):
    _record(users, 5)
    _anchor(app)
    old = app.config["AUDIT_KEY"]
    with db.engine.begin() as con:
        con.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(ip="10.6.6.6"))
    _recompute_from(2)
    result = _run(app, "rotate-audit-key")
    assert result.exit_code == 1 and "不轮换密钥" in result.output, result.output
    assert app.config["AUDIT_KEY"] == old
    assert (_instance(app) / "audit_key").read_text().strip() == old
    assert not (_instance(app) / "audit_keyring").exists()
    assert db.session.execute(select(AuditEvent.id).where(
        AuditEvent.action == "audit.key_rotated")).first() is None


def test_a_key_from_the_environment_is_not_rotated(app, users, monkeypatch):
    monkeypatch.setenv("AUDIT_KEY", app.config["AUDIT_KEY"])
    result = _run(app, "rotate-audit-key")
    assert result.exit_code == 1 and "AUDIT_KEY" in result.output
    assert not (_instance(app) / "audit_keyring").exists()


def test_a_rotated_archive_restores_with_its_key_and_keyring(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    _record(users, 3)
    _anchor(app)
    old, new = _rotate(app)
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    for path in dest.rglob("*"):  # neither key is in the backup
        if path.is_file():
            assert old.encode() not in path.read_bytes(), path
    (root / "instance").mkdir()
    shutil.copy(_instance(app) / "audit_key", root / "instance" / "audit_key")
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    assert audit_anchor.key_id(old) in restored.output  # the keyring is missing: named
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 2 and audit_anchor.key_id(old) in result.output, result.output
    shutil.copy(_instance(app) / "audit_keyring", root / "instance" / "audit_keyring")
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 0, result.output


def test_a_rotation_stopped_after_the_hand_over_is_finished_by_running_it_again(app, users):
    _record(users, 3)
    _anchor(app)
    old, new = _rotate(app)
    # As a crash leaves it: the hand-over signed, the new key not yet in audit_key's place.
    (_instance(app) / "audit_key.next").write_text(new)
    (_instance(app) / "audit_key").write_text(old)
    app.config["AUDIT_KEY"] = old
    assert _run(app, "verify-audit").exit_code == 2  # the new key is missing, not tampering
    result = _run(app, "rotate-audit-key")
    assert result.exit_code == 0 and "已完成中断的审计密钥轮换" in result.output, result.output
    assert app.config["AUDIT_KEY"] == new
    assert (_instance(app) / "audit_key").read_text() == new
    assert not (_instance(app) / "audit_key.next").exists()
    assert (_instance(app) / "audit_keyring").read_text().split() == [old]  # kept once
    result = _run(app, "verify-audit", "--full")
    assert result.exit_code == 0, result.output


def test_a_rotation_stopped_before_the_hand_over_resumes_with_the_key_it_named(
        app, users, monkeypatch):
    _record(users, 3)
    _anchor(app)
    old = app.config["AUDIT_KEY"]
    signed = audit_anchor.hand_over

    def killed(*args):
        raise RuntimeError("killed between the event and the hand-over")

    monkeypatch.setattr(audit_anchor, "hand_over", killed)
    with pytest.raises(RuntimeError):
        _run(app, "rotate-audit-key")
    monkeypatch.setattr(audit_anchor, "hand_over", signed)
    pending = (_instance(app) / "audit_key.next").read_text()
    result = _run(app, "rotate-audit-key")
    assert result.exit_code == 0, result.output
    new = app.config["AUDIT_KEY"]
    assert new == pending != old
    named = [json.loads(d) for d in db.session.execute(select(AuditEvent.details).where(
        AuditEvent.action == "audit.key_rotated")).scalars()]
    db.session.remove()  # SQLite: let go of the lock before the command below
    assert named == [{"old_key_id": audit_anchor.key_id(old),
                      "new_key_id": audit_anchor.key_id(new)}]
    assert (_instance(app) / "audit_keyring").read_text().split() == [old]
    result = _run(app, "verify-audit", "--full")
    assert result.exit_code == 0, result.output


def test_a_process_still_holding_the_retired_key_signs_nothing_with_it(app, users):
    _record(users, 3)
    _anchor(app)
    old, new = _rotate(app)
    app.config["AUDIT_KEY"] = old  # a web worker started before the rotation
    app.config["AUDIT_CHECKPOINT_EVERY"] = 5
    signed = db.session.execute(select(CHECKPOINTS.c.id)).scalars().all()
    db.session.commit()
    _record(users, 12)
    assert db.session.execute(select(CHECKPOINTS.c.id)).scalars().all() == signed
    db.session.commit()
    app.config["AUDIT_KEY"] = new  # restarted
    _record(users, 5)
    result = _run(app, "verify-audit", "--full")
    assert result.exit_code == 0, result.output
