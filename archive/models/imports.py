"""Bulk imports (批量导入, issue 19): one run of a manifest, and the state of each of its rows.

A row is known by its import (one per manifest SHA-256) and its row number: a rerun of the
same manifest, after a crash or a kill, finds the rows already filed or skipped and files
only the rest. A row's state commits in the same transaction as the document it filed, so
it can never say "filed" for a document that is not there, nor the reverse.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.document import Document
from archive.models.org import User


class ImportState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # refused as a whole (a hostile ZIP, an unreadable manifest)

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "导入中", "done": "已完成", "failed": "失败"}[self]


class RowState(enum.StrEnum):
    FILED = "filed"
    SKIPPED = "skipped"  # the same file is already in the dossier
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {"filed": "已归档", "skipped": "已跳过（已归档）", "refused": "拒收"}[self]


# A row in one of these states is settled: a rerun leaves it alone. A refused row filed
# nothing, so a rerun (with the file or the manifest line put right) tries it again.
SETTLED = (RowState.FILED.value, RowState.SKIPPED.value)


class Import(db.Model):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # 'folder' | 'zip'
    source: Mapped[str] = mapped_column(String(500))  # the folder, or the ZIP's name
    state: Mapped[str] = mapped_column(String(10), default=ImportState.QUEUED.value, index=True)
    error: Mapped[str | None] = mapped_column(String(1000))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)  # rows settled or refused so far
    # While running on the task queue: who runs it, and until when it is presumed alive.
    worker: Mapped[str] = mapped_column(String(100), default="")
    lease_until: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]

    created_by: Mapped[User] = relationship()
    rows: Mapped[list["ImportRow"]] = relationship(back_populates="batch",
                                                   order_by="ImportRow.row_number")

    @property
    def state_enum(self) -> ImportState:
        return ImportState(self.state)

    def start(self, worker: str, lease_until: datetime | None, at: datetime) -> None:
        self.state, self.worker, self.lease_until = ImportState.RUNNING.value, worker, lease_until
        self.error, self.updated_at, self.finished_at = None, at, None

    def finish(self, at: datetime) -> None:
        self.state, self.lease_until, self.worker = ImportState.DONE.value, None, ""
        self.updated_at = self.finished_at = at

    def fail(self, reason: str, at: datetime) -> None:
        self.state, self.lease_until, self.worker = ImportState.FAILED.value, None, ""
        self.error = reason[:1000]
        self.updated_at = self.finished_at = at


class ImportRow(db.Model):
    __tablename__ = "import_rows"
    __table_args__ = (UniqueConstraint("import_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"), index=True)
    row_number: Mapped[int]  # as the manifest's reader counts it (the header is row 1)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500), default="")
    customer: Mapped[str] = mapped_column(String(200), default="")
    dossier_number: Mapped[str] = mapped_column(String(120), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)

    batch: Mapped[Import] = relationship(back_populates="rows")
    document: Mapped[Document | None] = relationship()

    @property
    def state_enum(self) -> RowState:
        return RowState(self.state)
