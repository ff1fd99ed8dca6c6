"""Filing documents into dossiers: check, read the files, then write, in three steps.

An upload is checked completely before anything is stored. The checks that ask the
database (`preflight`) read only; the files are inspected and their text extracted
(`read_files`) outside any transaction, since reading a large PDF takes seconds and
must not hold SQLite's write lock; the document is written (`file_intake`) in the
caller's unit of work. Blobs stored for a unit that rolls back are removed again, so a
failure leaves the archive as it was.
"""

import functools
import hashlib
import json
from dataclasses import dataclass, field

import sqlalchemy.exc
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from archive.clock import now
from archive.models import (
    Document,
    Dossier,
    Group,
    LoanFile,
    StoredFile,
    UploadKey,
    User,
)
from archive.models.enums import (
    CASE_GROUP,
    DEFAULT_GROUP_FOR_CATEGORY,
    GROUPS,
    DocumentStatus,
    Level,
)
from archive.services import (
    access,
    audit,
    conversion,
    duplicates,
    extraction,
    filetypes,
    index_batches,
    indexing,
    jobs,
    numbering,
    preservation,
    retention,
    transfers,
    validation,
    work,
)
from archive.services.customers import get_or_404
from archive.services.errors import Conflict, Forbidden, Invalid
from archive.services.orphans import discards_now
from archive.services.storage import LocalBlobStore


@dataclass
class Upload:
    """One file as received: the name the client gave and its bytes."""

    filename: str
    data: bytes


@dataclass
class Limits:
    max_bytes: int
    max_docx_uncompressed: int

    @classmethod
    def from_config(cls, config) -> "Limits":
        """The upload limits an app is configured with (MAX_UPLOAD_MB and the DOCX guard)."""
        return cls(max_bytes=config["MAX_UPLOAD_MB"] * 2**20,
                   max_docx_uncompressed=config["MAX_DOCX_UNCOMPRESSED_MB"] * 2**20)


@dataclass
class Intake:
    """An upload on its way into a dossier: checked by `preflight`, its files read by
    `read_files`, written by `file_intake`."""

    actor: User
    data: dict
    uploads: list[Upload]
    limits: Limits
    dossier: Dossier | None = None
    fields: dict = field(default_factory=dict)
    # (key, fingerprint) of an upload sent with an idempotency key (see `preflight`).
    key: tuple[str, str] | None = None
    # The document an earlier upload with the same key filed: it is answered again.
    replay: Document | None = None
    # (name, bytes, file type, extraction) per file, once `read_files` has run.
    files: list[tuple] | None = None
    # Digests of blobs stored anew for this upload before `file_intake` (an import's
    # reading processes store them): bytes the archive did not hold a moment ago.
    fresh: set[str] = field(default_factory=set)
    # The 四性 checks of each file (preservation.check_file), run where the file was
    # stored before `file_intake` (an import's reading processes); None: run at filing.
    checked: list[list[tuple[str, str, str]]] | None = None


