"""Destruction (销毁): a batch of documents whose retention has run out, approved on the
engine by the GM, a deputy GM or the GM-office director, who names two supervisors
(监销人, 002:946); executed by the archive room before both supervisors, each confirming
with their own password; recorded item by item in the permanent register (销毁清册,
002:945) and certified (docs/retention.md).

Execution, per item, survives a crash at any instant:
1. one transaction turns the document into a tombstone 待清除 (metadata kept, extracted
   text removed) and appends its register row (digest on the audit hash chain);
2. outside it, the index entry is removed; then, in a transaction holding the write lock
   (so no upload can reuse a blob between the check and the delete), every blob no kept
   document or loan file refers to is deleted and the tombstone becomes 已销毁.
A process killed between 1 and 2 leaves 待清除 items that `sweep` finishes (at the next
execution, `flask --app archive destruction-sweep`, and at start-up of `make run`).
After the batch, `scrub` leaves the removed text in neither the index nor SQLite's files;
on PostgreSQL the worker's sweep runs `compact` (VACUUM FULL, docs/postgresql.md).
"""

import functools
import hashlib
import json
import logging
from datetime import datetime

import sqlalchemy.exc
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import object_session, selectinload

from archive.clock import local, now
from archive.models import AuditEvent, Document, Loan, LoanFile, LoanItem, StoredFile, User
from archive.models.approval import ApprovalKind, ApprovalRequest, RequestStatus
from archive.models.enums import DocumentStatus as Status
from archive.models.enums import DossierStatus
from archive.models.loan import LoanKind, LoanStatus
from archive.models.retention import (
    Appraisal,
    AppraisalDecision,
    Destruction,
    DestructionItem,
    DestructionStatus,
    ItemState,
    RegisterEntry,
)
from archive.services import (
    access,
    accounts,
    approvals,
    audit,
    backup,
    holds,
    indexing,
    jobs,
    loans,
    retention,
    validation,
    work,
)
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)
NOT_FOUND = "销毁清单不存在"
MAX_ITEMS = 500
OPEN = (DestructionStatus.PENDING.value, DestructionStatus.APPROVED.value,
        DestructionStatus.EXECUTING.value)


def archival_code(document: Document) -> str:
    """档号 of a document: its dossier's number, group and sequence number."""
    return f"{document.dossier.number}-{document.group.code}-{document.seq}"


# ---- proposing a batch ---------------------------------------------------------------


def _ids(data: dict) -> list[int]:
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise Invalid("请列出要销毁的文件（items：文件编号列表）", code="no_items",
                      details={"field": "items"})
    if len(items) > MAX_ITEMS:
        raise Invalid(f"一张销毁清单最多 {MAX_ITEMS} 件", details={"field": "items"})
    ids = []
    for value in items:
        value = value.get("document_id") if isinstance(value, dict) else value
        number = validation.row_id(value)
        if number is None:
            raise Invalid("文件编号须为正整数", details={"field": "items"})
        if number in ids:
            raise Invalid("同一文件在清单中列了两次", code="duplicate_item",
                          details={"field": "items"})
        ids.append(number)
    return ids


def check_destroyable(session, documents: list[Document], besides: int | None = None) -> None:
    """Refuse (409) the first document that may not be destroyed now: not active, 永久,
    not yet due or unconfirmed, under a legal hold, a paper original out on loan, or
    already in another open batch."""
    for document in documents:
        if document.status == Status.WITHDRAWN.value:
            raise Conflict(f"《{document.title}》已撤销归档，不能销毁", code="not_active")
        if document.status != Status.ACTIVE.value:
            raise Conflict(f"《{document.title}》已销毁或正在销毁", code="not_active")
        retention.require_due(document)
    covered = holds.held(session, documents)
    if covered:
        document = next(d for d in documents if d.id in covered)
        hold = covered[document.id][0]
        raise Conflict(f"《{document.title}》已被冻结（{holds.describe(hold)}：{hold.reason}），"
                       "解除全部冻结前不能销毁", code="held")
    loans.not_out(session, [d.id for d in documents],
                  message="原件已借出（借阅编号 {number}），归还后方可销毁")
    pending = session.execute(
        select(Loan.number).join(LoanItem, LoanItem.loan_id == Loan.id)
        .where(LoanItem.document_id.in_([d.id for d in documents]),
               Loan.kind == LoanKind.OUT.value,
               Loan.status.in_((LoanStatus.REQUESTED.value, LoanStatus.APPROVED.value)))
        .limit(1)).first()
    if pending is not None:
        raise Conflict(f"原件有待出借的借阅（借阅编号 {pending.number}），办结后方可销毁",
                       code="on_loan")
    outside = next((d for d in documents if d.custody != "archive"), None)
    if outside is not None:
        raise Conflict(f"《{outside.title}》尚在部门保管、未移交档案室，不能由档案室销毁",
                       code="not_in_archive")
    stmt = (select(DestructionItem.document_id, Destruction.number)
            .join(Destruction, Destruction.id == DestructionItem.destruction_id)
            .where(DestructionItem.document_id.in_([d.id for d in documents]),
                   DestructionItem.state == ItemState.LISTED.value,
                   Destruction.status.in_(OPEN)))
    if besides is not None:
        stmt = stmt.where(Destruction.id != besides)
    row = session.execute(stmt.limit(1)).first()
    if row is not None:
        raise Conflict(f"文件已列入销毁清单 {row.number}", code="in_batch")


