"""Approvals as data: routes (who decides what, in which order, and the seed line that
says so), requests and their steps. Every row is kept forever: it is the history.

A request copies its route's steps when it is filed, so a later change of the route
never alters a request already in flight. Steps of one stage may be decided in any
order; the next stage opens when every step of the current one is approved.
"""

import enum
import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.customer import Customer, Dossier
from archive.models.document import Document
from archive.models.loan import Loan
from archive.models.org import User
from archive.models.retention import Destruction
from archive.models.transfer import TransferBatch


class ApprovalKind(enum.StrEnum):
    """What is asked for; each kind has one route and one effect handler."""

    LEVEL_RAISE = "level_raise"  # 提高密级 (000:742)
    LEVEL_LOWER = "level_lower"  # 降低密级 / 解密 (000:742)
    CROSS_DEPARTMENT = "cross_department"  # 查阅非本部门客户档案 (002:67)
    TOP_SECRET_COPY = "top_secret_copy"  # 复制绝密文件 (002:45-47)
    ROUTE_CHANGE = "route_change"  # 变更审批路线
    # Loans (借阅): the loan's route is chosen by services/loans.py from these.
    LOAN_READ = "loan_read"  # 阅览本部门档案 (003:95)
    LOAN_OUT = "loan_out"  # 借出、复制 (002:942, 000:842)
    LOAN_SECRET = "loan_secret"  # 秘密
    LOAN_CONFIDENTIAL = "loan_confidential"  # 机密
    LOAN_TOP_SECRET = "loan_top_secret"  # 绝密 (002:43)
    LOAN_OTHER_DEPARTMENT = "loan_other_department"  # added for another department (002:67)
    LOAN_EXTERNAL_POLICE = "loan_external_police"  # 公检法 (000:844)
    LOAN_EXTERNAL_UNIT = "loan_external_unit"  # 其他单位 (003:97)
    DESTRUCTION = "destruction"  # 销毁 (002:944-946)
    TRANSFER_RECEIPT = "transfer_receipt"  # 移交接收 (000:746-806, 003:39)

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    ApprovalKind.LEVEL_RAISE: "提高密级",
    ApprovalKind.LEVEL_LOWER: "降低密级",
    ApprovalKind.CROSS_DEPARTMENT: "查阅非本部门客户档案",
    ApprovalKind.TOP_SECRET_COPY: "复制绝密文件",
    ApprovalKind.ROUTE_CHANGE: "变更审批路线",
    ApprovalKind.LOAN_READ: "借阅（阅览本部门档案）",
    ApprovalKind.LOAN_OUT: "借阅（借出、复制）",
    ApprovalKind.LOAN_SECRET: "借阅秘密档案",
    ApprovalKind.LOAN_CONFIDENTIAL: "借阅机密档案",
    ApprovalKind.LOAN_TOP_SECRET: "借阅绝密档案",
    ApprovalKind.LOAN_OTHER_DEPARTMENT: "借阅非本部门客户档案",
    ApprovalKind.LOAN_EXTERNAL_POLICE: "公检法查阅",
    ApprovalKind.LOAN_EXTERNAL_UNIT: "外单位查阅",
    ApprovalKind.DESTRUCTION: "档案销毁",
    ApprovalKind.TRANSFER_RECEIPT: "移交接收",
}
LOAN_KINDS = tuple(k for k in ApprovalKind if k.value.startswith("loan_"))


class Approver(enum.StrEnum):
    """Who may decide a step: a role and a scope."""

    CUSTOMER_DEPT_HEAD = "customer_dept_head"
    REQUESTER_DEPT_HEAD = "requester_dept_head"
    GM_OFFICE = "gm_office"
    GM_OFFICE_DIRECTOR = "gm_office_director"
    LEGAL = "legal"
    GM = "gm"
    # 总经理、分管副总经理或总经理办公室主任 (002:946): any one of them.
    GM_OR_DIRECTOR = "gm_or_director"
    # The receiving unit of a transfer batch: the archive room, or the department named.
    TRANSFER_RECEIVER = "transfer_receiver"

    @property
    def label(self) -> str:
        return APPROVER_LABELS[self]


APPROVER_LABELS = {
    Approver.CUSTOMER_DEPT_HEAD: "客户所属部门负责人",
    Approver.REQUESTER_DEPT_HEAD: "申请人所在部门负责人",
    Approver.GM_OFFICE: "总经理办公室",
    Approver.GM_OFFICE_DIRECTOR: "总经理办公室主任",
    Approver.LEGAL: "法律室",
    Approver.GM: "总经理或副总经理",
    Approver.GM_OR_DIRECTOR: "总经理、副总经理或总经理办公室主任",
    Approver.TRANSFER_RECEIVER: "接收单位",
}


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    RequestStatus.PENDING: "待审批",
    RequestStatus.APPROVED: "已批准",
    RequestStatus.REJECTED: "已驳回",
    RequestStatus.WITHDRAWN: "已撤回",
    RequestStatus.EXPIRED: "已过期",
}


