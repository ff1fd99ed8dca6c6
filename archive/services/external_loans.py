"""External readers (公检法 and other units): registered by the archive room, never given an
account (000:844, 003:97).

Rules (seed lines in docs/loans.md):
- the officer registers the reader's particulars (unit, name, credential type and number,
  the number of the 协助调查通知书 or 介绍信) and files scans of the credential and of the
  notice or letter as files of the loan: the documents' content-addressed store, the
  same file inspection (PDF, JPEG, PNG, TIFF only) and fixity (verified on every read);
- without both scans nothing is registered and nothing is stored;
- the reader reads in the archive room (阅览); 公检法 are approved by the legal office
  (000:844), other units by the manager (003:97), on the routes the loans migration seeds;
- 绝密 is never shown to an external reader (only the GM's designated readers see it,
  002:43), and the officer registers only what the officer may read;
- copies handed over under the same approval are stamped on every page
  「与原件核对无异 · 原件存于档案室」 with the loan number, and registered page by page.
"""

import hashlib
import io
from dataclasses import dataclass

from sqlalchemy import select

from archive.clock import local, now
from archive.models import Document, Dossier, Level, Loan, LoanItem, User
from archive.models.approval import ApprovalKind
from archive.models.external_loan import (
    ExternalReader,
    LoanCopy,
    LoanFile,
    LoanFilePurpose,
    ReaderKind,
)
from archive.models.loan import LoanKind, LoanStatus
from archive.services import (
    access,
    approvals,
    audit,
    filetypes,
    filing,
    loans,
    stamping,
    validation,
    work,
)
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound, UnsupportedType
from archive.services.storage import LocalBlobStore

ROUTES = {ReaderKind.POLICE: ApprovalKind.LOAN_EXTERNAL_POLICE,
          ReaderKind.UNIT: ApprovalKind.LOAN_EXTERNAL_UNIT}
SCAN_KINDS = ("pdf", "jpeg", "png", "tiff")
# Loans under which the reader is reading (approved, or checked out at the counter).
READING = (LoanStatus.APPROVED.value, LoanStatus.OUT.value)
MAX_COPY_PAGES = 500


# ---- registering ---------------------------------------------------------------------


def register_external(session, officer: User, data: dict, scans: dict[str, filing.Upload], *,
                      store: LocalBlobStore, limits: filing.Limits) -> Loan:
    """Register an external reader's loan (阅览) and file it on the reader kind's route.

    `data`: reader_kind (police | unit), unit, name, credential_type, credential_number,
    notice_number, phone (optional), dossier_id (or dossier_number, the 档号), group or
    document_ids, purpose, due or days. `scans`: "credential" and "notice" uploads, both required. Every check runs
    before anything is written; the scans' blobs are removed again if the unit rolls
    back."""
    access.require(officer, "loan.counter")
    kind = _reader_kind(data)
    reader = ExternalReader(
        kind=kind.value,
        unit=validation.text(data, "unit", "单位名称", required=True, max_len=200),
        name=validation.text(data, "name", "查阅人姓名", required=True, max_len=100),
        credential_type=validation.text(data, "credential_type", "证件类型", required=True,
                                        max_len=50),
        credential_number=validation.text(data, "credential_number", "证件号码",
                                          required=True, max_len=60),
        notice_number=validation.text(data, "notice_number", f"{kind.notice_label}编号",
                                      required=True, max_len=100),
        phone=validation.text(data, "phone", "联系电话", max_len=40))
    dossier = loans._dossier(session, officer, _dossier_id(session, data))
    items = loans._items(session, officer, dossier, data)
    _check_items(officer, items)
    purpose = validation.text(data, "purpose", "查阅事由", required=True, max_len=500)
    level = max(d.access_level for d in items)
    due = loans._due(session, data, level, now())
    checked = _inspect_scans(kind, scans, limits)

    loan = Loan(kind=LoanKind.READ.value, dossier_id=dossier.id, borrower_id=None,
                requested_by_id=officer.id, purpose=purpose, level=level, due_at=due,
                created_at=now(), status=LoanStatus.REQUESTED.value)
    loan.items = [LoanItem(document_id=d.id) for d in items]
    session.add(loan)
    session.flush()  # takes the write lock before the blobs are stored (as filing does)
    loan.number = f"JY{local(loan.created_at):%Y}-{loan.id:05d}"
    reader.loan_id = loan.id
    session.add(reader)
    _store_scans(session, loan, checked, store)
    audit.record(session, officer, "loan.requested", loan, number=loan.number,
                 kind=loan.kind, dossier=dossier.id, items=len(items), due=due.isoformat(),
                 external=kind.value, unit=reader.unit, reader=reader.name,
                 notice=reader.notice_number,
                 scans=[{"purpose": f.purpose, "sha256": f.sha256} for f in loan.scans])
    approvals.file(session, officer, ROUTES[kind], reason=purpose, subject=loan,
                   subject_level=level,
                   payload={"loan": loan.number, "due": due.isoformat(), "external": kind.value})
    session.flush()
    return loan