def propose(session, actor: User, data: dict) -> Destruction:
    """The officer lists due documents with a reason: the 《公司档案资料销毁审批表》 goes to
    the approval engine. Listing a document records its appraisal decision 销毁."""
    access.require(actor, "destruction.propose", hide=False)
    ids = _ids(data)
    reason = validation.text(data, "reason", "销毁原因", required=True, max_len=2000)
    # Locked, in id order, until the batch commits: a proposal of the same document at the
    # same instant waits here, then its checks see this batch (on PostgreSQL both would
    # otherwise pass the "already in an open batch" check).
    documents = session.execute(
        select(Document).where(Document.id.in_(ids)).order_by(Document.id).with_for_update()
        .execution_options(populate_existing=True)
        .options(selectinload(Document.dossier), selectinload(Document.files))).scalars().all()
    found = {d.id: d for d in documents}
    for number in ids:
        if number not in found or not access.may_read(actor, found[number]):
            raise NotFound(f"文件不存在：{number}")
    documents = [found[n] for n in ids]
    check_destroyable(session, documents)
    batch = Destruction(reason=reason, requested_by_id=actor.id)
    session.add(batch)
    session.flush()
    batch.number = f"XH{local(batch.created_at).year}-{batch.id:04d}"
    for seq, document in enumerate(documents, 1):
        session.add(DestructionItem(destruction_id=batch.id, document_id=document.id, seq=seq))
        session.add(Appraisal(document_id=document.id, decision=AppraisalDecision.DESTROY.value,
                              disposal_before=document.disposal_on,
                              disposal_after=document.disposal_on, opinion=reason,
                              decided_by_id=actor.id, destruction_id=batch.id))
    session.flush()
    session.refresh(batch)
    approvals.file(session, actor, ApprovalKind.DESTRUCTION, reason=reason, subject=batch,
                   subject_level=max(int(d.access_level) for d in documents))
    audit.record(session, actor, "destruction.proposed", batch, number=batch.number,
                 items=[d.id for d in documents], reason=reason)
    return batch


# ---- the engine's handler ------------------------------------------------------------


def listed(batch: Destruction) -> list[Document]:
    return [i.document for i in batch.items if i.state == ItemState.LISTED.value]


def _describe(request: ApprovalRequest, viewer: User) -> str:
    batch = request.destruction
    pages = sum(i.document.pages or 0 for i in batch.items)
    return f"销毁清单 {batch.number}：{len(batch.items)} 件，{pages} 页。原因：{batch.reason}"


def _stale(session, request: ApprovalRequest) -> str | None:
    documents = listed(request.destruction)
    if not documents:
        return "清单中已无待销毁的文件"
    if max(int(d.access_level) for d in documents) != request.subject_level:
        return "所列文件的密级已变更"
    try:
        check_destroyable(session, documents, besides=request.destruction_id)
    except Conflict as exc:
        return exc.message
    return None


def _user(session, value, label: str) -> User:
    name = value.get("username") if isinstance(value, dict) else value
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"请指定{label}（用户名）", code="supervisor_missing",
                      details={"field": "supervisors"})
    user = session.execute(select(User).where(User.username == name.strip())).scalar_one_or_none()
    if user is None or not user.active:
        raise Invalid(f"{label}不存在或已停用：{name.strip()[:60]}", code="supervisor_unknown",
                      details={"field": "supervisors"})
    return user


