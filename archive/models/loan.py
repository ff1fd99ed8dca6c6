"""Loans (借阅): what is lent, to whom, for what, until when, and what came back.

A loan is requested, approved on the approval engine (its route chosen by the rules of
services/loans.py from the kinds of route the migration seeds), checked out at the
counter with item and page counts, and checked in the same way (003:105). Renewal is a
new registration on the same route (002:908). Every consultation is a loan, reading in
the archive room included (000:842).
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.customer import Dossier
from archive.models.document import Document
from archive.models.org import User


class LoanKind(enum.StrEnum):
    READ = "read"  # 阅览: read in the archive room
    OUT = "out"  # 借出: the paper original leaves the room
    COPY = "copy"  # 复制
    ELECTRONIC = "electronic"  # 电子: the files, on screen, until the due time

    @property
    def label(self) -> str:
        return {"read": "阅览", "out": "借出", "copy": "复制", "electronic": "电子"}[self.value]


class LoanStatus(enum.StrEnum):
    REQUESTED = "requested"  # 待审批
    APPROVED = "approved"  # 已批准: waits at the counter (electronic: open until due)
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # the request was not decided in time
    OUT = "out"  # 借出: checked out at the counter
    RETURNED = "returned"  # 已归还

    @property
    def label(self) -> str:
        return {"requested": "待审批", "approved": "已批准", "rejected": "已驳回",
                "withdrawn": "已撤回", "expired": "已过期", "out": "借出",
                "returned": "已归还"}[self.value]


class Loan(db.Model):
    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 借阅编号, from the id once the row has one (JY2026-00042)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    # The borrower: a user, or (external readers) nobody, with the reader's particulars.
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=LoanStatus.REQUESTED.value,
                                        index=True)
    # Registered by the officer without an approval step (002:869: GM, deputy GM, heads).
    direct: Mapped[bool] = mapped_column(default=False)
    may_download: Mapped[bool] = mapped_column(default=False)  # electronic loans only
    level: Mapped[int]  # the highest access level among the items when asked
    due_at: Mapped[datetime]
    renewal_of_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    approved_at: Mapped[datetime | None]
    # The counter (003:105): counts out and back, who and when, condition, effect of use.
    out_at: Mapped[datetime | None]
    out_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    items_out: Mapped[int | None]
    pages_out: Mapped[int | None]
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    items_back: Mapped[int | None]
    pages_back: Mapped[int | None]
    condition: Mapped[str] = mapped_column(String(200), default="")
    effect: Mapped[str] = mapped_column(String(500), default="")  # 利用效果
    remarks: Mapped[str] = mapped_column(Text, default="")

    dossier: Mapped[Dossier] = relationship()
    borrower: Mapped[User | None] = relationship(foreign_keys=[borrower_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    out_by: Mapped[User | None] = relationship(foreign_keys=[out_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])
    items: Mapped[list["LoanItem"]] = relationship(
        back_populates="loan", order_by="LoanItem.id", cascade="all, delete-orphan")
    reports: Mapped[list["LossReport"]] = relationship(
        back_populates="loan", order_by="LossReport.id")

    @property
    def kind_enum(self) -> LoanKind:
        return LoanKind(self.kind)

    @property
    def status_enum(self) -> LoanStatus:
        return LoanStatus(self.status)

    def overdue(self, moment: datetime) -> bool:
        """Out past its due time (003:103: a violation), read against the clock."""
        return self.status == LoanStatus.OUT.value and moment > self.due_at

    def open_electronically(self, moment: datetime) -> bool:
        """An approved electronic loan opens its items until the due time, then stops by
        itself (no job: the check is the clock)."""
        return (self.kind == LoanKind.ELECTRONIC.value
                and self.status == LoanStatus.APPROVED.value and moment <= self.due_at)


class LoanItem(db.Model):
    """One document lent (a whole dossier or a group is lent as its documents)."""

    __tablename__ = "loan_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)

    loan: Mapped[Loan] = relationship(back_populates="items")
    document: Mapped[Document] = relationship()


class LossReport(db.Model):
    """遗失/损毁: opened when counts differ on return, closed by the officer with a note."""

    __tablename__ = "loss_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    what: Mapped[str] = mapped_column(String(10))  # lost | damaged
    count: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    noticed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(String(20), default="")  # found | written_off
    closing_note: Mapped[str] = mapped_column(Text, default="")

    loan: Mapped[Loan] = relationship(back_populates="reports")
    noticed_by: Mapped[User] = relationship(foreign_keys=[noticed_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
