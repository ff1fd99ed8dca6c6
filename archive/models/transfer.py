"""Custody and transfers (移交): who holds each document, the batches that hand documents
from a department to the archive room (or, for sales material, to 客户事务组, 000:750),
their two-sided receipts, the deadline rules, and staff handovers (离职/调岗交接, 003:21)."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.document import Document
from archive.models.org import Department, User


class Custody(enum.StrEnum):
    DEPARTMENT = "department"  # 部门保管：待移交
    ARCHIVE = "archive"  # 档案室

    @property
    def label(self) -> str:
        return {"department": "部门保管（待移交）", "archive": "档案室"}[self.value]


class Trigger(enum.StrEnum):
    """What a deadline counts from (a field, never a guess: unknown means no deadline)."""

    DOCUMENT_DATE = "document_date"  # e.g. the 认购书's date (000:750), a contract's (001:429)
    MOVE_IN = "move_in"  # the project's central move-in date, then quarterly (000:758-760)
    HALF_YEAR = "half_year"  # the end of the half-year it was filed in (000:766)
    CASE_CLOSED = "case_closed"  # the case file's 结案日期 (000:772)
    NEXT_MONTH_10TH = "next_month_10th"  # the 10th of the month after filing (003:39)

    @property
    def label(self) -> str:
        return {"document_date": "文件日期", "move_in": "集中入伙日期（其后按季度）",
                "half_year": "半年度末", "case_closed": "结案日期",
                "next_month_10th": "次月10日"}[self.value]


class TransferRule(db.Model):
    """One deadline rule: the categories it covers (first match by position), what it
    counts from, and how long after (working days and/or months)."""

    __tablename__ = "transfer_rules"

    key: Mapped[str] = mapped_column(String(30), primary_key=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    categories: Mapped[str] = mapped_column(String(200))  # "销售,签约" or "*"
    trigger: Mapped[str] = mapped_column(String(20))
    workdays: Mapped[int] = mapped_column(default=0)
    months: Mapped[int] = mapped_column(default=0)
    seed_ref: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def covers(self, category: str) -> bool:
        names = [c.strip() for c in self.categories.split(",")]
        return "*" in names or category in names


class BatchStatus(enum.StrEnum):
    DRAFT = "draft"  # 草稿: being prepared by the department
    SUBMITTED = "submitted"  # 待接收: the receipt is the approval step
    RECEIVED = "received"  # 已接收: every item reconciled
    PARTLY_RECEIVED = "partly_received"  # 部分接收: the rest went back as a new batch
    REFUSED = "refused"  # 退回: the receiver refused the whole batch
    WITHDRAWN = "withdrawn"  # 已撤回

    @property
    def label(self) -> str:
        return {"draft": "草稿", "submitted": "待接收", "received": "已接收",
                "partly_received": "部分接收", "refused": "已退回",
                "withdrawn": "已撤回"}[self.value]


OPEN_BATCHES = (BatchStatus.DRAFT.value, BatchStatus.SUBMITTED.value)


class TransferBatch(db.Model):
    """A 移交清单: items from one department's custody to the archive room (or another
    unit), prepared and signed by the sender, received and signed by the receiver."""

    __tablename__ = "transfer_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)  # YJ2026-0001
    from_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    # The receiving unit: the archive room (None), or a department such as 客户事务组.
    to_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.DRAFT.value, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    submitted_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None]
    receipt_note: Mapped[str] = mapped_column(Text, default="")
    # A batch sent back: the batch it came from and why.
    returned_from_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_batches.id"))
    return_reason: Mapped[str] = mapped_column(Text, default="")

    from_department: Mapped[Department] = relationship(foreign_keys=[from_department_id])
    to_department: Mapped[Department | None] = relationship(foreign_keys=[to_department_id])
    prepared_by: Mapped[User] = relationship(foreign_keys=[prepared_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    items: Mapped[list["TransferItem"]] = relationship(
        back_populates="batch", order_by="TransferItem.seq")

    @property
    def status_enum(self) -> BatchStatus:
        return BatchStatus(self.status)

    @property
    def receiver_name(self) -> str:
        return self.to_department.name if self.to_department else "档案室"


class ItemOutcome(enum.StrEnum):
    RECEIVED = "received"  # 已接收: count and pages reconcile
    SHORT = "short"  # 件数或页数不符
    MISSING = "missing"  # 缺失
    DAMAGED = "damaged"  # 破损

    @property
    def label(self) -> str:
        return {"received": "已接收", "short": "件数或页数不符", "missing": "缺失",
                "damaged": "破损"}[self.value]


class TransferItem(db.Model):
    __tablename__ = "transfer_items"
    __table_args__ = (UniqueConstraint("batch_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("transfer_batches.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    seq: Mapped[int]
    count: Mapped[int] = mapped_column(default=1)  # 份数 as listed by the sender
    pages: Mapped[int | None]  # 页数 as listed
    received_count: Mapped[int | None]
    received_pages: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")

    batch: Mapped[TransferBatch] = relationship(back_populates="items")
    document: Mapped[Document] = relationship()

    @property
    def outcome_enum(self) -> ItemOutcome | None:
        return ItemOutcome(self.outcome) if self.outcome else None


class Handover(db.Model):
    """离职/调岗交接 (003:21): a leaving or moving person hands everything they hold to a
    receiver, who signs; not complete while anything is outstanding."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))  # leave | move
    reason: Mapped[str] = mapped_column(Text, default="")
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=now)
    signed_at: Mapped[datetime | None]
    handed_json: Mapped[str] = mapped_column(Text, default="")  # what was handed, at signing

    person: Mapped[User] = relationship(foreign_keys=[person_id])
    receiver: Mapped[User] = relationship(foreign_keys=[receiver_id])
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])

    @property
    def open(self) -> bool:
        return self.signed_at is None

    @property
    def kind_label(self) -> str:
        return {"leave": "离职", "move": "调岗"}.get(self.kind, self.kind)
