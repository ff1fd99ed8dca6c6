"""Anchoring the audit chain outside the database (issue 21, docs/audit.md).

The hash chain alone proves nothing to someone who can write to the database: they can
rewrite an event and recompute every later hash and the head. So the chain's head is
signed, as a checkpoint, with the audit key — an HMAC key kept outside the database
(AUDIT_KEY in the environment, or `instance/audit_key` made at first start, like
SECRET_KEY) — every AUDIT_CHECKPOINT_EVERY events and at every verification. A checkpoint
is appended to `instance/audit_checkpoints.jsonl` (append-only, outside the database)
first and then kept as a row of `audit_checkpoints` (which travels in a backup).

`verify` checks every checkpoint's signature, that the chain still passes through each
signed (seq, hash), and walks the chain from the last checkpoint (or from genesis with
`full`). A checkpoint signed with a key this instance does not hold is reported as the
key missing, not as tampering.

A rotation (`rotate-audit-key`) retires the key: it signs a hand-over naming the next
key's id, its successor signs from there on, and it is kept in `instance/audit_keyring` to
check what it signed before. A checkpoint it signs after its hand-over is refused.
"""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from archive.clock import now
from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.services import audit, work

FILE_NAME = "audit_checkpoints.jsonl"
KEYRING_NAME = "audit_keyring"
log = logging.getLogger(__name__)


def key_id(key: str) -> str:
    """A key's public name (the manifest of a backup says which one it needs)."""
    return hashlib.sha256(f"juanzong-audit-key:{key}".encode()).hexdigest()[:16]


def sign(key: str, seq: int, chain_hash: str, next_key_id: str = "") -> str:
    """A checkpoint's signature; a hand-over's also covers the id of the next key."""
    message = f"juanzong-audit-checkpoint|{key_id(key)}|{seq}|{chain_hash}"
    if next_key_id:
        message += f"|handover|{next_key_id}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def retired_keys() -> list[str]:
    """The keys a rotation retired, kept in `INSTANCE_DIR/audit_keyring` (one a line, mode
    0600, beside audit_key and kept like it): verify-audit needs them to check the
    checkpoints they signed."""
    path = Path(current_app.config["INSTANCE_DIR"]) / KEYRING_NAME
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def settings() -> tuple[str, Path]:
    """The audit key and the checkpoint file of the running app."""
    config = current_app.config
    return config.get("AUDIT_KEY") or "", Path(config["INSTANCE_DIR"]) / FILE_NAME


def checkpoint(session, key: str, path: Path, seq: int, chain_hash: str,
               next_key_id: str = "") -> AuditCheckpoint:
    """Sign (seq, hash), a head of the chain as committed, into the file (fsynced) and a
    row of the caller's unit (with `next_key_id`: the hand-over to that key). The line
    goes first: should the unit roll back, what it says is still true."""
    row = AuditCheckpoint(seq=seq, hash=chain_hash, at=now(), key_id=key_id(key),
                          signature=sign(key, seq, chain_hash, next_key_id),
                          next_key_id=next_key_id or None)
    entry = {"seq": seq, "hash": chain_hash, "key_id": row.key_id,
             "signature": row.signature, "at": row.at.isoformat()}
    if next_key_id:
        entry["next_key_id"] = next_key_id
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write on an O_APPEND descriptor: lines of concurrent workers never interleave.
    _write_synced(path, (json.dumps(entry) + "\n").encode(), os.O_APPEND)
    session.add(row)
    return row


def every_n_events(session, event: AuditEvent) -> None:
    """Have the head signed once the unit recording every N-th event has committed."""
    if not has_app_context() or event.seq % current_app.config.get(
            "AUDIT_CHECKPOINT_EVERY", 1000):
        return
    seq, chain_hash = event.seq, event.hash
    key, path = settings()

    def sign_committed() -> None:
        # Only what was committed is signed (a rolled-back event never reaches here
        # through a unit; this guards a caller that committed by hand). The change it
        # follows is done: a checkpoint that cannot be written is logged, and the next
        # verification signs the head instead.
        try:
            with work.unit(session):
                stored = session.execute(select(AuditEvent.hash).where(
                    AuditEvent.seq == seq)).scalar_one_or_none()
                if key and stored == chain_hash:
                    if key in retired_keys():
                        # A process started before a rotation still holds the old key:
                        # signed after its hand-over, the line would read as a forgery.
                        log.warning("audit key retired by a rotation: restart this process; "
                                    "the checkpoint at event %s is left to verify-audit", seq)
                    else:
                        checkpoint(session, key, path, seq, chain_hash)
        except (OSError, SQLAlchemyError):
            log.exception("could not sign the audit checkpoint at event %s", seq)

    work.after_commit(session, sign_committed)