def preflight(session, actor: User, dossier_id, data: dict, uploads: list[Upload], *,
              limits: Limits, key: str | None = None, warn_duplicates: bool = False) -> Intake:
    """Step one of filing: every check the database answers (the dossier, the actor's
    rights, the fields), reading only. The caller ends this read transaction (a unit of
    its own) before `read_files`, so that no lock is held while the files are read.

    `key` is a client's idempotency key: a client that lost the answer (a dropped
    connection, a timeout) sends the same upload with the same key again and gets the
    first document back instead of a duplicate (the intake comes back with `replay`
    set). The same key with a different request is refused (409).

    `warn_duplicates` (a person uploading): bytes already filed where the actor may see
    them are refused (409 `duplicate_file`, naming where) unless `confirm_duplicate`."""
    intake = Intake(actor=actor, data=data, uploads=uploads, limits=limits)
    if key is not None:
        intake.key = (_check_upload_key(key), upload_fingerprint(dossier_id, data, uploads))
        intake.replay = _filed_before(session, actor, *intake.key)
        if intake.replay is not None:
            return intake
    dossier = get_or_404(session, Dossier, dossier_id)
    access.require(actor, "dossier.view", dossier)
    access.require(actor, "document.upload", dossier, hide=False)
    if dossier.status == "closed":  # 封卷 (issue 17): reopened by the archive room if need be
        raise Conflict(f"档案 {dossier.number} 已于 {dossier.closed_on} 封卷，不能再归入文件",
                       code="closed")
    if dossier.status == "destroyed":
        raise Conflict(f"档案 {dossier.number} 已整卷销毁，不能再归入文件", code="destroyed")
    fields = {
        "title": validation.text(data, "title", "题名", required=True, max_len=300),
        "category": validation.category(data),
        "originator": validation.text(data, "originator", "形成者", max_len=100),
        "document_number": validation.text(data, "document_number", "文号", max_len=100),
        "remarks": validation.text(data, "remarks", "备注", max_len=2000),
    }
    # A document filed into a dossier of a raised level takes that level by default.
    classification = validation.level(data, "classification", Level(dossier.classification))
    if classification > access.max_filing_level(actor):
        raise Forbidden("不能归档高于本人密级的文件")
    fields["classification"] = int(classification)
    if dossier.kind == "case":
        # Its one volume; a customer group given (as clients did before) is not an error.
        validation.choice(data, "group", "分组", [*GROUPS, CASE_GROUP], default=CASE_GROUP)
        fields["group"] = CASE_GROUP
    else:
        fields["group"] = validation.choice(data, "group", "分组", list(GROUPS),
                                            default=DEFAULT_GROUP_FOR_CATEGORY[fields["category"]])
    # A retention chosen at filing stands; without one the document follows the schedule.
    chosen = data.get("retention")
    fields["retention"] = retention.parse_period(chosen)[0] if chosen not in (None, "") else None
    fields["important"] = validation.flag(data, "important", "重要")
    fields["doc_date"] = validation.day(data, "date", "文件日期")
    fields["pages"] = validation.integer(data, "pages", "页数")
    if fields["pages"] is not None and fields["pages"] < 0:
        raise Invalid("页数不能为负数", details={"field": "pages"})
    # The customer's responsible department answers for every document in its dossiers:
    # access, search scope and the department facet all follow it.
    fields["department_id"] = dossier.customer.department_id
    # The same bytes already filed where the actor may see them: refused with where, before
    # anything is stored, unless the actor confirms (what the actor may not see is not told).
    fields["duplicate_of"] = [d.id for d in duplicates.check_file(
        session, actor, [hashlib.sha256(u.data).hexdigest() for u in uploads],
        confirm=validation.flag(data, "confirm_duplicate", "确认重复归档"))] if warn_duplicates else []
    intake.dossier, intake.fields = dossier, fields
    return intake


def read_files(intake: Intake) -> None:
    """Step two, outside any transaction: inspect every file (one refused file refuses the
    whole upload, before anything is stored) and extract its text and pages."""
    if intake.replay is not None:
        return
    checked = []
    for upload in intake.uploads:
        name = filetypes.safe_filename(upload.filename)
        ftype = filetypes.inspect(
            upload.data, name, max_bytes=intake.limits.max_bytes,
            max_docx_uncompressed=intake.limits.max_docx_uncompressed,
        )
        checked.append((name, upload.data, ftype))
    intake.fields["carrier"] = validation.carrier(
        intake.data, checked[0][2].carrier if checked else "纸质")
    intake.files = [(name, blob, ftype, extraction.extract(blob, ftype))
                    for name, blob, ftype in checked]


