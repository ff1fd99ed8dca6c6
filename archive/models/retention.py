"""Retention (保管期限) and disposal: the schedule, legal holds, appraisal decisions,
destruction batches (《公司档案资料销毁审批表》) and the permanent destruction register
(销毁清册).

A document's disposal date (到期日) is computed from the schedule row of its category and
the event that row counts from (docs/retention.md). Nothing leaves the archive except
through a destruction batch approved on the engine and executed before two supervisors;
the register row of every destroyed item is written once and never changed (database
triggers refuse an UPDATE or DELETE, and each row's digest is on the audit hash chain).
"""

import enum
import json
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.customer import Customer, Dossier
from archive.models.document import Document
from archive.models.org import User
from archive.models.setting import utc_cutover


class CountsFrom(enum.StrEnum):
    """The event a retention period counts from: a field of the record, never the row's
    creation time (a peer system destroyed records early by counting from creation)."""

    DOCUMENT_DATE = "document_date"  # 文件日期
    FILED = "filed"  # 归档日期
    DOSSIER_CLOSED = "dossier_closed"  # 封卷日期
    CASE_CLOSED = "case_closed"  # 结案日期

    @property
    def label(self) -> str:
        return COUNTS_FROM_LABELS[self]


COUNTS_FROM_LABELS = {
    CountsFrom.DOCUMENT_DATE: "文件日期",
    CountsFrom.FILED: "归档日期",
    CountsFrom.DOSSIER_CLOSED: "封卷日期",
    CountsFrom.CASE_CLOSED: "结案日期",
}


class RetentionSource(enum.StrEnum):
    """Where a document's retention came from: only the schedule's followers move when the
    schedule changes; a retention chosen at filing or decided at appraisal stands."""

    SCHEDULE = "schedule"
    FILING = "filing"
    APPRAISAL = "appraisal"


class RetentionRule(db.Model):
    """The schedule row of a category: its period, and the event it counts from.

    `months` is None for 永久. `important_*` is the longer period a document marked 重要
    takes where the schedule names one (002:19: complaint records one year, important ones
    长期)."""

    __tablename__ = "retention_rules"

    category: Mapped[str] = mapped_column(String(10), primary_key=True)
    retention: Mapped[str] = mapped_column(String(10))  # 永久 | 长期 | 短期 | 1年 | 6个月
    months: Mapped[int | None]
    counts_from: Mapped[str] = mapped_column(String(20), default=CountsFrom.DOCUMENT_DATE.value)
    important_retention: Mapped[str | None] = mapped_column(String(10))
    important_months: Mapped[int | None]
    seed_ref: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    updated_by: Mapped[User | None] = relationship()


