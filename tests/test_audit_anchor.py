"""The audit chain anchored outside the database (issue 21, docs/audit.md): someone with
write access to the database — here, SQL sent straight to it, not through the app — who
rewrites the trail and recomputes its hashes is caught by `verify-audit`, because the
heads it signed with the audit key (a file in the instance folder, never in the database)
no longer lie on the chain. A restored archive verifies with the key that travelled
separately, and without it says the key is missing, not that the trail was tampered with."""

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from archive import create_app, samples
from archive.extensions import db
from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.services import audit, audit_anchor, work
from config import TestConfig
from tests import databases

EVENTS = AuditEvent.__table__
HEAD = AuditHead.__table__
CHECKPOINTS = AuditCheckpoint.__table__


def _run(app, *args):
    with app.app_context():
        return CliRunner().invoke(app.cli, list(args), catch_exceptions=False)


def _record(users, n: int) -> None:
    """n ordinary events, as a day of searching leaves them."""
    for i in range(n):
        with work.unit(db.session):
            audit.record(db.session, users["staff"], "search", None, q=f"张伟 {i}")


def _anchor(app) -> str:
    db.session.commit()
    result = _run(app, "verify-audit")
    assert result.exit_code == 0, result.output
    return result.output


def _plain_chain_ok() -> bool:
    """What the hash chain alone says (all it could say before the anchor)."""
    ok = audit.verify(db.session).ok
    db.session.commit()
    return ok


def _recompute_from(seq: int) -> None:
    """What a DBA who read the source does: every hash from `seq` on, and the head."""
    with db.engine.begin() as con:
        rows = con.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            if row["seq"] >= seq:
                event = AuditEvent(**{k: row[k] for k in row.keys()})
                digest = audit.chain_hash(prev, event)
                con.execute(update(EVENTS).where(EVENTS.c.id == row["id"])
                            .values(prev_hash=prev, hash=digest))
                prev = digest
            else:
                prev = row["hash"]
        con.execute(update(HEAD).values(seq=rows[-1]["seq"], hash=prev))


def test_verify_audit_anchors_an_existing_chain_with_its_first_checkpoint(app, users):
    _record(users, 5)
    key_file = Path(app.config["INSTANCE_DIR"]) / "audit_key"
    assert key_file.read_text().strip() == app.config["AUDIT_KEY"]
    assert db.session.query(AuditCheckpoint).count() == 0
    output = _anchor(app)
    head = db.session.get(AuditHead, 1)
    assert "已签名检查点" in output and f"#{head.seq}" in output
    lines = (Path(app.config["INSTANCE_DIR"]) / "audit_checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [head.seq]
    row = db.session.query(AuditCheckpoint).one()
    assert (row.seq, row.hash) == (head.seq, head.hash)
    assert row.signature == audit_anchor.sign(app.config["AUDIT_KEY"], head.seq, head.hash)
    # The key is in the instance folder, never in the database.
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        assert app.config["AUDIT_KEY"].encode() not in Path(uri[10:]).read_bytes()


def test_the_next_run_walks_only_from_the_last_checkpoint(app, users):
    _record(users, 5)
    _anchor(app)
    _record(users, 3)
    output = _anchor(app)
    assert "自检查点" in output and "校验 3 条事件" in output
    assert "自第一条起" in _anchor_full(app)


def _anchor_full(app) -> str:
    result = _run(app, "verify-audit", "--full")
    assert result.exit_code == 0, result.output
    return result.output


def test_a_rewritten_event_with_every_later_hash_recomputed_is_detected(app, users):
    _record(users, 20)
    _anchor(app)
    _record(users, 5)
    db.session.commit()
    victim = db.session.execute(select(AuditEvent).where(AuditEvent.action == "search")
                                .order_by(AuditEvent.seq)).scalars().first().seq
    db.session.commit()
    with db.engine.begin() as con:
        con.execute(update(EVENTS).where(EVENTS.c.seq == victim)
                    .values(details=json.dumps({"q": "无关的查询"})))
    _recompute_from(victim)
    assert _plain_chain_ok()  # the chain alone is fooled
    for args in (("verify-audit",), ("verify-audit", "--full")):
        result = _run(app, *args)
        assert result.exit_code == 1, result.output
        assert "与签名检查点不符" in result.output and "重算" in result.output
    assert db.session.query(AuditCheckpoint).count() == 1  # nothing signed over it


def test_deleting_the_newest_50_events_and_moving_the_head_back_is_detected(app, users):
    _record(users, 60)
    _anchor(app)
    with db.engine.begin() as con:
        top = con.execute(select(HEAD.c.seq)).scalar_one()
        con.execute(delete(EVENTS).where(EVENTS.c.seq > top - 50))
        kept = con.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == top - 50)).scalar_one()
        con.execute(update(HEAD).values(seq=top - 50, hash=kept))
    assert _plain_chain_ok()
    result = _run(app, "verify-audit")
    assert result.exit_code == 1
    assert f"事件 #{top} 已不存在" in result.output and "审计事件被删除" in result.output


