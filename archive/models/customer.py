"""Customers, their units, and the dossiers (一户一档) that hold their documents."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.enums import CASE_GROUP_NAME, GROUPS, DossierStatus, Level, Retention
from archive.models.org import Department, User


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # person | company
    id_number: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    # Two scales, as the seed classifies customers (004:23-25): 等级 by the intent to
    # cooperate (重要 / 普通 / 潜在), 规模 by its size (大 / 中 / 小, "" if not judged).
    grade: Mapped[str] = mapped_column(String(10), default="普通")
    scale: Mapped[str] = mapped_column(String(4), default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when this record was found to be the same person as another and merged into it
    # (issue 18): its dossiers moved there, the record stays for the history.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    department: Mapped[Department] = relationship()
    dossiers: Mapped[list["Dossier"]] = relationship(
        back_populates="customer", order_by="Dossier.number"
    )


class Unit(db.Model):
    """A property: project (苑), building (栋), unit (单元), room (000:812-814)."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("project", "building", "unit_no", "room"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(20))
    unit_no: Mapped[str] = mapped_column(String(20))
    room: Mapped[str] = mapped_column(String(20))

    @property
    def label(self) -> str:
        return f"{self.project} {self.building}栋 {self.unit_no}单元 {self.room}"


class Dossier(db.Model):
    """One dossier per customer and unit (000:736); a litigation case file is a dossier
    of kind `case` with no unit (000:824)."""

    __tablename__ = "dossiers"
    __table_args__ = (UniqueConstraint("customer_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="customer")  # customer | case
    title: Mapped[str] = mapped_column(String(200), default="")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The level declared for the dossier itself; what it shows a reader is the highest of
    # this and the levels of the documents that reader may see (access.shown_level).
    classification: Mapped[int] = mapped_column(default=int(Level.INTERNAL))
    retention: Mapped[str] = mapped_column(String(10), default=Retention.PERMANENT.value)
    location: Mapped[str] = mapped_column(String(200), default="")  # 保存地点 (000:832)
    status: Mapped[str] = mapped_column(String(20), default=DossierStatus.OPEN.value)
    closed_on: Mapped[date | None]  # 封卷日期: set when the dossier is closed
    case_closed_on: Mapped[date | None]  # 结案日期 of a case file
    compiled_by: Mapped[str] = mapped_column(String(60), default="")  # 立卷人
    checked_by: Mapped[str] = mapped_column(String(60), default="")  # 检查人
    remarks: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)  # 建档日期
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship(back_populates="dossiers")
    unit: Mapped[Unit | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    groups: Mapped[list["Group"]] = relationship(
        back_populates="dossier", order_by="Group.code", cascade="all, delete-orphan"
    )
    documents: Mapped[list["Document"]] = relationship(  # noqa: F821
        back_populates="dossier", order_by="Document.id", viewonly=True
    )

    def group(self, code: str) -> "Group":
        return next(g for g in self.groups if g.code == code)


class Group(db.Model):
    """One of the groups a–e of a dossier, with its never-reused sequence counter."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("dossier_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    code: Mapped[str] = mapped_column(String(1))
    last_seq: Mapped[int] = mapped_column(default=0)

    dossier: Mapped[Dossier] = relationship(back_populates="groups")
    documents: Mapped[list["Document"]] = relationship(  # noqa: F821
        back_populates="group", order_by="Document.seq", viewonly=True
    )

    @property
    def name(self) -> str:
        return GROUPS.get(self.code, CASE_GROUP_NAME)


class DossierReference(db.Model):
    """参照 between dossiers: automatic between one customer's dossiers (000:738), or
    manual, e.g. a judgment in a customer dossier pointing at the case file (000:824)."""

    __tablename__ = "dossier_references"
    __table_args__ = (UniqueConstraint("from_dossier_id", "to_dossier_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    to_dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # same_customer | case_file
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    from_dossier: Mapped[Dossier] = relationship(foreign_keys=[from_dossier_id])
    to_dossier: Mapped[Dossier] = relationship(foreign_keys=[to_dossier_id])