class LegalHold(db.Model):
    """冻结 / 诉讼保全 on a customer, a dossier or a document. Many holds may cover one item;
    it is free only when the last is lifted."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=now)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()
    document: Mapped[Document | None] = relationship()
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    @property
    def subject(self):
        return self.document or self.dossier or self.customer


class AppraisalDecision(enum.StrEnum):
    DESTROY = "destroy"  # 销毁
    EXTEND = "extend"  # 延期
    PERMANENT = "permanent"  # 改为永久
    CONFIRM = "confirm"  # 确认到期日 (a date counted from the filing date, or brought earlier)

    @property
    def label(self) -> str:
        return {"destroy": "销毁", "extend": "延长保管", "permanent": "改为永久保管",
                "confirm": "确认到期日"}[self.value]


class Appraisal(db.Model):
    """One appraisal decision on one document (鉴定意见), with who decided and why."""

    __tablename__ = "appraisals"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    decision: Mapped[str] = mapped_column(String(12))
    disposal_before: Mapped[date | None]
    disposal_after: Mapped[date | None]
    opinion: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=now)
    destruction_id: Mapped[int | None] = mapped_column(ForeignKey("destructions.id"))

    document: Mapped[Document] = relationship()
    decided_by: Mapped[User] = relationship()

    @property
    def decision_enum(self) -> AppraisalDecision:
        return AppraisalDecision(self.decision)


class DestructionStatus(enum.StrEnum):
    """pending → approved → executing → done; or rejected / withdrawn; or, approved, every
    item dropped before the run: emptied."""

    PENDING = "pending"
    APPROVED = "approved"
    EXECUTING = "executing"
    DONE = "done"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EMPTIED = "emptied"

    @property
    def label(self) -> str:
        return DESTRUCTION_STATUS_LABELS[self]


DESTRUCTION_STATUS_LABELS = {
    DestructionStatus.PENDING: "待审批",
    DestructionStatus.APPROVED: "已批准，待销毁",
    DestructionStatus.EXECUTING: "销毁中",
    DestructionStatus.DONE: "已销毁",
    DestructionStatus.REJECTED: "已驳回",
    DestructionStatus.WITHDRAWN: "已撤回",
    DestructionStatus.EMPTIED: "文件均已撤出，未销毁",
}


class ItemState(enum.StrEnum):
    LISTED = "listed"  # 待销毁
    PURGING = "purging"  # 待清除: the tombstone is committed, bytes and index not yet purged
    DESTROYED = "destroyed"  # 已销毁
    EXCLUDED = "excluded"  # 已撤出 (held or found on loan after approval)

    @property
    def label(self) -> str:
        return {"listed": "待销毁", "purging": "待清除", "destroyed": "已销毁",
                "excluded": "已撤出"}[self.value]


class Destruction(db.Model):
    """A destruction batch: the 《公司档案资料销毁审批表》 (002:944) and its execution."""

    __tablename__ = "destructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)  # XH2026-0001
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=DestructionStatus.PENDING.value,
                                        index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    # The two supervisors (监销人) the approver designates (002:946).
    supervisor1_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    supervisor2_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    executed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Paper originals: how and where they were destroyed.
    paper_method: Mapped[str] = mapped_column(String(100), default="")
    paper_place: Mapped[str] = mapped_column(String(200), default="")

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    supervisor1: Mapped[User | None] = relationship(foreign_keys=[supervisor1_id])
    supervisor2: Mapped[User | None] = relationship(foreign_keys=[supervisor2_id])
    executed_by: Mapped[User | None] = relationship(foreign_keys=[executed_by_id])
    items: Mapped[list["DestructionItem"]] = relationship(
        back_populates="destruction", order_by="DestructionItem.seq")

    @property
    def status_enum(self) -> DestructionStatus:
        return DestructionStatus(self.status)

    @property
    def supervisors(self) -> list[User]:
        return [u for u in (self.supervisor1, self.supervisor2) if u is not None]


class DestructionItem(db.Model):
    """One document of a batch, with the 清册's fields as they were when it was listed."""

    __tablename__ = "destruction_items"
    __table_args__ = (UniqueConstraint("destruction_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destruction_id: Mapped[int] = mapped_column(ForeignKey("destructions.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    seq: Mapped[int]  # 序号
    state: Mapped[str] = mapped_column(String(12), default=ItemState.LISTED.value)
    note: Mapped[str] = mapped_column(Text, default="")  # why excluded
    destroyed_at: Mapped[datetime | None]

    destruction: Mapped[Destruction] = relationship(back_populates="items")
    document: Mapped[Document] = relationship()

    @property
    def state_enum(self) -> ItemState:
        return ItemState(self.state)


class RegisterEntry(db.Model):
    """One row of the 销毁清册, written when the item's tombstone is committed and never
    changed (triggers refuse UPDATE and DELETE). `digest` is the SHA-256 of the row's
    canonical fields; the audit event `destruction.registered` carries it on the hash
    chain, so a changed row no longer matches its event."""

    __tablename__ = "destruction_register"

    id: Mapped[int] = mapped_column(primary_key=True)
    destruction_id: Mapped[int] = mapped_column(ForeignKey("destructions.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    batch_number: Mapped[str] = mapped_column(String(30))
    seq: Mapped[int]  # 序号
    archival_code: Mapped[str] = mapped_column(String(160))  # 档号
    title: Mapped[str] = mapped_column(String(300))  # 题名
    originator: Mapped[str] = mapped_column(String(100))  # 责任者
    formed: Mapped[str] = mapped_column(String(20))  # 年度/形成时间
    retention: Mapped[str] = mapped_column(String(10))  # 应保管期限
    kept_for: Mapped[str] = mapped_column(String(30))  # 已保管期限
    pages: Mapped[int | None]  # 页数
    classification: Mapped[int]  # 密级
    carrier: Mapped[str] = mapped_column(String(10))
    remarks: Mapped[str] = mapped_column(Text)  # 备注
    files_json: Mapped[str] = mapped_column(Text)  # [{name, sha256, size}]
    approved_by: Mapped[str] = mapped_column(String(100))
    supervisors: Mapped[str] = mapped_column(String(200))
    executed_by: Mapped[str] = mapped_column(String(100))
    destroyed_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))

    @property
    def utc_destroyed_at(self) -> datetime:
        """`destroyed_at` in UTC: a row written before the cut-over keeps the server's
        local time, since its digest covers the time as stored (models/setting.py)."""
        return utc_cutover(object_session(self)).register_time(self.id, self.destroyed_at)

    @property
    def files(self) -> list[dict]:
        return json.loads(self.files_json)