def test_deleting_every_event_the_head_and_the_checkpoint_rows_is_detected(app, users):
    _record(users, 3)
    _anchor(app)
    db.session.commit()
    with db.engine.begin() as con:
        for table in (EVENTS, HEAD, CHECKPOINTS):
            con.execute(delete(table))
    report = audit.verify(db.session)
    db.session.commit()
    assert report.ok and report.checked == 0  # "0 events, intact" without the anchor
    result = _run(app, "verify-audit")
    assert result.exit_code == 1
    assert "在数据库中被删除" in result.output
    assert db.session.query(AuditCheckpoint).count() == 0


def test_deleting_every_event_and_the_head_leaves_the_signed_rows_to_tell(app, users):
    _record(users, 3)
    _anchor(app)
    db.session.commit()
    (Path(app.config["INSTANCE_DIR"]) / "audit_checkpoints.jsonl").unlink()
    with db.engine.begin() as con:
        con.execute(delete(EVENTS))
        con.execute(delete(HEAD))
    result = _run(app, "verify-audit")
    assert result.exit_code == 1 and "已不存在" in result.output


def test_a_forged_or_altered_checkpoint_is_detected(app, users):
    _record(users, 3)
    _anchor(app)
    db.session.commit()
    with db.engine.begin() as con:
        con.execute(update(CHECKPOINTS).values(seq=CHECKPOINTS.c.seq + 1))
    result = _run(app, "verify-audit")
    assert result.exit_code == 1 and "签名不符" in result.output


def test_a_checkpoint_is_signed_every_n_events(app, users):
    app.config["AUDIT_CHECKPOINT_EVERY"] = 10
    _record(users, 25)
    signed = db.session.execute(select(AuditCheckpoint.seq)).scalars().all()
    db.session.commit()
    assert len(signed) >= 2 and all(seq % 10 == 0 for seq in signed)
    lines = (Path(app.config["INSTANCE_DIR"]) / "audit_checkpoints.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["seq"] for line in lines) == sorted(signed)
    assert "签名检查点相符" in _anchor(app)


def _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory, make_customer,
                               make_dossier, file_doc):
    dossier = make_dossier(make_customer("审计客户"))
    file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf("认购书", ["认购。"]))])
    _anchor(app)
    dest = tmp_path / "backup"
    assert _run(app, "backup", str(dest)).exit_code == 0
    # The backup holds the database and the blobs; the key is in none of its files.
    for path in dest.rglob("*"):
        if path.is_file():
            assert app.config["AUDIT_KEY"].encode() not in path.read_bytes(), path
    root = tmp_path_factory.mktemp("restored")
    databases.create_empty(root)
    return dest, root


