"""The append-only, hash-chained audit trail."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, object_session

from archive.clock import now
from archive.extensions import db
from archive.models.setting import utc_cutover


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(30), default="")
    object_id: Mapped[str] = mapped_column(String(60), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    # Random, hashed with the event and never shown: a reader from whom the details are
    # withheld cannot recover them by hashing guesses (dossier numbers follow a pattern).
    # Empty on events written before it existed; they hash as they always did.
    salt: Mapped[str] = mapped_column(String(32), default="", server_default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    @property
    def utc_at(self) -> datetime:
        """`at` in UTC. Events before the cut-over hold the server's local time and keep it:
        the chain hashes `at` as stored, so it is read, never rewritten (models/setting.py)."""
        return utc_cutover(object_session(self)).audit_time(self.seq, self.at)


class AuditHead(db.Model):
    """One row: the chain's last sequence number and hash. Writers lock it, so events
    are chained one at a time, and deleting the newest event is detectable."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(db.Model):
    """A chain head (seq, hash) signed with the audit key, which is kept outside the
    database (archive/services/audit_anchor.py, docs/audit.md). The same line is appended
    to an append-only file in the instance folder first; this row is its copy, which
    travels with the database into a backup."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=now)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(64))
    # Set on the hand-over a retiring key signs at a rotation: the id of the key that signs
    # from here on (the retiring key signs nothing after this seq).
    next_key_id: Mapped[str | None] = mapped_column(String(16), default=None)