@dataclass(frozen=True)
class Signed:
    seq: int
    hash: str
    key_id: str
    signature: str
    next_key_id: str = ""


@dataclass
class AnchoredReport:
    chain: "audit.ChainReport"
    full: bool
    key_id: str
    # Checkpoints found (file and table together) and those whose signature held.
    checkpoints: int = 0
    valid: int = 0
    # The checkpoint the walk started from: (seq, hash), or None from genesis.
    start: tuple[int, str] | None = None
    # The seq of the newest checkpoint whose signature held (0: none).
    last_signed: int = 0
    problems: list[str] = field(default_factory=list)
    # Ids of keys that signed checkpoints this instance cannot check (the key is missing).
    missing_keys: set[str] = field(default_factory=set)
    signed: AuditCheckpoint | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems and not self.missing_keys

    @property
    def unsigned(self) -> int:
        """Events of the intact chain after the newest valid checkpoint: what a DBA could
        still rewrite undetected until a checkpoint covers them."""
        return max(0, self.chain.last[0] - self.last_signed)

    @property
    def message(self) -> str:
        """What is wrong, first things first ('' when intact)."""
        if self.problems:
            return self.problems[0]
        if not self.chain.ok:
            return self.chain.problem
        if self.missing_keys:
            return (f"缺少审计密钥：检查点由密钥 {'、'.join(sorted(self.missing_keys))} 签名，"
                    f"本实例的密钥是 {self.key_id or '（未设置）'}。请把与备份分开保管的 "
                    "audit_key 放回实例目录（或设置 AUDIT_KEY）后再校验；这不说明审计链被篡改")
        return ""


def _file_checkpoints(path: Path, problems: list[str]) -> list[Signed]:
    if not path.exists():
        return []
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(Signed(int(data["seq"]), str(data["hash"]), str(data["key_id"]),
                                str(data["signature"]), str(data.get("next_key_id", ""))))
        except (ValueError, KeyError, TypeError):
            problems.append(f"检查点文件第 {number} 行无法读取（被改动）：{path}")
    return found