def _supervisors(data: dict, key: str = "supervisors") -> list:
    values = data.get(key)
    if values is None and (data.get("supervisor1") or data.get("supervisor2")):
        values = [data.get("supervisor1"), data.get("supervisor2")]  # the web form's fields
    if not isinstance(values, list) or len(values) != 2:
        raise Invalid("须指定两名监销人", code="two_supervisors", details={"field": key})
    return values


def _prepare(session, actor: User, request: ApprovalRequest, data: dict) -> dict:
    """The approver names the two supervisors: two different active people, neither the
    approver nor the proposer, each cleared for every item."""
    batch = request.destruction
    chosen = [_user(session, value, "监销人") for value in _supervisors(data)]
    if chosen[0].id == chosen[1].id:
        raise Invalid("两名监销人须为不同的人", code="two_supervisors",
                      details={"field": "supervisors"})
    for user in chosen:
        if user.id == actor.id:
            raise Invalid("审批人不能兼任监销人", code="supervisor_is_approver",
                          details={"field": "supervisors"})
        if user.id == batch.requested_by_id:
            raise Invalid("提出销毁的档案员不能兼任监销人", code="supervisor_is_executor",
                          details={"field": "supervisors"})
        if not all(access.cleared(user, d) for d in listed(batch)):
            raise Invalid(f"监销人 {user.display_name} 的密级不足以监督销毁清单中的文件",
                          code="supervisor_not_cleared", details={"field": "supervisors"})
    return {"supervisors": [u.id for u in chosen]}


def supervisor_choices(session, approver: User, batch: Destruction) -> list[User]:
    """Whom the approver may name: active people cleared for every item, neither the
    approver nor the proposer (the web form's choices; `_prepare` checks again)."""
    documents = listed(batch)
    people = session.execute(select(User).where(User.active.is_(True))
                             .order_by(User.display_name)).scalars()
    return [u for u in people if u.id not in (approver.id, batch.requested_by_id)
            and all(access.cleared(u, d) for d in documents)]


def _apply(session, actor: User, request: ApprovalRequest, prepared: dict) -> None:
    batch = request.destruction
    batch.status = DestructionStatus.APPROVED.value
    batch.approved_by_id, batch.approved_at = actor.id, now()
    batch.supervisor1_id, batch.supervisor2_id = prepared["supervisors"]
    audit.record(session, actor, "destruction.approved", batch, number=batch.number,
                 request=request.id, supervisors=prepared["supervisors"])


def _ended(session, actor: User, request: ApprovalRequest) -> None:
    batch = request.destruction
    batch.status = (DestructionStatus.REJECTED if request.status == RequestStatus.REJECTED.value
                    else DestructionStatus.WITHDRAWN).value


approvals.effect(ApprovalKind.DESTRUCTION, approvals.Handler(
    describe=_describe, apply=_apply, stale=_stale, prepare=_prepare, ended=_ended))


# ---- reading -------------------------------------------------------------------------


def visible(user: User, batch: Destruction) -> bool:
    """The archive room, the GM and the auditor see a batch whose every item they may
    read; its proposer, approver and supervisors see it too."""
    people = {batch.requested_by_id, batch.approved_by_id, batch.supervisor1_id,
              batch.supervisor2_id, batch.executed_by_id}
    if user.id in people:
        return True
    if not access.can(user, "destruction.list"):
        return False
    if any(user.id in {s.decided_by_id for s in r.steps} for r in requests_of(batch)):
        return True
    return all(access.may_read(user, item.document) for item in batch.items)


def requests_of(batch: Destruction) -> list[ApprovalRequest]:
    return approvals.for_subject(object_session(batch), batch, [ApprovalKind.DESTRUCTION])


def get(session, user: User, batch_id, *, lock: bool = False) -> Destruction:
    stmt = select(Destruction).where(Destruction.id == (validation.row_id(batch_id) or -1))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    batch = session.execute(stmt).scalar_one_or_none()
    if batch is None or not visible(user, batch):
        raise NotFound(NOT_FOUND)
    return batch


def listing(session, user: User) -> list[Destruction]:
    access.require(user, "destruction.list", hide=False)
    batches = session.execute(
        select(Destruction).options(selectinload(Destruction.items))
        .order_by(Destruction.id.desc())).scalars().all()
    return [b for b in batches if visible(user, b)]


