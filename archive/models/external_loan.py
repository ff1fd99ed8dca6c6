"""External readers (公检法 and other units) and what their loans hold besides items.

An external reader has no account (000:844, 003:97): the archive room registers the
reader's particulars on the loan, files the scans of the credential and of the notice
or letter as files of the loan (the same content-addressed store and fixity as a
document's files), and records every stamped copy handed over, page by page.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.document import Document
from archive.models.loan import Loan
from archive.models.org import User


class ReaderKind(enum.StrEnum):
    POLICE = "police"  # 公检法: 协助调查通知书, the legal office approves (000:844)
    UNIT = "unit"  # 其他单位: 介绍信, the manager approves (003:97)

    @property
    def label(self) -> str:
        return {"police": "公检法", "unit": "外单位"}[self.value]

    @property
    def notice_label(self) -> str:
        return {"police": "协助调查通知书", "unit": "介绍信"}[self.value]


class LoanFilePurpose(enum.StrEnum):
    CREDENTIAL = "credential"  # 证件扫描件
    NOTICE = "notice"  # 协助调查通知书 / 介绍信 扫描件

    @property
    def label(self) -> str:
        return {"credential": "证件扫描件", "notice": "通知书/介绍信扫描件"}[self.value]


class ExternalReader(db.Model):
    """The reader of an external loan (one per loan)."""

    __tablename__ = "external_readers"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # ReaderKind
    unit: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100))
    credential_type: Mapped[str] = mapped_column(String(50))
    credential_number: Mapped[str] = mapped_column(String(60))
    notice_number: Mapped[str] = mapped_column(String(100))  # 通知书或介绍信编号
    phone: Mapped[str] = mapped_column(String(40), default="")

    loan: Mapped[Loan] = relationship(backref=db.backref("external_reader", uselist=False))

    @property
    def kind_enum(self) -> ReaderKind:
        return ReaderKind(self.kind)


class LoanFile(db.Model):
    """A scan filed with a loan: the blob's hash, verified on every read."""

    __tablename__ = "loan_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # LoanFilePurpose
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    original_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=now)

    loan: Mapped[Loan] = relationship(backref=db.backref("scans", order_by="LoanFile.id"))


class LoanCopy(db.Model):
    """A stamped copy handed to an external reader: which document, which pages."""

    __tablename__ = "loan_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    pages: Mapped[str] = mapped_column(Text)  # "1-3,5", as handed over
    page_count: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))  # of the stamped copy as delivered
    made_at: Mapped[datetime] = mapped_column(default=now)
    made_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    loan: Mapped[Loan] = relationship(backref=db.backref("handed_copies", order_by="LoanCopy.id"))
    document: Mapped[Document] = relationship()
    made_by: Mapped[User] = relationship()
