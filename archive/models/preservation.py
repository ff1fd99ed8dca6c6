"""四性检测 (DA/T 70-2018): what the checks found, kept as a record.

A check's result (`PreservationCheck`) belongs to a file or a document (at filing, at a
transfer receipt) or to a storage run (`PreservationRun`, `flask check-archive` and the
queue's nightly job). Both tables are append-only: a later check adds rows, it never
rewrites what an earlier one found (the dashboard reads the newest run).
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db


class Outcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    NOT_RUN = "not_run"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {Outcome.PASS: "通过", Outcome.FAIL: "未通过",
                  Outcome.NOT_APPLICABLE: "不适用", Outcome.NOT_RUN: "未检测"}


class PreservationRun(db.Model):
    """One storage check of the whole archive, written once when it ends."""

    __tablename__ = "preservation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime] = mapped_column(default=now)
    trigger: Mapped[str] = mapped_column(String(10))  # cli | queue
    outcome: Mapped[str] = mapped_column(String(16))  # pass | fail
    failures: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")

    checks: Mapped[list["PreservationCheck"]] = relationship(
        back_populates="run", order_by="PreservationCheck.id", viewonly=True)


class PreservationCheck(db.Model):
    """One check item's result for one file, document or storage run."""

    __tablename__ = "preservation_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    # filing | transfer | storage
    stage: Mapped[str] = mapped_column(String(10))
    # The transfer batch whose receipt ran it (stage transfer).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_batches.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("preservation_runs.id"), index=True)
    # What was checked, without a foreign key: a record outlives what it names (as audit
    # events do; documents are never deleted, but a record must not stop anything).
    document_id: Mapped[int | None] = mapped_column(index=True)
    file_id: Mapped[int | None] = mapped_column(index=True)
    item: Mapped[str] = mapped_column(String(20))  # preservation.ITEMS
    outcome: Mapped[str] = mapped_column(String(16))
    # What was checked, when the row is not a file's or a document's (a blob, a group).
    subject: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    checked_at: Mapped[datetime] = mapped_column(default=now)

    run: Mapped[PreservationRun | None] = relationship(back_populates="checks")

    @property
    def outcome_enum(self) -> Outcome:
        return Outcome(self.outcome)


def _refuse_change(_mapper, _connection, target) -> None:
    raise ValueError(f"{type(target).__name__} rows are a record: never changed or deleted")


for _model in (PreservationRun, PreservationCheck):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