def test_a_restored_archive_verifies_with_the_key_that_travelled_separately(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    (root / "instance").mkdir()
    shutil.copy(Path(app.config["INSTANCE_DIR"]) / "audit_key", root / "instance" / "audit_key")
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    result = _run(other, "verify-audit", "--full")
    assert result.exit_code == 0, result.output
    assert "1 个签名检查点相符" in result.output


def test_without_the_key_verify_audit_says_the_key_is_missing_not_tampered(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    other = create_app(TestConfig(root))  # a new instance makes a key of its own
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0
    assert "审计密钥" in restored.output  # the restore says which key the archive needs
    result = _run(other, "verify-audit")
    assert result.exit_code == 2
    assert "缺少审计密钥" in result.output
    assert audit_anchor.key_id(app.config["AUDIT_KEY"]) in result.output
    assert "被破坏" not in result.output and "篡改" not in result.output.replace("不说明审计链被篡改", "")
    with other.app_context():
        assert db.session.execute(select(func.count()).select_from(CHECKPOINTS)).scalar() == 1


def _checkpoint_state(app) -> tuple[bytes | None, int]:
    """What a signature writes: the checkpoint file and the table's rows."""
    path = Path(app.config["INSTANCE_DIR"]) / audit_anchor.FILE_NAME
    rows = db.session.execute(select(func.count()).select_from(CHECKPOINTS)).scalar()
    db.session.commit()
    return (path.read_bytes() if path.exists() else None), rows


def _actions_since(seq: int) -> list[str]:
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.seq > seq)
                                 .order_by(AuditEvent.seq)).scalars().all()
    db.session.commit()
    return actions


def test_the_auditors_page_verifies_on_get_and_signs_nothing(app, users, login_as):
    _record(users, 3)
    _anchor(app)
    _record(users, 2)
    client = login_as("auditor")
    before, head = _checkpoint_state(app), db.session.get(AuditHead, 1).seq
    db.session.commit()
    for url in ("/audit/verify", "/audit/verify?full=1"):
        page = client.get(url).get_data(as_text=True)
        assert 'data-chain="ok"' in page and 'data-anchor="1"' in page
        assert "已签名新的检查点" not in page
        assert "data-sign" in page and 'name="csrf_token"' in page  # the button to sign
    assert _checkpoint_state(app) == before  # neither the file nor the table
    # The only row a look adds is its own record in the trail, as for every look at it.
    assert _actions_since(head) == ["audit.verified", "audit.verified"]


def test_the_auditors_button_posts_and_signs_the_verified_head(app, users, login_as):
    _record(users, 3)
    client = login_as("auditor")
    assert _checkpoint_state(app) == (None, 0)
    page = client.post("/audit/verify").get_data(as_text=True)
    assert 'data-chain="ok"' in page and "已签名新的检查点" in page
    lines, rows = _checkpoint_state(app)
    assert rows == 1 and len(lines.splitlines()) == 1
    row = db.session.execute(select(AuditCheckpoint)).scalar_one()
    db.session.commit()
    assert json.loads(lines)["seq"] == row.seq
    assert f"事件 #{row.seq}" in page
    page = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-anchor="1"' in page


def test_staff_cannot_sign_a_checkpoint(app, users, login_as):
    _record(users, 3)
    client = login_as("staff")
    assert client.post("/audit/verify").status_code == 403
    assert client.get("/audit/verify").status_code == 403
    assert _checkpoint_state(app) == (None, 0)


def test_the_auditors_page_shows_a_recomputed_chain_and_signs_nothing_over_it(
        app, users, login_as):
    _record(users, 3)
    client = login_as("auditor")
    assert "已签名新的检查点" in client.post("/audit/verify").get_data(as_text=True)
    _record(users, 2)
    with db.engine.begin() as con:
        con.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(ip="10.6.6.6"))
    _recompute_from(2)
    signed = _checkpoint_state(app)
    page = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-chain="broken"' in page and "重算过" in page and "data-sign" not in page
    page = client.get("/audit/verify?full=1").get_data(as_text=True)
    assert 'data-chain="broken"' in page
    page = client.post("/audit/verify").get_data(as_text=True)
    assert 'data-chain="broken"' in page and "已签名新的检查点" not in page
    assert _checkpoint_state(app) == signed