def _dossier_id(session, data: dict):
    """dossier_id, or the dossier's number (档号) as the officer types it from the file."""
    number = str(data.get("dossier_number") or "").strip()
    if data.get("dossier_id") or not number:
        return data.get("dossier_id")
    found = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar()
    if found is None:
        raise Invalid(f"没有档号为 {number} 的档案", details={"field": "dossier_number"})
    return found


def _reader_kind(data: dict) -> ReaderKind:
    try:
        return ReaderKind(str(data.get("reader_kind") or "").strip())
    except ValueError:
        raise Invalid("查阅单位类别只能是 police（公检法）或 unit（其他单位）",
                      details={"field": "reader_kind"}) from None


def _check_items(officer: User, items: list[Document]) -> None:
    for document in items:
        if document.access_level >= Level.TOP_SECRET:
            raise Forbidden(f"《{document.title}》为绝密文件，不向外单位人员提供查阅")
        if not access.may_read(officer, document):
            raise Forbidden(f"您无权办理《{document.title}》的查阅：超出本人密级或范围")


@dataclass
class _Scan:
    purpose: LoanFilePurpose
    name: str
    data: bytes
    ftype: filetypes.FileType


def _inspect_scans(kind: ReaderKind, scans: dict[str, filing.Upload], limits: filing.Limits) -> list[_Scan]:
    """Both scans, inspected as filing inspects a document's files; only PDF and images."""
    missing = {LoanFilePurpose.CREDENTIAL: "查阅人证件扫描件",
               LoanFilePurpose.NOTICE: f"{kind.notice_label}扫描件"}
    checked = []
    for purpose, label in missing.items():
        upload = scans.get(purpose.value)
        if upload is None or (not upload.filename and not upload.data):
            raise Invalid(f"请上传{label}：未附扫描件不予登记", code="missing_scan",
                          details={"field": f"{purpose.value}_scan"})
        name = filetypes.safe_filename(upload.filename)
        ftype = filetypes.inspect(upload.data, name, max_bytes=limits.max_bytes,
                                  max_docx_uncompressed=limits.max_docx_uncompressed)
        if ftype.kind not in SCAN_KINDS:
            raise UnsupportedType(f"{label}只接受 PDF、JPEG、PNG 或 TIFF 文件，《{name}》不是",
                                  code="unsupported_scan",
                                  details={"field": f"{purpose.value}_scan"})
        checked.append(_Scan(purpose, name, upload.data, ftype))
    return checked


def _store_scans(session, loan: Loan, checked: list[_Scan], store: LocalBlobStore) -> None:
    created: list[str] = []
    work.after_rollback(session, lambda: filing._discard_unreferenced(session, store, created))
    for scan in checked:
        digest, new = store.put(scan.data)
        if new:
            created.append(digest)
        session.add(LoanFile(loan_id=loan.id, purpose=scan.purpose.value, sha256=digest,
                             size=len(scan.data), mime=scan.ftype.mime, kind=scan.ftype.kind,
                             original_name=scan.name, created_at=now()))
    session.flush()


def read_scan(session, user: User, loan_id, scan_id, *, store: LocalBlobStore
              ) -> tuple[LoanFile, bytes]:
    """The verified bytes of a scan filed with a loan, for whoever may see the loan (the
    deciders read the notice before deciding). Audited; a blob that no longer matches its
    hash is never served, and the failure is on the record."""
    loan = loans.get(session, user, loan_id)
    scan = next((f for f in loan.scans if f.id == validation.row_id(scan_id)), None)
    if scan is None:
        raise NotFound("扫描件不存在")
    try:
        data = store.get(scan.sha256)
    except Exception as exc:
        work.record_refusal(session, user, "loan.scan_viewed", loan, outcome="error",
                            number=loan.number, file=scan.id, error=str(exc))
        raise
    audit.record(session, user, "loan.scan_viewed", loan, number=loan.number, file=scan.id,
                 purpose=scan.purpose, sha256=scan.sha256)
    return scan, data