def file_intake(session, intake: Intake, *, store: LocalBlobStore,
                index: bool = True, batched: bool = False) -> tuple[Document, bool]:
    """Step three, in the caller's unit: store the blobs, number the document and write it
    with its files, its idempotency key and its audit event. Returns (document, replayed).

    The row commits flagged `needs_index`; the index write is registered to follow the
    commit and clears the flag only once the index holds the document, so a process
    killed between the two leaves it flagged and the next index write or `flask reindex
    --if-needed` takes it up. `index=False` leaves it to a later bulk rebuild (demo data,
    imports); `batched` to this process's batch writer, where one is configured (uploads:
    services/index_batches.py). Blobs this upload stored are removed again if the unit
    rolls back."""
    actor = intake.actor
    if intake.replay is not None:
        return _replayed(session, actor, intake.replay, intake.key[0]), True
    created: list[str] = []
    work.after_rollback(session, lambda: _discard_unreferenced(session, store, created))
    if intake.key is None:
        # Nothing to answer instead: a failure undoes the caller's unit (or an import
        # row's savepoint) with this document in it.
        document = _write(session, intake, store, created)
    else:
        try:
            # A savepoint: the same key committed by a concurrent request in the meantime
            # undoes this document only, and its first document is answered instead.
            with session.begin_nested():
                document = _write(session, intake, store, created)
        except sqlalchemy.exc.IntegrityError:
            first = _filed_before(session, actor, *intake.key)
            if first is None:
                raise
            _discard_unreferenced(session, store, created)
            created.clear()
            return _replayed(session, actor, first, intake.key[0]), True
    if index and batched and index_batches.enabled():
        work.after_commit(session, index_batches.wake)
    elif index:
        work.after_commit(session, lambda: indexing.index_after_commit(session, [document.id]))
    return document, False


def _write(session, intake: Intake, store: LocalBlobStore, created: list[str]) -> Document:
    actor, dossier, fields = intake.actor, intake.dossier, intake.fields
    # Beginning a writing transaction takes SQLite's write lock (BEGIN IMMEDIATE): blobs
    # are stored under it, so a concurrent upload of the same bytes cannot reuse a blob
    # this one then removes. An import's unit has begun already.
    session.connection()
    stored, checked = [], list(intake.checked or [None] * len(intake.files))
    for i, (name, blob, ftype, result) in enumerate(intake.files):
        digest, new = store.put(blob)
        if new:
            created.append(digest)
        if new or preservation.failed(checked[i]):
            checked[i] = None  # stored again since it was checked, or found wanting: again
        stored.append(stored_file(name, blob, ftype, result, digest))
    group = dossier_group(session, dossier, fields["group"], lock=True)
    pages = fields["pages"]
    if pages is None:
        counted = [f.pages for f in stored if f.pages]
        pages = sum(counted) if counted else None
    document = Document(
        dossier_id=dossier.id, group_id=group.id, seq=numbering.next_seq(session, group, locked=True),
        title=fields["title"], category=fields["category"], carrier=fields["carrier"],
        doc_date=fields["doc_date"], pages=pages, classification=fields["classification"],
        important=fields["important"], department_id=fields["department_id"],
        originator=fields["originator"], remarks=fields["remarks"],
        document_number=fields["document_number"],
        created_by_id=actor.id, files=stored, needs_index=True, dossier=dossier,
        created_at=now(),
    )
    retention.assign(session, document, fields["retention"])
    transfers.assign(session, document, actor)
    session.add(document)
    # Scans are read by the OCR worker after the commit, never in the upload request;
    # so are the scanned pages of a PDF with text on its other pages. A DOCX's PDF access
    # copy is made by LibreOffice on the same queue, never here. Both are queued before
    # the flush, which writes the jobs and the files' conversion state with the files.
    jobs.queue_ocr(session, stored, partly_scanned=[
        f for f, (*_, result) in zip(stored, intake.files, strict=True) if result.textless_pages])
    conversion.queue(session, stored, fresh={*created, *intake.fresh})
    session.flush()
    # 四性检测 (DA/T 70): recorded with the document, refusing nothing filing accepted.
    preservation.record_filing(session, document, [
        (f, blob) for f, (_name, blob, *_rest) in zip(stored, intake.files, strict=True)],
        store, checked=checked)
    if intake.key is not None:
        session.add(UploadKey(user_id=actor.id, key=intake.key[0], fingerprint=intake.key[1],
                              document_id=document.id))
        session.flush()
    confirmed = {"duplicate_of": fields["duplicate_of"]} if fields.get("duplicate_of") else {}
    audit.record(session, actor, "document.uploaded", document, dossier=dossier.number,
                 seq=document.seq, group=fields["group"],
                 files=[{"name": f.original_name, "sha256": f.sha256} for f in stored],
                 **confirmed)
    return document