class Decision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalRoute(db.Model):
    """One version of the route for a kind. Changing a route adds a version (through a
    request the GM approves) and retires the old one; the old rows stay."""

    __tablename__ = "approval_routes"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(100))
    seed_ref: Mapped[str] = mapped_column(String(200))  # e.g. "000:742"
    # A request not decided within this many hours expires (None: no limit).
    time_limit_hours: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    steps: Mapped[list["RouteStep"]] = relationship(
        order_by="(RouteStep.stage, RouteStep.id)", cascade="all, delete-orphan")

    @property
    def kind_enum(self) -> ApprovalKind:
        return ApprovalKind(self.kind)


class RouteStep(db.Model):
    __tablename__ = "approval_route_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("approval_routes.id"), index=True)
    stage: Mapped[int]
    approver: Mapped[str] = mapped_column(String(30))

    @property
    def approver_enum(self) -> Approver:
        return Approver(self.approver)


class ApprovalRequest(db.Model):
    """Somebody asks; named people decide; only then something happens.

    status: pending -> approved | rejected | withdrawn | expired. A pending request past
    `expires_at` is expired when read against the clock (`state`), and is written so by
    the engine the next time it meets it.
    """

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("approval_routes.id"))
    # The subject: at most one of these is set (a cross-department request names its
    # customer only as typed text in the payload, resolved for the GM alone).
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    subject_route_id: Mapped[int | None] = mapped_column(ForeignKey("approval_routes.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), index=True)
    destruction_id: Mapped[int | None] = mapped_column(ForeignKey("destructions.id"),
                                                       index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_batches.id"),
                                                    index=True)
    # The subject's level when the request was filed: a request whose subject moved since
    # is refused (the approvers judged something else).
    subject_level: Mapped[int | None]
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.PENDING.value,
                                        index=True)
    payload_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    route: Mapped[ApprovalRoute] = relationship(foreign_keys=[route_id])
    subject_route: Mapped[ApprovalRoute | None] = relationship(foreign_keys=[subject_route_id])
    document: Mapped[Document | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    loan: Mapped[Loan | None] = relationship()
    destruction: Mapped[Destruction | None] = relationship()
    transfer: Mapped[TransferBatch | None] = relationship()
    requested_by: Mapped[User] = relationship()
    steps: Mapped[list["ApprovalStep"]] = relationship(
        back_populates="request", order_by="(ApprovalStep.stage, ApprovalStep.id)")

    @property
    def payload(self) -> dict:
        return json.loads(self.payload_json or "{}")

    @payload.setter
    def payload(self, value: dict) -> None:
        self.payload_json = json.dumps(value, ensure_ascii=False, sort_keys=True)

    @property
    def kind_enum(self) -> ApprovalKind:
        return ApprovalKind(self.kind)

    @property
    def subject(self):
        """The document, dossier, customer, route, loan or destruction batch asked about
        (None: typed text only)."""
        for value in (self.document, self.dossier, self.customer, self.subject_route,
                      self.loan, self.destruction, self.transfer):
            if value is not None:
                return value
        return None

    def state(self, moment: datetime) -> RequestStatus:
        """The status read against the clock: a pending request past its limit is expired."""
        status = RequestStatus(self.status)
        if status is RequestStatus.PENDING and self.expires_at is not None \
                and moment > self.expires_at:
            return RequestStatus.EXPIRED
        return status

    @property
    def applicant(self) -> User:
        """Whose request it is: a loan's borrower (an officer may file for them), else the
        requester. "The head of the requester's department" is this person's."""
        if self.loan is not None and self.loan.borrower is not None:
            return self.loan.borrower
        return self.requested_by

    @property
    def open_stage(self) -> int | None:
        """The stage being decided: the first with an undecided step (None when none)."""
        stages = [s.stage for s in self.steps if s.decision is None]
        return min(stages) if stages else None

    # Level changes keep their vocabulary (the /classification routes and API).
    @property
    def from_level(self) -> int | None:
        return self.payload.get("from_level")

    @property
    def to_level(self) -> int | None:
        return self.payload.get("to_level")

    @property
    def raising(self) -> bool:
        return self.kind == ApprovalKind.LEVEL_RAISE.value

    @property
    def target(self):
        return self.subject


class ApprovalStep(db.Model):
    """One decision a request needs, and — once given — who gave it, when, and why."""

    __tablename__ = "approval_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    stage: Mapped[int]
    approver: Mapped[str] = mapped_column(String(30))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]

    request: Mapped[ApprovalRequest] = relationship(back_populates="steps")
    decided_by: Mapped[User | None] = relationship()

    @property
    def approver_enum(self) -> Approver:
        return Approver(self.approver)