# ---- copies handed over -----------------------------------------------------------------


@dataclass
class Copy:
    """A stamped copy as handed to the reader, and its record."""

    record: LoanCopy
    data: bytes
    filename: str


def record_copy(session, officer: User, loan_id, document_id, pages, *,
                store: LocalBlobStore) -> Copy:
    """Make the stamped copy of `pages` ("1-3,5" or a list of page numbers) of a lent
    document for the external reader of an approved loan, and register it page by page.
    Every page carries 「与原件核对无异 · 原件存于档案室」 and the loan number."""
    loan = loans.get(session, officer, loan_id)
    access.require(officer, "loan.counter", loan)
    if loan.external_reader is None:
        raise Conflict("只有外单位查阅可以在此出具复制件", code="not_external")
    if loan.status not in READING:
        raise Conflict(f"查阅{loan.status_enum.label}，不能出具复制件：须经审批同意",
                       code="not_approved")
    item = next((i for i in loan.items if str(i.document_id) == str(document_id)), None)
    if item is None:
        raise Invalid("该文件不在本次查阅清单内", code="not_in_loan",
                      details={"field": "document_id"})
    document = item.document
    stored = next((f for f in document.files if f.kind in SCAN_KINDS), None)
    if stored is None:
        raise Invalid(f"《{document.title}》没有可出具复制件的电子文件（PDF 或扫描图像）",
                      code="no_copyable_file")
    source = store.get(stored.sha256)
    try:
        if stored.kind != "pdf":
            source = stamping.image_to_pdf(source)
        wanted, text = _pages(pages, _page_count(source))
        data = stamping.stamp_pdf(_select(source, wanted),
                                  stamping.CopyStamp(loan_number=loan.number, at=now()))
    except stamping.StampError as exc:
        raise Conflict(f"{exc}，无法出具复制件", code="not_stampable") from None
    record = LoanCopy(loan_id=loan.id, document_id=document.id, pages=text,
                      page_count=len(wanted), sha256=hashlib.sha256(data).hexdigest(),
                      made_at=now(), made_by_id=officer.id)
    session.add(record)
    session.flush()
    audit.record(session, officer, "loan.copy_made", loan, number=loan.number,
                 document=document.id, file=stored.id, pages=text, page_count=len(wanted),
                 sha256=record.sha256)
    return Copy(record=record, data=data, filename=f"{loan.number}-{document.id}-复制件.pdf")


def _page_count(data: bytes) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return len(PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise stamping.StampError("PDF 已损坏") from exc


def _pages(value, count: int) -> tuple[list[int], str]:
    """Page numbers from "1-3,5" or a list of numbers, checked against `count`, and the
    canonical text registered with the copy."""
    if isinstance(value, list):
        parts = [str(v) for v in value]
    else:
        parts = [p.strip() for p in str(value or "").replace("，", ",").split(",") if p.strip()]
    if not parts:
        raise Invalid(f"请填写复制页码（如 1-3,5；共 {count} 页）", details={"field": "pages"})
    wanted: set[int] = set()
    for part in parts:
        low, _, high = part.partition("-")
        first, last = validation.row_id(low.strip()), validation.row_id((high or low).strip())
        if first is None or last is None or first > last or last > count:
            raise Invalid(f"页码“{part}”不正确：应为 1–{count} 之间的页码或范围，如 1-3,5",
                          details={"field": "pages"})
        wanted.update(range(first, last + 1))
        if len(wanted) > MAX_COPY_PAGES:
            raise Invalid(f"一次最多复制 {MAX_COPY_PAGES} 页", details={"field": "pages"})
    ordered = sorted(wanted)
    return ordered, _ranges(ordered)


def _ranges(pages: list[int]) -> str:
    runs, start = [], pages[0]
    for previous, current in zip(pages, pages[1:] + [None], strict=True):
        if current != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(runs)


def _select(data: bytes, pages: list[int]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(io.BytesIO(data)), PdfWriter()
    for number in pages:
        writer.add_page(reader.pages[number - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

