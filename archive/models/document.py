"""Documents (文件) filed in a dossier group, and the files (bytes) they hold."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.customer import Dossier, Group
from archive.models.enums import DocumentStatus, Level
from archive.models.org import Department, User


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("group_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    seq: Mapped[int]  # 顺序号 within the group, never reused
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(10))
    carrier: Mapped[str] = mapped_column(String(10))
    doc_date: Mapped[date | None]
    pages: Mapped[int | None]
    classification: Mapped[int] = mapped_column(default=int(Level.INTERNAL))
    retention: Mapped[str] = mapped_column(String(10))
    # The disposal schedule's view of the document (services/retention.py): the period in
    # months (None: 永久), where it came from, the date it counts from and the disposal
    # date (到期日, None: never). `disposal_unconfirmed` lists it for the officer: its rule's
    # date was missing (counted from the filing date), or the schedule would bring the
    # date shown earlier (`disposal_proposed_on`).
    important: Mapped[bool] = mapped_column(default=False)  # 重要
    retention_months: Mapped[int | None]
    retention_source: Mapped[str] = mapped_column(String(10), default="schedule")
    disposal_basis: Mapped[str | None] = mapped_column(String(20))
    disposal_on: Mapped[date | None] = mapped_column(index=True)
    disposal_unconfirmed: Mapped[bool] = mapped_column(default=False)
    disposal_proposed_on: Mapped[date | None]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # Custody (issue 19): the archive room's, or a department's until a transfer batch is
    # received (部门保管 · 待移交), with the person who holds it there and the deadline.
    custody: Mapped[str] = mapped_column(String(12), default="archive", index=True)
    custody_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    custody_holder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    transfer_rule: Mapped[str | None] = mapped_column(String(30))
    transfer_due_on: Mapped[date | None]
    originator: Mapped[str] = mapped_column(String(100), default="")
    document_number: Mapped[str] = mapped_column(String(100), default="")  # 文号
    remarks: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.ACTIVE.value)
    # Set when the search index could not take the document; cleared by the next
    # successful write or by `flask reindex`.
    needs_index: Mapped[bool] = mapped_column(default=False, index=True)
    # Counted up by every change that flags the document (`flag_for_index`): an index
    # write clears the flag only where it is still the generation it read (indexing).
    index_gen: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    dossier: Mapped[Dossier] = relationship(back_populates="documents")
    group: Mapped[Group] = relationship(back_populates="documents")
    department: Mapped[Department] = relationship(foreign_keys=[department_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    custody_department: Mapped[Department | None] = relationship(
        foreign_keys=[custody_department_id])
    custody_holder: Mapped[User | None] = relationship(foreign_keys=[custody_holder_id])
    files: Mapped[list["StoredFile"]] = relationship(
        back_populates="document", order_by="StoredFile.id"
    )

    @property
    def level(self) -> Level:
        return Level(self.classification)

    @property
    def access_level(self) -> Level:
        """The level the document is protected at: its own, or its dossier's if higher.
        A dossier's level is a floor for everything in it, so a reader who may not open
        the dossier does not open its documents either (issue 14, finding 15)."""
        return Level(max(self.classification, self.dossier.classification))

    @property
    def text_problems(self) -> list["StoredFile"]:
        return [f for f in self.files if f.text_status == "failed"]

    @property
    def without_text_layer(self) -> list["StoredFile"]:
        """Files read whole that hold no text (scans): kept, but not found by their words."""
        return [f for f in self.files if f.text_status == "empty"]

    def flag_for_index(self) -> None:
        """Flag the document for the index in the caller's unit (see `index_gen`)."""
        self.needs_index = True
        self.index_gen = type(self).index_gen + 1


class StoredFile(db.Model):
    """One file of a document: the blob's hash and what was read from it."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    original_name: Mapped[str] = mapped_column(String(255))
    pages: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text, default="")
    text_status: Mapped[str] = mapped_column(String(10))
    text_error: Mapped[str | None] = mapped_column(String(500))
    # A PDF's pages without text among pages with text (scans, read by OCR), counted at
    # filing; None when not known (filed before, or not a PDF): `ocr --pending` counts.
    textless_pages: Mapped[int | None]
    # 'ocr' when the text was read from the page images by the OCR job (services/jobs.py),
    # with the engine's mean confidence; '' for text the file itself holds.
    text_source: Mapped[str] = mapped_column(String(10), default="")
    ocr_confidence: Mapped[float | None]
    # A DOCX's access copy (services/conversion.py): a PDF LibreOffice made from it, a blob
    # of its own that counts as referenced like `sha256` (kept, verified, purged with the
    # document); its state queued / ok / failed (None: not a DOCX, or filed before access
    # copies existed) and, when failed, the reason in Chinese. The DOCX is never changed.
    access_copy_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    access_copy_status: Mapped[str | None] = mapped_column(String(10))
    access_copy_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=now)

    document: Mapped[Document] = relationship(back_populates="files")


class UploadKey(db.Model):
    """An idempotency key a client sent with an upload, and the document it filed.

    Written in the filing transaction: a retry after a dropped connection finds the
    first document instead of filing a duplicate (and a crash before the commit leaves
    neither, so the retry files it)."""

    __tablename__ = "upload_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    # What the request asked for (dossier, fields, files' SHA-256): the same key with
    # another request is refused rather than answered with the wrong document.
    fingerprint: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    document: Mapped[Document] = relationship()