# ---- execution -----------------------------------------------------------------------


def _refuse(session, actor: User, batch: Destruction, error,
            action: str = "destruction.execute"):
    work.record_refusal(session, actor, action, ("destruction", batch.id),
                        reason=error.message, number=batch.number)
    raise error


def _confirmed(session, actor: User, batch: Destruction, data: dict) -> list[User]:
    """Both designated supervisors, each by their own password (never logged)."""
    values = _supervisors(data)
    if not all(isinstance(v, dict) for v in values):
        raise Invalid("每名监销人须提供用户名和密码", code="two_supervisors",
                      details={"field": "supervisors"})
    designated = {batch.supervisor1_id, batch.supervisor2_id}
    people = []
    for value in values:
        user = session.execute(select(User).where(
            User.username == str(value.get("username") or "").strip())).scalar_one_or_none()
        if user is not None and user.id == actor.id:
            raise Forbidden("执行销毁的档案员不能兼任监销人", code="supervisor_is_executor")
        if user is None or user.id not in designated or not user.active:
            raise Forbidden("监销人须为审批人指定的两名监销人", code="not_designated")
        if not accounts.password_matches(user, value.get("password")):
            raise Forbidden(f"监销人 {user.display_name} 的密码不正确",
                            code="bad_supervisor_password")
        people.append(user)
    if people[0].id == people[1].id:
        raise Forbidden("须由两名不同的监销人分别确认", code="two_supervisors")
    return people


def _paper(batch: Destruction, data: dict) -> tuple[str, str]:
    method = validation.text(data, "paper_method", "纸质原件销毁方式", max_len=100)
    place = validation.text(data, "paper_place", "销毁地点", max_len=200)
    paper = [d for d in listed(batch) if d.carrier == "纸质" or not d.files]
    if paper and not (method or batch.paper_method) or paper and not (place or batch.paper_place):
        raise Invalid(f"清单中有 {len(paper)} 件纸质原件：请填写销毁方式和地点",
                      code="paper_details", details={"field": "paper_method"})
    return method or batch.paper_method, place or batch.paper_place


def _not_running(batch: Destruction) -> Conflict | None:
    """Why the batch's run cannot start or go on (None: approved, or executing): one
    answer for executing it and for dropping an item from it."""
    if batch.status == DestructionStatus.DONE.value:
        return Conflict(f"销毁清单 {batch.number} 已执行完毕", code="finished")
    if batch.status == DestructionStatus.PENDING.value:
        return Conflict(f"销毁清单 {batch.number} 尚未批准", code="not_approved")
    if batch.status == DestructionStatus.EMPTIED.value:
        return Conflict(f"销毁清单 {batch.number} 中的文件均已撤出，没有可销毁的文件",
                        code="empty")
    if batch.status not in (DestructionStatus.APPROVED.value, DestructionStatus.EXECUTING.value):
        return Conflict(f"销毁清单 {batch.number} 状态为“{batch.status_enum.label}”，"
                        "不能执行或撤出文件", code="not_approved")
    return None


def _start(session, actor: User, batch_id, data: dict) -> Destruction:
    batch = get(session, actor, batch_id, lock=True)
    error = None
    if not access.can(actor, "destruction.execute", batch):
        error = Forbidden("只有档案室可以执行销毁")
    else:
        error = _not_running(batch)
    if error is None and actor.id == batch.approved_by_id:
        error = Forbidden("批准销毁的人不能执行销毁", code="executor_is_approver")
    if error is None:
        try:
            people = _confirmed(session, actor, batch, data)
            method, place = _paper(batch, data)
            documents = listed(batch)
            for user in people:
                if not all(access.cleared(user, d) for d in documents):
                    raise Forbidden(f"监销人 {user.display_name} 的密级不足", code="supervisor_not_cleared")
            if documents:
                check_destroyable(session, documents, besides=batch.id)
            elif batch.status == DestructionStatus.APPROVED.value:
                # Every item dropped since the approval: nothing to destroy, nothing to
                # record as destroyed (a batch killed mid-run finishes with what is left).
                raise Conflict(f"销毁清单 {batch.number} 中的文件均已撤出，没有可销毁的文件",
                               code="empty")
        except (Conflict, Forbidden, Invalid) as exc:
            error = exc
    if error is not None:
        _refuse(session, actor, batch, error)
    if batch.status == DestructionStatus.APPROVED.value:
        batch.started_at = now()
    batch.status = DestructionStatus.EXECUTING.value
    batch.executed_by_id = actor.id
    batch.paper_method, batch.paper_place = method, place
    audit.record(session, actor, "destruction.started", batch, number=batch.number,
                 supervisors=[u.id for u in people], items=len(listed(batch)))
    return batch