def stored_file(name: str, blob: bytes, ftype, result, digest: str) -> StoredFile:
    """The record of one file of an upload, as filing writes it."""
    return StoredFile(
        sha256=digest, size=len(blob), mime=ftype.mime, kind=ftype.kind,
        original_name=name, pages=result.pages, text=result.text,
        text_status=result.status, text_error=result.error,
        textless_pages=result.textless_pages,
    )


def file_document(session, actor: User, dossier_id, data: dict, uploads: list[Upload], *,
                  store: LocalBlobStore, limits: Limits, index: bool = True) -> Document:
    """File a document (with zero or more files) into a dossier group: the three steps in
    the caller's transaction, for callers that hold no lock anyone waits for (demo data,
    imports, tests). A request ends its read between `preflight` and `read_files`.

    Paper-only documents have no files. The group defaults from the category, the
    retention from the category's schedule; the department is the customer's."""
    intake = preflight(session, actor, dossier_id, data, uploads, limits=limits)
    read_files(intake)
    return file_intake(session, intake, store=store, index=index)[0]


MAX_UPLOAD_KEY = 100


def upload_fingerprint(dossier_id, data: dict, uploads: list[Upload]) -> str:
    """What an upload asks for, as one hash: the dossier, every field, each file's name
    and SHA-256. Form plumbing (the CSRF token, the key itself) is left out."""
    fields = sorted((str(k), str(v)) for k, v in data.items()
                    if k not in ("csrf_token", "upload_key"))
    files = [(u.filename, hashlib.sha256(u.data).hexdigest()) for u in uploads]
    canonical = json.dumps([str(dossier_id), fields, files], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_upload_key(key) -> str:
    if (not isinstance(key, str) or not 1 <= len(key) <= MAX_UPLOAD_KEY
            or not all(33 <= ord(c) <= 126 for c in key)):
        raise Invalid(f"Idempotency-Key 须为 1–{MAX_UPLOAD_KEY} 个可见 ASCII 字符",
                      code="invalid_idempotency_key")
    return key


def _filed_before(session, actor: User, key: str, fingerprint: str) -> Document | None:
    row = session.execute(
        select(UploadKey).where(UploadKey.user_id == actor.id, UploadKey.key == key)
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise Conflict("这次提交与先前用同一表单（同一 Idempotency-Key）提交的内容不同，未归档；"
                       "如需再归档一份，请重新打开归档页面（API：换用新的 Idempotency-Key）",
                       code="idempotency_key_reused")
    access.require(actor, "document.view", row.document)
    return row.document


def _replayed(session, actor: User, first: Document, key: str) -> Document:
    audit.record(session, actor, "document.upload_replayed", first, key=key)
    return first


def _discard_unreferenced(session, store: LocalBlobStore, digests: list[str]) -> None:
    if not discards_now(session):
        return  # another upload may be reusing them unseen: left to the orphan sweep
    # A loan's scan may hold the same bytes (external_loans files into the same store).
    for digest in digests:
        still_used = any(session.execute(
            select(model.id).where(model.sha256 == digest).limit(1)).first()
            for model in (StoredFile, LoanFile))
        if not still_used:
            store.delete(digest)


def get_document(session, actor: User, document_id, *, record: bool = True,
                 page: bool = False) -> Document:
    """A document's metadata, if the actor may see it (audited as a view). With `page`,
    loaded with what the document page shows: its dossier, customer, group, department
    and filer in the same query, its files (without their text) in one more and their
    jobs in a third, instead of a query for each."""
    document = get_or_404(session, Document, document_id, options=_page_loads() if page else ())
    if page:
        _load_files(session, document)
    access.require(actor, "document.view", document)
    if record:
        audit.record(session, actor, "document.viewed", document)
    return document


@functools.cache  # one tuple, so get_or_404 builds its query once
def _page_loads() -> tuple:
    return (joinedload(Document.dossier).joinedload(Dossier.customer),
            joinedload(Document.group), joinedload(Document.department),
            joinedload(Document.created_by))


@functools.cache
def _files_and_jobs() -> tuple:
    """_load_files' queries, in the orders of the relationships they fill."""
    from archive.models import Job

    return (select(StoredFile).options(defer(StoredFile.text))
            .where(StoredFile.document_id == bindparam("document")).order_by(StoredFile.id),
            select(Job).where(Job.file_id.in_(bindparam("files", expanding=True)))
            .order_by(Job.file_id, Job.id))


def _load_files(session, document: Document) -> None:
    """Fill the document's files (without their text) and their jobs from two queries
    built once, as customers.load_contents fills a dossier's: selectinload's loaders
    built and keyed their queries on every page."""
    files_of, jobs_of = _files_and_jobs()
    files = session.execute(files_of, {"document": document.id}).scalars().all()
    jobs: dict[int, list] = {stored.id: [] for stored in files}
    if jobs:
        for job in session.execute(jobs_of, {"files": list(jobs)}).scalars():
            jobs[job.file_id].append(job)
    set_committed_value(document, "files", files)
    for stored in files:
        set_committed_value(stored, "jobs", jobs[stored.id])


def read_file(session, actor: User, document_id, file_id=None, *, store: LocalBlobStore,
              purpose: str = "download") -> tuple[StoredFile, bytes]:
    """The verified bytes of one file of a document (the first if `file_id` is None).

    `purpose` is download or preview; both are audited. A blob whose hash no longer
    matches raises IntegrityError and is never served.
    """
    document = get_or_404(session, Document, document_id)
    access.require(actor, "document.read", document)
    stored = _pick_file(document, file_id)
    data = _fetch(session, actor, document, stored, store, purpose)
    audit.record(session, actor, f"document.{purpose}", document, file=stored.id,
                 sha256=stored.sha256)
    return stored, data


def _pick_file(document: Document, file_id) -> StoredFile:
    if document.status != DocumentStatus.ACTIVE.value:
        # A tombstone: its metadata stays, its content was destroyed (issue 17).
        raise Conflict("该文件已销毁，内容已按销毁清单清除，只保留目录信息", code="destroyed")
    files = document.files
    if file_id is None:
        if not files:
            raise Invalid("该文件仅有纸质原件，没有电子文件", code="paper_only")
        return files[0]
    stored = next((f for f in files if str(f.id) == str(file_id)), None)
    if stored is None:
        raise access.NotFound("文件不存在")
    return stored


def _fetch(session, actor: User, document: Document, stored: StoredFile,
           store: LocalBlobStore, purpose: str, digest: str | None = None) -> bytes:
    """The verified bytes (of the blob `digest`, the file's own by default); a failure to
    read is audited (in a transaction of its own, which outlives the request's) before it
    propagates."""
    try:
        return store.get(digest or stored.sha256)
    except Exception as exc:
        work.record_refusal(session, actor, f"document.{purpose}", document, outcome="error",
                            file=stored.id, error=str(exc))
        raise


@dataclass
class Delivery:
    """A file as it leaves the archive: the bytes to send (stamped when classified)."""

    stored: StoredFile
    data: bytes
    stamped: bool
    mime: str
    filename: str


def _deny(session, actor: User, document: Document, purpose: str, stored: StoredFile,
          error: Forbidden):
    work.record_refusal(session, actor, f"document.{purpose}", document, file=stored.id,
                        reason=error.message)
    raise error


def delivery_form(actor: User, document: Document, stored: StoredFile,
                  purpose: str = "download") -> str | None:
    """How a file the actor may read leaves the archive: "stored" (as it is), "stamped"
    (a stamped PDF copy), "access_copy" (a DOCX's PDF access copy as LibreOffice made it),
    or None (it may not leave this way, or not yet).

    A DOCX is previewed through its access copy, once the worker has made it. At 秘密 and
    above scans and photos go out as a stamped PDF of the image, a DOCX as a stamped PDF
    of its access copy (the GM downloads the original); text and recordings cannot carry
    a stamp, so only the GM receives them, as stored, and never as a preview."""
    from archive.services import stamping

    converted = stored.kind == "docx" and stored.access_copy_status == conversion.OK
    if document.access_level < Level.SECRET:
        if purpose == "preview" and stored.kind == "docx":
            return "access_copy" if converted else None
        return "stored"
    if stored.kind in ("pdf", *stamping.IMAGE_KINDS):
        return "stamped"
    gm_original = purpose == "download" and access.is_gm(actor)
    if converted and not gm_original:
        return "stamped"
    return "stored" if gm_original else None


def _not_delivered(document: Document, stored: StoredFile):
    """Why a file does not leave in this form: a DOCX whose access copy is not made yet
    (409, try again) or could not be made, or a file that cannot carry a stamp."""
    secret = document.access_level >= Level.SECRET
    if stored.kind == "docx" and stored.access_copy_status == conversion.QUEUED:
        return Conflict("此 Word 文件的 PDF 副本正在生成（后台转换，通常不到一分钟），"
                        + ("生成后提供加盖水印的 PDF；" if secret else "生成后即可预览；")
                        + "请稍后再试", code="access_copy_pending")
    if stored.kind == "docx" and stored.access_copy_status == conversion.FAILED:
        reason = f"此 Word 文件未能转换为 PDF（{stored.access_copy_error}）"
        if not secret:
            return Conflict(f"{reason}，无法预览；请下载原件查阅", code="access_copy_failed")
        return Forbidden(f"{reason}，无法加盖水印，不能提供；请到档案室查阅原件或联系档案员")
    if stored.kind == "docx" and not secret:
        return Conflict("此 Word 文件归档于 PDF 副本功能之前，尚无预览；请下载原件查阅，"
                        "或由管理员运行 flask convert --pending", code="access_copy_missing")
    return Forbidden("秘密及以上的文件只以加盖水印的 PDF 提供，此文件无法加盖水印；"
                     "请到档案室查阅原件或联系档案员")


def read_for_delivery(session, actor: User, document_id, file_id=None, *,
                      store: LocalBlobStore, purpose: str = "download") -> Delivery:
    """The one way bytes reach a user (web download and preview, API content).

    Below 秘密 the verified bytes go out as stored. At 秘密 and above a PDF (or a scan,
    as a PDF of the image, a DOCX as its PDF access copy) is sent as a copy stamped on
    every page with the level, the viewer and the time (002:29-47). A DOCX is previewed
    through its access copy at every level. A file that cannot be stamped (text, audio,
    video, a damaged or locked PDF, a DOCX whose access copy is not made) does not leave
    at those levels, except to the GM,
    who sees everything (002:43); the audit event says it went out unstamped. 绝密: nothing is downloaded without the GM's approval
    for that person and document (002:45); the preview is the stamped PDF only.
    Every outcome, refusals included, is audited.
    """
    from archive.services import stamping

    document = get_or_404(session, Document, document_id)
    access.require(actor, "document.read", document)
    stored = _pick_file(document, file_id)
    level = document.access_level
    if purpose == "download" and not access.can(actor, "document.copy", document):
        _deny(session, actor, document, purpose, stored, Forbidden(
            "绝密文件未经总经理批准，不得下载、打印或复制"))
    form = delivery_form(actor, document, stored, purpose)
    if form is None:
        _deny(session, actor, document, purpose, stored, _not_delivered(document, stored))
    mime, filename = stored.mime, stored.original_name
    details = {}
    if stored.kind == "docx" and form in ("stamped", "access_copy"):
        # The PDF LibreOffice made of it, verified against its own hash; the DOCX unread.
        data = _fetch(session, actor, document, stored, store, purpose,
                      digest=stored.access_copy_sha256)
        mime, filename = "application/pdf", f"{filename}.pdf"
        details.update(copy_of="access_copy", access_copy_sha256=stored.access_copy_sha256)
    else:
        data = _fetch(session, actor, document, stored, store, purpose)
    stamped = False
    if form == "stamped":
        try:
            if stored.kind in stamping.IMAGE_KINDS:
                data = stamping.image_to_pdf(data)
                mime, filename = "application/pdf", f"{filename}.pdf"
            data = stamping.stamp_pdf(data, stamping.Stamp(
                level=level, viewer=f"{actor.display_name}（{actor.username}）", at=now()))
            stamped = True
        except stamping.StampError as exc:
            if purpose == "preview" or not access.is_gm(actor):
                _deny(session, actor, document, purpose, stored, Forbidden(
                    f"{exc}，无法加盖水印，不能提供；请联系档案员"))
            details["stamp_error"] = str(exc)
    if purpose == "preview" and stored.kind == "tiff" and not stamped:
        # No browser shows a TIFF: its preview is a PDF of its pages (the file unchanged).
        data = stamping.image_to_pdf(data)
        mime, filename = "application/pdf", f"{filename}.pdf"
    audit.record(session, actor, f"document.{purpose}", document, file=stored.id,
                 sha256=stored.sha256, level=level.label, stamped=stamped, **details)
    return Delivery(stored=stored, data=data, stamped=stamped, mime=mime, filename=filename)


def dossier_group(session, dossier: Dossier, code: str, *, lock: bool = False) -> Group:
    """The group of `dossier` a document is filed or moved into: `code` in a customer
    dossier; a case file's one volume whatever was asked. A case file opened before case
    files had their own volume (laid out in a–e) gets it when first filed into.

    `lock`: read it afresh under its lock, after the audit head (the lock order of
    audit.hold_head), ready for numbering.next_seq(..., locked=True)."""
    if dossier.kind == "case":
        code = CASE_GROUP
    key = ("group", dossier.id, code)
    group = work.locked(session, key) if lock else None
    if group is not None:
        return group  # locked by an earlier filing of this unit (an import's rows)
    query = select(Group).where(Group.dossier_id == dossier.id, Group.code == code)
    if lock:
        audit.hold_head(session)
        query = query.with_for_update().execution_options(populate_existing=True)
    group = session.execute(query).scalar_one_or_none()
    if lock and group is not None:
        work.hold(session, key, group)
    if group is None and code == CASE_GROUP and dossier.kind == "case":
        group = Group(dossier_id=dossier.id, code=CASE_GROUP)
        session.add(group)
        session.flush()
    if group is None:
        raise Invalid(f"档案 {dossier.number} 没有分组 {code}", details={"field": "group"})
    return group


def volume_index(actor: User, dossier: Dossier) -> list[tuple[Group, list[Document]]]:
    """卷内目录: per group, the documents the actor may see, in sequence order. A case
    file shows its own volume (and, if opened before it had one, the a–e groups that hold
    documents), never empty customer groups."""
    groups = [(g, access.visible_documents(actor, g.documents)) for g in dossier.groups]
    if dossier.kind == "case":
        groups = [(g, docs) for g, docs in groups if docs or g.code == CASE_GROUP]
    return groups


def page_ranges(groups: list[tuple[Group, list[Document]]]) -> dict[int, tuple[int, int]]:
    """页号 of the 卷内目录 (GB/T 9705): each listed document's first and last page within
    the volume, counted on through the groups in the order listed. A document whose page
    count is not known has none, and the count goes on after it."""
    ranges, next_page = {}, 1
    for _group, documents in groups:
        for document in documents:
            if document.pages:
                ranges[document.id] = (next_page, next_page + document.pages - 1)
                next_page += document.pages
    return ranges


@dataclass
class RemarksSheet:
    """卷内备考表 (003:107-111)."""

    documents: int
    files: int
    pages: int
    compiled_by: str
    checked_by: str
    remarks: str
    paper_only: int


def remarks_sheet(actor: User, dossier: Dossier) -> RemarksSheet:
    """Totals over the documents the actor may see: for the archive room that is the
    whole volume; a reader without clearance for some items does not learn their count."""
    docs = access.visible_documents(actor, dossier.documents)
    return RemarksSheet(
        documents=len(docs),
        files=sum(len(d.files) for d in docs),
        pages=sum(d.pages or 0 for d in docs),
        compiled_by=dossier.compiled_by,
        checked_by=dossier.checked_by,
        remarks=dossier.remarks,
        paper_only=sum(1 for d in docs if not d.files),
    )