def verify(session, key: str, path: Path, *, full: bool = False, sign_head: bool = True,
           old_keys: list[str] | tuple = ()) -> AnchoredReport:
    """Check the chain against its signed checkpoints (see the module's docstring), those
    of keys a rotation retired with `old_keys`, and, when everything holds and
    `sign_head`, sign the head it verified as a new checkpoint in the caller's unit."""
    own_id = key_id(key) if key else ""
    report = AnchoredReport(audit.ChainReport(0), full, own_id)
    known = {key_id(old): old for old in old_keys}
    if key:
        known[own_id] = key
    in_file = _file_checkpoints(path, report.problems)
    in_table = [Signed(r.seq, r.hash, r.key_id, r.signature, r.next_key_id or "")
                for r in session.execute(
                    select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars()]
    table_set = set(in_table)
    for gone in sorted({c for c in in_file if c not in table_set}, key=lambda c: c.seq):
        report.problems.append(f"签名检查点（事件 #{gone.seq}）在数据库中被删除，"
                               f"实例目录的检查点文件仍有记录")
    every = sorted(set(in_file) | table_set, key=lambda c: c.seq)
    report.checkpoints = len(every)
    valid = []
    for cp in every:
        signer = known.get(cp.key_id)
        if signer is None:
            report.missing_keys.add(cp.key_id)
        elif not hmac.compare_digest(cp.signature,
                                     sign(signer, cp.seq, cp.hash, cp.next_key_id)):
            report.problems.append(f"检查点（事件 #{cp.seq}）的签名不符：检查点被伪造或改动")
        else:
            valid.append(cp)
    # A key retired by a rotation signs nothing after its hand-over: such a checkpoint was
    # made by someone who still holds the old key, over a chain they may have rewritten.
    handed = {}
    for cp in valid:
        if cp.next_key_id and cp.key_id not in handed:
            handed[cp.key_id] = cp
    retired = [cp for cp in valid if cp.key_id in handed and cp.seq > handed[cp.key_id].seq]
    for cp in retired:
        over = handed[cp.key_id]
        report.problems.append(
            f"检查点（事件 #{cp.seq}）由已退役的审计密钥 {cp.key_id} 签名：该密钥已在事件 "
            f"#{over.seq} 把审计链交接给密钥 {over.next_key_id}，此后用它签的检查点不可信"
            "（旧密钥可能已泄露，其后的审计事件可能被改写）")
    valid = [cp for cp in valid if cp not in retired]
    if own_id in handed:  # this instance runs with a retired key: the next one is missing
        report.missing_keys.add(handed[own_id].next_key_id)
    report.valid = len(valid)
    report.last_signed = valid[-1].seq if valid else 0
    stored: dict[int, str] = {}
    seqs = sorted({cp.seq for cp in valid})
    for i in range(0, len(seqs), 500):
        stored.update((seq, digest) for seq, digest in session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs[i:i + 500]))))
    for cp in valid:
        if cp.seq not in stored:
            report.problems.append(f"签名检查点所记的事件 #{cp.seq} 已不存在：审计事件被删除")
            break
        if stored[cp.seq] != cp.hash:
            report.problems.append(f"事件 #{cp.seq} 的哈希与签名检查点不符：审计链被改写后重算过")
            break
    if valid and not full:
        report.start = (valid[-1].seq, valid[-1].hash)
    report.chain = audit.verify(session, after=report.start or (0, audit.GENESIS))
    last_seq, last_hash = report.chain.last
    if valid and last_seq < valid[-1].seq and report.chain.ok:
        report.problems.append(f"链头停在事件 #{last_seq}，而检查点已签到 #{valid[-1].seq}："
                               "最新的事件被删除")
    if report.ok and sign_head and key and last_seq and (
            not valid or (valid[-1].seq, valid[-1].hash) != (last_seq, last_hash)):
        report.signed = checkpoint(session, key, path, last_seq, last_hash)
    return report


def _write_synced(path: Path, data: bytes, flag: int) -> None:
    """Write `data` to `path` in one write (mode 0600 when created, `flag` O_APPEND or
    O_EXCL) and fsync it before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flag, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key(path: Path, key: str) -> None:
    """A key file made whole or not at all (mode 0600, fsynced, then renamed into place)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    _write_synced(partial, key.encode(), os.O_EXCL)
    partial.replace(path)


def keep_retired(instance: Path, key: str) -> None:
    """Append `key` to the keyring (once): the checkpoints it signed stay checkable."""
    path = instance / KEYRING_NAME
    if path.exists() and key in path.read_text().split():
        return
    _write_synced(path, (key + "\n").encode(), os.O_APPEND)


def handed_over(session, old_key: str, new_key: str) -> bool:
    """Whether `old_key` has signed the hand-over to `new_key` (a rotation got that far)."""
    found = session.execute(select(AuditCheckpoint.id).where(
        AuditCheckpoint.key_id == key_id(old_key),
        AuditCheckpoint.next_key_id == key_id(new_key)).limit(1)).first()
    return found is not None


def rotation_recorded(session, old_id: str, new_id: str) -> bool:
    """Whether the newest `audit.key_rotated` event names this rotation (a rerun of one
    stopped before its hand-over records none again)."""
    details = session.execute(select(AuditEvent.details).where(
        AuditEvent.action == "audit.key_rotated").order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    named = json.loads(details) if details else {}
    return (named.get("old_key_id"), named.get("new_key_id")) == (old_id, new_id)


def hand_over(session, old_key: str, new_key: str, path: Path) -> tuple[AuditCheckpoint,
                                                                         AuditCheckpoint]:
    """The rotation's two checkpoints on the committed head, in the caller's unit: the
    retiring key signs the hand-over naming the new key's id, and the new key signs the
    same head, its first checkpoint."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)
                           .execution_options(populate_existing=True)).scalar_one()
    handover = checkpoint(session, old_key, path, head.seq, head.hash, key_id(new_key))
    return handover, checkpoint(session, new_key, path, head.seq, head.hash)