def _names(batch: Destruction) -> tuple[str, str, str]:
    return (batch.approved_by.display_name if batch.approved_by else "",
            "、".join(u.display_name for u in batch.supervisors),
            batch.executed_by.display_name if batch.executed_by else "")


def register_digest(entry: RegisterEntry) -> str:
    fields = {name: getattr(entry, name) for name in REGISTER_FIELDS}
    fields["destroyed_at"] = entry.destroyed_at.isoformat()
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


REGISTER_FIELDS = ("destruction_id", "document_id", "batch_number", "seq", "archival_code",
                   "title", "originator", "formed", "retention", "kept_for", "pages",
                   "classification", "carrier", "remarks", "files_json", "approved_by",
                   "supervisors", "executed_by", "destroyed_at")


def journal_entry(entry: RegisterEntry) -> dict:
    """A register row as the destruction journal keeps it (outside the database)."""
    fields = {name: getattr(entry, name) for name in REGISTER_FIELDS}
    fields["destroyed_at"] = entry.destroyed_at.isoformat()
    return {**fields, "digest": entry.digest}


def _tombstone(session, actor: User, batch: Destruction, item: DestructionItem,
               journal=None) -> None:
    """Step 1, one transaction: the tombstone (待清除) and its register row."""
    document = item.document
    moment = now()
    approved_by, supervisors, executed_by = _names(batch)
    entry = RegisterEntry(
        destruction_id=batch.id, document_id=document.id, batch_number=batch.number,
        seq=item.seq, archival_code=archival_code(document), title=document.title,
        originator=document.originator or "",
        formed=(document.doc_date.isoformat() if document.doc_date
                else str(local(document.created_at).year)),
        retention=document.retention, kept_for=retention.kept_for(document),
        pages=document.pages, classification=int(document.classification),
        carrier=document.carrier, remarks=document.remarks or "",
        files_json=json.dumps([{"name": f.original_name, "sha256": f.sha256, "size": f.size}
                               for f in document.files], ensure_ascii=False),
        approved_by=approved_by, supervisors=supervisors, executed_by=executed_by,
        destroyed_at=moment)
    entry.digest = register_digest(entry)
    session.add(entry)
    for stored in document.files:
        stored.text = ""
    jobs.cancel_for_files(session, [f.id for f in document.files], jobs.DESTROYED)
    document.status = Status.PURGING.value
    item.state, item.destroyed_at = ItemState.PURGING.value, moment
    session.flush()
    audit.record(session, actor, "destruction.registered", document, number=batch.number,
                 register=entry.id, digest=entry.digest,
                 files=[f.sha256 for f in document.files])
    if journal is not None:
        record = journal_entry(entry)
        work.after_commit(session, lambda: backup.append_journal(journal, record))


def _purge(session, store, document_id: int) -> None:
    """Step 2: the index entry, then (holding the write lock) the blobs no kept document
    refers to, and the tombstone becomes 已销毁. Safe to run again."""
    indexing.remove(document_id)
    with work.unit(session):
        # The write first: it takes SQLite's write lock, under which uploads store blobs.
        session.execute(update(Document).where(Document.id == document_id)
                        .values(status=Status.DESTROYED.value))
        digests = set(session.execute(
            select(StoredFile.sha256).where(StoredFile.document_id == document_id)).scalars())
        # A DOCX's PDF access copy holds the same content: it goes with it (issue 18).
        digests |= set(session.execute(
            select(StoredFile.access_copy_sha256).where(
                StoredFile.document_id == document_id,
                StoredFile.access_copy_sha256.is_not(None))).scalars())
        kept_copies = set(session.execute(
            select(StoredFile.access_copy_sha256).join(Document, Document.id == StoredFile.document_id)
            .where(StoredFile.access_copy_sha256.in_(digests),
                   Document.status.not_in([Status.PURGING.value, Status.DESTROYED.value])))
            .scalars())
        kept = kept_copies | set(session.execute(
            select(StoredFile.sha256).join(Document, Document.id == StoredFile.document_id)
            .where(StoredFile.sha256.in_(digests),
                   Document.status.not_in([Status.PURGING.value, Status.DESTROYED.value])))
            .scalars())
        kept |= set(session.execute(
            select(LoanFile.sha256).where(LoanFile.sha256.in_(digests))).scalars())
        for digest in digests - kept:
            store.delete(digest)
        session.execute(update(DestructionItem)
                        .where(DestructionItem.document_id == document_id,
                               DestructionItem.state == ItemState.PURGING.value)
                        .values(state=ItemState.DESTROYED.value))
        _close_if_emptied(session, document_id)


def _close_if_emptied(session, document_id: int) -> None:
    """A dossier counts as destroyed when its last document is (withdrawn ones aside)."""
    dossier = session.get(Document, document_id).dossier
    left = session.execute(select(Document.id).where(
        Document.dossier_id == dossier.id,
        Document.status.not_in([Status.DESTROYED.value, "withdrawn"])).limit(1)).first()
    if left is None and dossier.status != DossierStatus.DESTROYED.value:
        dossier.status = DossierStatus.DESTROYED.value
        audit.record(session, None, "dossier.destroyed", dossier, number=dossier.number)


def execute(session, actor: User, batch_id, data: dict, *, store, journal=None) -> Destruction:
    """Run an approved batch. Opens its own units — one to start, two per item, one to
    finish — so call it outside a unit. A refusal changes nothing and is audited."""
    with work.unit(session):
        batch = _start(session, actor, batch_id, data)
        batch_id = batch.id
    sweep(session, store)  # anything a crash left 待清除, this batch's included
    while True:
        with work.unit(session):
            # Claimed atomically: a second executor of the same batch takes other items.
            item = session.execute(
                select(DestructionItem).where(DestructionItem.destruction_id == batch_id,
                                              DestructionItem.state == ItemState.LISTED.value)
                .order_by(DestructionItem.seq).limit(1).with_for_update()
                .execution_options(populate_existing=True)).scalar_one_or_none()
            if item is None:
                break
            claimed = session.execute(
                update(DestructionItem).where(DestructionItem.id == item.id,
                                              DestructionItem.state == ItemState.LISTED.value)
                .values(state=ItemState.PURGING.value)).rowcount
            if not claimed:
                continue
            batch = session.get(Destruction, batch_id)
            session.refresh(item)
            document_id = item.document_id
            # Holds are checked again item by item: one placed during a long run stops it.
            covered = holds.held(session, [item.document]).get(document_id)
            if covered:
                item.state = ItemState.EXCLUDED.value
                item.note = f"执行中被冻结：{covered[0].reason}"
                audit.record(session, actor, "destruction.item_dropped", batch,
                             number=batch.number, document=document_id, reason=item.note)
                continue
            _tombstone(session, actor, batch, item, journal)
        _purge(session, store, document_id)
    with work.unit(session):
        batch = session.get(Destruction, batch_id)
        batch.status, batch.finished_at = DestructionStatus.DONE.value, now()
        audit.record(session, actor, "destruction.executed", batch, number=batch.number,
                     destroyed=sum(i.state == ItemState.DESTROYED.value for i in batch.items))
    scrub(session)
    return session.get(Destruction, batch_id)


def sweep(session, store) -> int:
    """Finish every tombstone left 待清除 (a process killed between its two steps)."""
    pending = session.execute(
        select(Document.id).where(Document.status == Status.PURGING.value)).scalars().all()
    for document_id in pending:
        _purge(session, store, document_id)
    return len(pending)


def scrub(session) -> None:
    """After a batch: merge the search index so deleted documents leave its segments
    (a rebuild from the database, swapped in), and checkpoint SQLite's write-ahead log so
    the removed text is in neither the log nor (secure_delete) the database's free pages."""
    indexing.rebuild(session)
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    session.close()  # this session's read ends: a checkpoint waits for no reader of ours
    raw = bind.raw_connection()  # outside any transaction, as a checkpoint must be
    try:
        busy = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        raw.close()
    if busy:
        log.warning("WAL checkpoint after a destruction was blocked by a reader; "
                    "it completes at the next checkpoint")


# PostgreSQL keeps an updated row's old version (a destroyed file's text) in the table's
# pages until VACUUM; plain VACUUM frees the space but leaves the bytes in it until a later
# row overwrites them (tested: tests/test_destruction_scrub.py). VACUUM FULL writes the table
# anew, into a new file, and drops the old one. It holds the table's ACCESS EXCLUSIVE lock
# while it rewrites, so it runs from the worker's sweep, never in a request, and waits at
# most this long for the lock (every request queues behind a waiting VACUUM FULL).
COMPACT_LOCK_TIMEOUT = "5s"
# The one table a destruction removes content from (StoredFile.text); the rest of a
# tombstone (title, register) is kept by rule.
COMPACTED = "stored_files"


def compact_pending(session) -> list[int]:
    """The executed batches whose removed text PostgreSQL may still hold in dead rows."""
    scrubbed = select(AuditEvent.object_id).where(AuditEvent.action == "destruction.compacted",
                                                  AuditEvent.object_type == "destruction")
    ids = session.execute(select(Destruction.id).where(
        Destruction.status == DestructionStatus.DONE.value)).scalars().all()
    done = {int(i) for i in session.execute(scrubbed).scalars()}
    return [i for i in ids if i not in done]


def compact(session) -> int:
    """On PostgreSQL, once batches have been executed since the last time: VACUUM FULL the
    table that held their text, then record each batch as compacted (audited). Returns how
    many batches; 0 on SQLite (secure_delete and the checkpoint of `scrub` did it), when
    nothing waits, or when the lock was not had in COMPACT_LOCK_TIMEOUT (the next sweep
    tries again). Call it outside a unit."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return 0
    with work.unit(session):
        pending = compact_pending(session)
    if not pending:
        return 0
    # Read before the rewrite: a batch finishing meanwhile waits for the next sweep.
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.exec_driver_sql(f"SET lock_timeout = '{COMPACT_LOCK_TIMEOUT}'")
            conn.exec_driver_sql(f"VACUUM FULL {COMPACTED}")
        except sqlalchemy.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            log.warning("VACUUM FULL %s after destructions %s waited %s for its lock; "
                        "tried again at the next sweep", COMPACTED, pending, COMPACT_LOCK_TIMEOUT)
            return 0
        finally:  # the setting is the connection's: the pool would hand it on
            conn.exec_driver_sql("RESET lock_timeout")
    with work.unit(session):
        audit.hold_head(session)  # a second worker compacting meanwhile records first: seen
        still = set(compact_pending(session))
        for batch_id in (b for b in pending if b in still):
            audit.record(session, None, "destruction.compacted", ("destruction", batch_id),
                         table=COMPACTED)
    return len(pending)


def drop_item(session, actor: User, batch_id, document_id, data: dict) -> Destruction:
    """Take an item out of an approved, not finished batch (found held or on loan after
    approval), with a reason: the rest may then be executed. Nothing is added."""
    batch = get(session, actor, batch_id, lock=True)
    access.require(actor, "destruction.execute", batch, hide=False)
    error = _not_running(batch)
    if error is not None:
        _refuse(session, actor, batch, error, "destruction.drop_item")
    item = next((i for i in batch.items if i.document_id == validation.row_id(document_id)), None)
    if item is None:
        raise NotFound("清单中没有该文件")
    if item.state != ItemState.LISTED.value:
        _refuse(session, actor, batch, Conflict(
            f"该文件状态为“{item.state_enum.label}”，不能撤出", code="not_listed"),
            "destruction.drop_item")
    reason = validation.text(data, "reason", "撤出原因", required=True, max_len=500)
    item.state, item.note = ItemState.EXCLUDED.value, reason
    session.flush()
    audit.record(session, actor, "destruction.item_dropped", batch, number=batch.number,
                 document=item.document_id, reason=reason)
    if batch.status == DestructionStatus.APPROVED.value and not any(
            i.state == ItemState.LISTED.value for i in batch.items):
        # Nothing is left to destroy: the batch ends here, not 已批准 for good. (A run
        # killed mid-way, 销毁中, finishes with what it has: its next run closes it.)
        batch.status, batch.finished_at = DestructionStatus.EMPTIED.value, now()
        audit.record(session, actor, "destruction.emptied", batch, number=batch.number)
    return batch


# ---- the register --------------------------------------------------------------------


def register(session, user: User, *, batch: Destruction | None = None) -> list[RegisterEntry]:
    """The 销毁清册: every row, or a batch's, that the reader's clearance reaches."""
    if batch is None or not visible(user, batch):
        access.require(user, "destruction.list", hide=False)
    stmt = select(RegisterEntry).order_by(RegisterEntry.id)
    if batch is not None:
        stmt = stmt.where(RegisterEntry.destruction_id == batch.id)
    cap = access.reach(user)
    rows = session.execute(stmt).scalars().all()
    return [r for r in rows if cap.unrestricted or r.classification <= cap.max_level]


def register_row(session, document: Document) -> RegisterEntry | None:
    """The register row of a destroyed document (its tombstone's page shows it). Only a
    tombstone has one: the row and the status 待清除 are written in one transaction
    (_tombstone, and a restore's replay), so no other document is asked about."""
    if document.status not in (Status.PURGING.value, Status.DESTROYED.value):
        return None
    return session.execute(_register_row(), {"document": document.id}).scalar_one_or_none()


@functools.cache
def _register_row():
    # Built once: every document page asks it (as sessions._by_token).
    return select(RegisterEntry).where(RegisterEntry.document_id == bindparam("document"))


def destroyed_in(session, dossier) -> list[RegisterEntry]:
    return list(session.execute(
        select(RegisterEntry).join(Document, Document.id == RegisterEntry.document_id)
        .where(Document.dossier_id == dossier.id).order_by(RegisterEntry.id)).scalars())


def reapply(session, store, entries: list[dict]) -> int:
    """After a restore: every destruction the journal records that the restored database
    does not know is applied again (tombstone, register row, purge), so that a restore
    never resurrects destroyed content. Opens its own units; returns how many."""
    known = set(session.execute(select(RegisterEntry.document_id)).scalars())
    done = 0
    for entry in entries:
        document_id = entry["document_id"]
        if document_id in known:
            continue
        with work.unit(session):
            document = session.get(Document, document_id)
            if document is None:
                continue  # filed after the backup too: nothing of it was restored
            # The batch keeps its id (ids only grow: one the snapshot holds is the same
            # batch), so the row's digest is the journal's.
            batch = session.get(Destruction, entry["destruction_id"])
            if batch is None:
                batch = Destruction(id=entry["destruction_id"], number=entry["batch_number"],
                                    reason="（恢复后按销毁日志重放）",
                                    status=DestructionStatus.DONE.value,
                                    requested_by_id=document.created_by_id or session.execute(
                                        select(User.id).order_by(User.id).limit(1)).scalar())
                session.add(batch)
            batch.status = DestructionStatus.DONE.value
            fields = {k: entry[k] for k in REGISTER_FIELDS}
            fields["destroyed_at"] = datetime.fromisoformat(entry["destroyed_at"])
            row = RegisterEntry(digest=entry["digest"], **fields)
            session.add(row)
            for stored in document.files:
                stored.text = ""
            document.status = Status.PURGING.value
            session.flush()
            audit.record(session, None, "destruction.reapplied", document,
                         number=entry["batch_number"], register=row.id, digest=entry["digest"])
        _purge(session, store, document_id)
        done += 1
    return done


def verify_register(session) -> list[str]:
    """Each register row against its digest and the digest its audit event carries (the
    chain protects the event). Problems in words; empty when the register is intact."""
    from archive.models import AuditEvent

    events = {}
    for event in session.execute(
            select(AuditEvent).where(AuditEvent.action.in_(
                ("destruction.registered", "destruction.reapplied")))).scalars():
        details = json.loads(event.details or "{}")
        events[details.get("register")] = details.get("digest")
    problems = []
    rows = {}
    for entry in session.execute(select(RegisterEntry).order_by(RegisterEntry.id)).scalars():
        rows[entry.id] = entry
        digest = register_digest(entry)
        if digest != entry.digest or events.get(entry.id) != digest:
            problems.append(f"销毁清册第 {entry.id} 行（{entry.batch_number} 序号 {entry.seq}）"
                            "与其审计记录不符")
    problems += [f"审计记录登记的销毁清册第 {key} 行已不存在" for key in events if key not in rows]
    registered = {e.document_id for e in rows.values()}
    tombstones = session.execute(select(Document.id).where(
        Document.status.in_([Status.PURGING.value, Status.DESTROYED.value]))).scalars()
    problems += [f"已销毁的文件 {d} 在销毁清册中没有记录" for d in tombstones if d not in registered]
    return problems

