"""Custody and transfers (移交, docs/transfers.md).

- Custody: what the archive room files is its own at once; what staff, heads and the legal
  office file stays in their department's custody (部门保管 · 待移交) inside the customer's
  dossier until a transfer batch is received. Each such document has a deadline from the
  first rule that covers its category (rules are data, with their seed lines); a trigger
  date that is unknown gives no deadline, never a guess.
- A batch (移交清单) is prepared by the department, submitted (its receipt is the step of
  an approval request on the engine) and received item by item with counts and pages:
  the items that reconcile change custody in the receipt's transaction; the rest go back
  to the sender as a new batch with the reason. Both sides' names and times are kept.
- A handover (离职/调岗交接, 003:21) lists what a leaving or moving person holds; the
  receiver signs once nothing is out on loan or waiting for a receipt.
"""

import calendar
import csv
import io
import json
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from archive.clock import local, now, today
from archive.models import Department, Document, Dossier, Loan, Project, Unit, User
from archive.models.approval import ApprovalKind, ApprovalRequest, RequestStatus
from archive.models.enums import DocumentStatus, Role
from archive.models.loan import LoanKind, LoanStatus
from archive.models.transfer import (
    OPEN_BATCHES,
    BatchStatus,
    Custody,
    Handover,
    ItemOutcome,
    TransferBatch,
    TransferItem,
    TransferRule,
    Trigger,
)
from archive.services import (
    access,
    approvals,
    audit,
    preservation,
    spreadsheets,
    validation,
    workdays,
)
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound
from archive.services.retention import add_months

NOT_FOUND = "移交清单不存在"
ARCHIVE_ROOM = (Role.OFFICER, Role.GM_OFFICE)
MAX_ITEMS = 1000
SOON = timedelta(days=7)  # "due soon" on the dashboard


# ---- custody at filing and the deadline ------------------------------------------------


def assign(session, document: Document, actor: User) -> None:
    """At filing: the archive room's custody for what it files, else the filer's
    department's (待移交) with the filer as holder and the rule's deadline."""
    if Role(actor.role) in ARCHIVE_ROOM or actor.department_id is None:
        document.custody = Custody.ARCHIVE.value
        return
    document.custody = Custody.DEPARTMENT.value
    document.custody_department_id = actor.department_id
    document.custody_holder_id = actor.id
    rule = rule_for(session, document.category)
    document.transfer_rule = rule.key if rule else None
    document.transfer_due_on = due_date(session, document, rule) if rule else None


def rules(session) -> list[TransferRule]:
    return list(session.execute(select(TransferRule).order_by(TransferRule.position)).scalars())


def rule_for(session, category: str) -> TransferRule | None:
    return next((r for r in rules(session) if r.covers(category)), None)


def _workday_on_or_after(session, day: date) -> date:
    while not workdays.is_workday(session, day):
        day += timedelta(days=1)
    return day


def _quarter_end(day: date) -> date:
    month = (day.month - 1) // 3 * 3 + 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])


def _project_move_in(session, document: Document) -> date | None:
    unit = document.dossier.unit
    if unit is None:
        return None
    return session.execute(select(Project.move_in_on).where(
        Project.name == unit.project)).scalar_one_or_none()


def due_date(session, document: Document, rule: TransferRule) -> date | None:
    """The deadline the rule gives the document, or None when its trigger date is unknown."""
    filed = local(document.created_at or now()).date()
    match Trigger(rule.trigger):
        case Trigger.DOCUMENT_DATE:
            if document.doc_date is None:
                return None
            day = add_months(document.doc_date, rule.months)
            if rule.workdays:
                return workdays.add_workdays(session, day, rule.workdays)
        case Trigger.MOVE_IN:
            move_in = _project_move_in(session, document)
            if move_in is None:
                return None
            first = add_months(move_in, rule.months or 1)
            # Material filed after that first hand-over goes quarterly (000:758-760).
            day = first if filed <= first else _quarter_end(filed)
        case Trigger.HALF_YEAR:
            day = date(filed.year, 6, 30) if filed.month <= 6 else date(filed.year, 12, 31)
        case Trigger.CASE_CLOSED:
            closed = document.dossier.case_closed_on if document.dossier.kind == "case" else None
            if closed is None:
                return None
            day = add_months(closed, rule.months)
        case Trigger.NEXT_MONTH_10TH:
            first_next = date(filed.year + filed.month // 12, filed.month % 12 + 1, 1)
            day = first_next.replace(day=10)
    return _workday_on_or_after(session, day)


def refresh_deadlines(session, documents) -> None:
    """Recompute the deadlines of documents still in a department's custody (after a
    project's move-in date, a case's closing date or a rule changed)."""
    for document in documents:
        if document.custody != Custody.DEPARTMENT.value:
            continue
        rule = rule_for(session, document.category)
        document.transfer_rule = rule.key if rule else None
        document.transfer_due_on = due_date(session, document, rule) if rule else None


def describe_rule(rule: TransferRule) -> dict:
    return {"key": rule.key, "position": rule.position, "name": rule.name,
            "categories": rule.categories, "trigger": rule.trigger,
            "trigger_label": Trigger(rule.trigger).label, "workdays": rule.workdays,
            "months": rule.months, "seed_ref": rule.seed_ref}


def update_rule(session, actor: User, data: dict) -> TransferRule:
    """The administrator changes a rule's trigger and period; the deadlines of documents
    waiting in departments are recomputed; audited with old and new values."""
    access.require(actor, "transfer.rules", hide=False)
    key = validation.text(data, "key", "规则", required=True, max_len=30)
    rule = session.get(TransferRule, key)
    if rule is None:
        raise Invalid("没有这条移交期限规则", details={"field": "key"})
    before = describe_rule(rule)
    rule.trigger = validation.choice(data, "trigger", "起算", [t.value for t in Trigger],
                                     default=rule.trigger)
    for field, label in (("workdays", "工作日"), ("months", "月数")):
        value = validation.integer(data, field, label)
        if value is not None:
            if not 0 <= value <= 60:
                raise Invalid(f"{label}须在 0 到 60 之间", details={"field": field})
            setattr(rule, field, value)
    categories = validation.text(data, "categories", "类别", max_len=200)
    if categories:
        rule.categories = categories
    rule.updated_at, rule.updated_by_id = now(), actor.id
    session.flush()
    waiting = session.execute(select(Document).where(
        Document.custody == Custody.DEPARTMENT.value,
        Document.status == DocumentStatus.ACTIVE.value)).scalars().all()
    refresh_deadlines(session, waiting)
    audit.record(session, actor, "transfer.rule_changed", ("transfer_rule", key),
                 before=before, after=describe_rule(rule))
    return rule


def set_move_in(session, actor: User, data: dict) -> Project:
    """The administrator records a project's central move-in date (集中入伙日期): the
    deadlines of its 办证/入伙 material waiting in departments follow (000:758-760)."""
    access.require(actor, "transfer.rules", hide=False)
    name = validation.text(data, "project", "项目", required=True, max_len=100)
    project = session.execute(select(Project).where(Project.name == name)).scalar_one_or_none()
    if project is None:
        raise Invalid(f"项目不存在：{name}", details={"field": "project"})
    before = project.move_in_on
    project.move_in_on = validation.day(data, "move_in_on", "集中入伙日期")
    session.flush()
    waiting = session.execute(
        select(Document).join(Dossier, Dossier.id == Document.dossier_id)
        .join(Unit, Unit.id == Dossier.unit_id)
        .where(Unit.project == name, Document.custody == Custody.DEPARTMENT.value,
               Document.status == DocumentStatus.ACTIVE.value)).scalars().all()
    refresh_deadlines(session, waiting)
    audit.record(session, actor, "project.move_in_set", project, project=name,
                 before=before.isoformat() if before else None,
                 after=project.move_in_on.isoformat() if project.move_in_on else None)
    return project


# ---- batches ------------------------------------------------------------------------------


def _number(batch: TransferBatch) -> str:
    return f"YJ{local(batch.created_at).year}-{batch.id:04d}"


def _count(value, label: str, field: str) -> int:
    number = validation.integer({field: value}, field, label, required=True)
    if number < 0:
        raise Invalid(f"{label}不能为负数", details={"field": field})
    return number


def _listed(session, actor: User, data: dict) -> list[tuple[Document, int, int | None]]:
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise Invalid("请列出移交的文件（items）", code="no_items", details={"field": "items"})
    if len(items) > MAX_ITEMS:
        raise Invalid(f"一张移交清单最多 {MAX_ITEMS} 件", details={"field": "items"})
    rows, seen = [], set()
    for value in items:
        entry = value if isinstance(value, dict) else {"document_id": value}
        document_id = validation.row_id(entry.get("document_id"))
        if document_id is None:
            raise Invalid("文件编号须为正整数", details={"field": "items"})
        if document_id in seen:
            raise Invalid("同一文件在清单中列了两次", code="duplicate_item",
                          details={"field": "items"})
        seen.add(document_id)
        document = session.get(Document, document_id)
        if document is None or not access.may_read(actor, document):
            raise NotFound(f"文件不存在：{document_id}")
        count = _count(entry.get("count", 1), "份数", "count")
        pages = entry.get("pages", document.pages)
        pages = None if pages in (None, "") else _count(pages, "页数", "pages")
        rows.append((document, count, pages))
    return rows


def _check_items(session, department_id: int, documents: list[Document],
                 besides: int | None = None) -> None:
    for document in documents:
        if document.status != DocumentStatus.ACTIVE.value:
            raise Conflict(f"《{document.title}》已撤销或销毁，不能移交", code="not_active")
        if document.custody != Custody.DEPARTMENT.value \
                or document.custody_department_id != department_id:
            raise Conflict(f"《{document.title}》不在本部门保管中，不能由本部门移交",
                           code="not_in_custody")
    stmt = (select(TransferItem.document_id, TransferBatch.number)
            .join(TransferBatch, TransferBatch.id == TransferItem.batch_id)
            .where(TransferItem.document_id.in_([d.id for d in documents]),
                   TransferBatch.status.in_(OPEN_BATCHES)))
    if besides is not None:
        stmt = stmt.where(TransferBatch.id != besides)
    row = session.execute(stmt.limit(1)).first()
    if row is not None:
        raise Conflict(f"文件已列入移交清单 {row.number}", code="in_batch")


def receiving_units(session, actor: User) -> list[Department]:
    """The departments `actor`'s department may hand material to besides the archive
    room: those the administrator made receiving units (Department.receives)."""
    return [d for d in session.execute(
        select(Department).where(Department.receives != "").order_by(Department.name)
    ).scalars() if d.id != actor.department_id]


def _check_receiver(receiver: Department | None, documents: list[Document]) -> None:
    """A department receives only the categories it is the receiving unit of (客户事务组
    the sales site's material, 000:750); the archive room receives every one."""
    if receiver is None:
        return
    for document in documents:
        if not receiver.receives_category(document.category):
            accepted = receiver.receives.replace(",", "、") or "无"
            raise Invalid(f"{receiver.name}只接收这些类别的移交：{accepted}；"
                          f"《{document.title}》（{document.category}）请移交档案室",
                          code="not_received_here", details={"field": "to_department_id"})


def create(session, actor: User, data: dict) -> TransferBatch:
    """A department prepares a batch from what it holds (draft), to the archive room or
    to a receiving unit of the items' categories."""
    access.require(actor, "transfer.prepare", hide=False)
    rows = _listed(session, actor, data)
    to_department = None
    if data.get("to_department_id") not in (None, ""):
        to_department = session.get(Department, validation.row_id(
            data.get("to_department_id")) or -1)
        if to_department is None:
            raise Invalid("接收部门不存在", details={"field": "to_department_id"})
        if to_department.id == actor.department_id:
            raise Invalid("不能移交给本部门", details={"field": "to_department_id"})
        if not to_department.receives:
            raise Invalid(f"{to_department.name}不是移交接收单位（系统管理中可设其接收类别）",
                          code="not_a_receiver", details={"field": "to_department_id"})
    _check_items(session, actor.department_id, [d for d, _c, _p in rows])
    _check_receiver(to_department, [d for d, _c, _p in rows])
    batch = TransferBatch(from_department_id=actor.department_id,
                          to_department_id=to_department.id if to_department else None,
                          note=validation.text(data, "note", "说明", max_len=2000),
                          prepared_by_id=actor.id)
    session.add(batch)
    session.flush()
    batch.number = _number(batch)
    for seq, (document, count, pages) in enumerate(rows, 1):
        session.add(TransferItem(batch_id=batch.id, document_id=document.id, seq=seq,
                                 count=count, pages=pages))
    session.flush()
    session.refresh(batch)
    audit.record(session, actor, "transfer.prepared", batch, number=batch.number,
                 items=[d.id for d, _c, _p in rows],
                 to=to_department.name if to_department else "档案室")
    return batch


def visible(user: User, batch: TransferBatch) -> bool:
    """Its department, its receivers, and the archive's readers who may read every item."""
    role = Role(user.role)
    involved = (user.id in (batch.prepared_by_id, batch.received_by_id)
                or (user.department_id is not None and user.department_id in (
                    batch.from_department_id, batch.to_department_id))
                or (batch.to_department_id is None and role in ARCHIVE_ROOM)
                or role in access.ARCHIVE_WIDE)
    # A batch lists titles: only for who may read every item (a department's staff of a
    # lower clearance do not learn of its 秘密 items through it).
    return involved and all(access.may_read(user, i.document) for i in batch.items)


def get(session, user: User, batch_id, *, lock: bool = False) -> TransferBatch:
    stmt = select(TransferBatch).where(TransferBatch.id == (validation.row_id(batch_id) or -1))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    batch = session.execute(stmt).scalar_one_or_none()
    if batch is None:
        raise NotFound(NOT_FOUND)
    if not visible(user, batch):
        if access.can(user, "transfer.receive", batch) and batch.status in OPEN_BATCHES:
            # The receiving unit it is addressed to is told why, without a title: its
            # receiver must be able to read every item to check and sign for it.
            raise Forbidden("清单中有您无权查看的文件（其他部门的客户档案须经总经理授权查阅，"
                            "或密级高于您的密级），不能查看或签收这份移交清单")
        raise NotFound(NOT_FOUND)
    return batch


def _sender(actor: User, batch: TransferBatch) -> None:
    if not access.can(actor, "transfer.send", batch):
        raise Forbidden("只有移交部门可以提交或撤回移交清单")


def submit(session, actor: User, batch_id) -> TransferBatch:
    """Send the batch: its receipt becomes the approval step of the receiving unit."""
    batch = get(session, actor, batch_id, lock=True)
    _sender(actor, batch)
    if batch.status != BatchStatus.DRAFT.value:
        raise Conflict(f"移交清单 {batch.number} 状态为“{batch.status_enum.label}”，不能再提交",
                       code="not_draft")
    documents = [i.document for i in batch.items]
    _check_items(session, batch.from_department_id, documents, besides=batch.id)
    _check_receiver(batch.to_department, documents)  # its categories may have changed since
    batch.status, batch.submitted_at = BatchStatus.SUBMITTED.value, now()
    approvals.file(session, actor, ApprovalKind.TRANSFER_RECEIPT, reason=batch.note or "移交",
                   subject=batch, subject_level=max(int(d.access_level) for d in documents))
    audit.record(session, actor, "transfer.submitted", batch, number=batch.number)
    return batch


def withdraw(session, actor: User, batch_id) -> TransferBatch:
    """The sender takes back a draft, or a submitted batch not yet received."""
    batch = get(session, actor, batch_id, lock=True)
    _sender(actor, batch)
    if batch.status == BatchStatus.SUBMITTED.value:
        approvals.withdraw(session, actor, pending_request(session, batch).id)
        return batch
    if batch.status != BatchStatus.DRAFT.value:
        raise Conflict(f"移交清单 {batch.number} 状态为“{batch.status_enum.label}”，不能撤回",
                       code="not_open")
    batch.status = BatchStatus.WITHDRAWN.value
    audit.record(session, actor, "transfer.withdrawn", batch, number=batch.number)
    return batch


def requests_of(session, batch: TransferBatch) -> list[ApprovalRequest]:
    return approvals.for_subject(session, batch, [ApprovalKind.TRANSFER_RECEIPT])


def pending_request(session, batch: TransferBatch) -> ApprovalRequest:
    request = next((r for r in requests_of(session, batch)
                    if r.status == RequestStatus.PENDING.value), None)
    if request is None:
        raise Conflict(f"移交清单 {batch.number} 未在待接收状态", code="not_submitted")
    return request


def receive(session, actor: User, batch_id, data: dict) -> TransferBatch:
    """The receiver checks counts and pages item by item and signs: the receipt decides
    the batch's approval step (the engine's guards: not the sender, named, cleared)."""
    batch = get(session, actor, batch_id, lock=True)
    if not access.can(actor, "transfer.receive", batch):
        raise Forbidden(f"只有接收单位（{batch.receiver_name}）可以签收")
    if batch.status != BatchStatus.SUBMITTED.value:
        raise Conflict(f"移交清单 {batch.number} 状态为“{batch.status_enum.label}”，不能接收",
                       code="not_submitted")
    request = pending_request(session, batch)
    note = validation.text(data, "note", "接收意见", max_len=2000)
    approvals.approve(session, actor, request.id, note, data)
    return batch


def _outcomes(session, actor: User, request: ApprovalRequest, data: dict) -> dict:
    """The engine's prepare step for a receipt: per item the counted copies and pages."""
    batch = request.transfer
    given = data.get("items")
    if not isinstance(given, list):
        raise Invalid("请逐件填写清点结果（items：document_id、count、pages）",
                      code="no_counts", details={"field": "items"})
    by_id = {}
    for entry in given:
        if not isinstance(entry, dict):
            raise Invalid("每件的清点结果须为对象", details={"field": "items"})
        document_id = validation.row_id(entry.get("document_id"))
        if document_id is None or document_id not in {i.document_id for i in batch.items}:
            raise Invalid("清点结果中有不在清单上的文件", code="not_listed",
                          details={"field": "items"})
        if document_id in by_id:
            raise Invalid("同一文件清点了两次", details={"field": "items"})
        by_id[document_id] = entry
    outcomes = {}
    for item in batch.items:
        entry = by_id.get(item.document_id)
        if entry is None or validation.flag(entry, "missing", "缺失"):
            note = validation.text(entry or {}, "note", "说明", max_len=500)
            outcomes[item.id] = (ItemOutcome.MISSING.value, 0, 0, note or "未交到")
            continue
        count = _count(entry.get("count"), "份数", "count")
        pages = entry.get("pages")
        pages = None if pages in (None, "") else _count(pages, "页数", "pages")
        note = validation.text(entry, "note", "说明", max_len=500)
        if validation.flag(entry, "damaged", "破损"):
            outcome = ItemOutcome.DAMAGED.value
        elif count != item.count or (item.pages is not None and pages != item.pages):
            outcome = ItemOutcome.SHORT.value
        else:
            outcome = ItemOutcome.RECEIVED.value
        outcomes[item.id] = (outcome, count, pages, note)
    return {"outcomes": outcomes}


def _apply_receipt(session, actor: User, request: ApprovalRequest, prepared: dict) -> None:
    """In the receipt's transaction: reconciled items change custody; the rest go back to
    the sender as a new batch with the reason."""
    batch = request.transfer
    moment = now()
    back = []
    for item in batch.items:
        outcome, count, pages, note = prepared["outcomes"][item.id]
        item.outcome, item.received_count, item.received_pages, item.note = (
            outcome, count, pages, note)
        if outcome == ItemOutcome.RECEIVED.value:
            document = item.document
            if batch.to_department_id is None:
                document.custody = Custody.ARCHIVE.value
                document.custody_department_id = None
                document.custody_holder_id = None
            else:
                document.custody_department_id = batch.to_department_id
                document.custody_holder_id = actor.id
            document.transfer_due_on = None
        else:
            back.append(item)
    batch.received_by_id, batch.received_at = actor.id, moment
    # 四性检测 (DA/T 70, 移交接收环节) of what is received: the receipt carries the result.
    checked = preservation.record_receipt(
        session, batch, [i.document for i in batch.items if i not in back])
    batch.receipt_note = request.steps[-1].note if request.steps else ""
    batch.status = (BatchStatus.RECEIVED if not back else
                    BatchStatus.REFUSED if len(back) == len(batch.items) else
                    BatchStatus.PARTLY_RECEIVED).value
    returned = _return(session, batch, back, "；".join(
        f"《{i.document.title}》{ItemOutcome(i.outcome).label}{('：' + i.note) if i.note else ''}"
        for i in back)) if back else None
    audit.record(session, actor, "transfer.received", batch, number=batch.number,
                 received=[i.document_id for i in batch.items if i not in back],
                 returned=[i.document_id for i in back],
                 returned_batch=returned.number if returned else None,
                 preservation=checked["counts"])


def _return(session, batch: TransferBatch, items: list[TransferItem], reason: str):
    returned = TransferBatch(from_department_id=batch.from_department_id,
                             to_department_id=batch.to_department_id,
                             note=batch.note, prepared_by_id=batch.prepared_by_id,
                             returned_from_id=batch.id, return_reason=reason)
    session.add(returned)
    session.flush()
    returned.number = _number(returned)
    for seq, item in enumerate(items, 1):
        session.add(TransferItem(batch_id=returned.id, document_id=item.document_id, seq=seq,
                                 count=item.count, pages=item.pages))
    session.flush()
    return returned


def _ended(session, actor: User, request: ApprovalRequest) -> None:
    batch = request.transfer
    if request.status == RequestStatus.WITHDRAWN.value:
        batch.status = BatchStatus.WITHDRAWN.value
        audit.record(session, actor, "transfer.withdrawn", batch, number=batch.number)
        return
    # Refused as a whole: everything goes back with the receiver's reason.
    reason = next((s.note for s in request.steps if s.decision == "rejected"), "") or "退回"
    batch.status = BatchStatus.REFUSED.value
    batch.received_by_id, batch.received_at = actor.id, now()
    returned = _return(session, batch, list(batch.items), reason)
    audit.record(session, actor, "transfer.refused", batch, number=batch.number,
                 returned_batch=returned.number, reason=reason)


def _stale(session, request: ApprovalRequest) -> str | None:
    batch = request.transfer
    try:
        _check_items(session, batch.from_department_id, [i.document for i in batch.items],
                     besides=batch.id)
    except Conflict as exc:
        return exc.message
    return None


def _describe(request: ApprovalRequest, viewer: User) -> str:
    batch = request.transfer
    pages = sum(i.pages or 0 for i in batch.items)
    return (f"移交清单 {batch.number}：{batch.from_department.name} → {batch.receiver_name}，"
            f"{len(batch.items)} 件，{pages} 页")


approvals.effect(ApprovalKind.TRANSFER_RECEIPT, approvals.Handler(
    describe=_describe, apply=_apply_receipt, stale=_stale, prepare=_outcomes, ended=_ended))


def listing(session, user: User, *, department=None, status: str = "") -> list[TransferBatch]:
    access.require(user, "transfer.list", hide=False)
    stmt = (select(TransferBatch).options(selectinload(TransferBatch.items))
            .order_by(TransferBatch.id.desc()))
    if department not in (None, ""):
        stmt = stmt.where(or_(TransferBatch.from_department_id == validation.row_id(department),
                              TransferBatch.to_department_id == validation.row_id(department)))
    if status:
        if status not in {s.value for s in BatchStatus}:
            raise Invalid("状态不正确", details={"field": "status"})
        stmt = stmt.where(TransferBatch.status == status)
    return [b for b in session.execute(stmt).scalars() if visible(user, b)]


# ---- the dashboard and the register ------------------------------------------------------


def waiting(session, user: User, department_id: int | None = None) -> list[Document]:
    """Documents in a department's custody the user may see: the user's own department,
    or every department for the archive room, the GM and the auditor."""
    stmt = (select(Document).join(Dossier, Dossier.id == Document.dossier_id)
            .where(Document.custody == Custody.DEPARTMENT.value,
                   Document.status == DocumentStatus.ACTIVE.value)
            .options(selectinload(Document.dossier), selectinload(Document.custody_department))
            .order_by(Document.transfer_due_on.is_(None), Document.transfer_due_on, Document.id))
    if Role(user.role) not in access.ARCHIVE_WIDE:
        department_id = user.department_id or -1
    if department_id is not None:
        stmt = stmt.where(Document.custody_department_id == department_id)
    return access.visible_documents(user, session.execute(stmt).scalars().all())


def dashboard(session, user: User) -> dict:
    """Per department: overdue (with days), due within a week, without a deadline, and
    items received in the last 30 days."""
    access.require(user, "transfer.list", hide=False)
    moment = today()
    rows: dict[str, dict] = {}
    for document in waiting(session, user):
        name = document.custody_department.name if document.custody_department else ""
        row = rows.setdefault(name, {"department": name, "overdue": [], "due_soon": [],
                                     "no_deadline": [], "later": [], "received": 0})
        due = document.transfer_due_on
        if due is None:
            row["no_deadline"].append(document)
        elif due < moment:
            row["overdue"].append(document)
        elif due - moment <= SOON:
            row["due_soon"].append(document)
        else:
            row["later"].append(document)
    since = now() - timedelta(days=30)
    received = session.execute(
        select(Department.name, func.count(TransferItem.id))
        .join(TransferBatch, TransferBatch.from_department_id == Department.id)
        .join(TransferItem, TransferItem.batch_id == TransferBatch.id)
        .where(TransferItem.outcome == ItemOutcome.RECEIVED.value,
               TransferBatch.received_at >= since)
        .group_by(Department.name)).all()
    for name, count in received:
        if Role(user.role) in access.ARCHIVE_WIDE or (user.department and
                                                      user.department.name == name):
            rows.setdefault(name, {"department": name, "overdue": [], "due_soon": [],
                                   "no_deadline": [], "later": [], "received": 0})
            rows[name]["received"] = count
    return {"today": moment, "departments": sorted(rows.values(), key=lambda r: r["department"])}


REGISTER_COLUMNS = ("移交清单", "移交部门", "接收单位", "移交人", "提交时间", "接收人", "接收时间",
                    "档案号", "题名", "份数", "页数", "实收份数", "实收页数", "结果", "说明")


def register_rows(session, user: User) -> list[list[str]]:
    """移交登记簿: every item of every batch the user may see that has been received."""
    rows = []
    for batch in reversed(listing(session, user)):
        if batch.received_at is None:
            continue
        for item in batch.items:
            rows.append([
                batch.number, batch.from_department.name, batch.receiver_name,
                batch.prepared_by.display_name,
                f"{local(batch.submitted_at):%Y-%m-%d %H:%M}" if batch.submitted_at else "",
                batch.received_by.display_name if batch.received_by else "",
                f"{local(batch.received_at):%Y-%m-%d %H:%M}", item.document.dossier.number,
                item.document.title, str(item.count), "" if item.pages is None else str(item.pages),
                "" if item.received_count is None else str(item.received_count),
                "" if item.received_pages is None else str(item.received_pages),
                item.outcome_enum.label if item.outcome_enum else "", item.note])
    return rows


def register_csv(session, user: User) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_COLUMNS)
    writer.writerows(spreadsheets.row(row) for row in register_rows(session, user))
    return "\ufeff" + out.getvalue()


# ---- staff handover (离职/调岗交接) -----------------------------------------------------------


def _person(session, value, label: str, field: str) -> User:
    name = value if isinstance(value, str) else None
    user = session.execute(select(User).where(User.username == (name or "").strip())
                           ).scalar_one_or_none() if name else None
    if user is None:
        raise Invalid(f"{label}不存在", details={"field": field})
    return user


def open_handover(session, actor: User, data: dict) -> Handover:
    access.require(actor, "handover.start", hide=False)
    person = _person(session, data.get("person"), "交接人", "person")
    receiver = _person(session, data.get("receiver"), "接收人", "receiver")
    access.require(actor, "handover.open", person, hide=False)
    if person.id == receiver.id:
        raise Invalid("交接人和接收人须为不同的人", details={"field": "receiver"})
    if not receiver.active:
        raise Invalid("接收人的账号已停用", details={"field": "receiver"})
    if Role(receiver.role) in (Role.ADMIN, Role.AUDITOR):
        raise Invalid("系统管理员和审计员不接收交接", details={"field": "receiver"})
    _receiver_reads(receiver, outstanding(session, person)["documents"], Invalid,
                    details={"field": "receiver"})
    kind = validation.choice(data, "kind", "交接类型", ["leave", "move"], default="leave")
    existing = session.execute(select(Handover).where(
        Handover.person_id == person.id, Handover.signed_at.is_(None))).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"{person.display_name} 已有未完成的交接（编号 {existing.id}）",
                       code="open_handover")
    handover = Handover(person_id=person.id, receiver_id=receiver.id, kind=kind,
                        reason=validation.text(data, "reason", "原因", max_len=1000),
                        opened_by_id=actor.id)
    session.add(handover)
    session.flush()
    audit.record(session, actor, "handover.opened", handover, person=person.username,
                 receiver=receiver.username, kind=kind)
    return handover


def outstanding(session, person: User) -> dict:
    """What the person still holds: paper originals out on loan to them, batches they
    prepared not yet received, documents held in their department's custody."""
    loans = session.execute(select(Loan).where(
        Loan.borrower_id == person.id, Loan.kind == LoanKind.OUT.value,
        Loan.status == LoanStatus.OUT.value)).scalars().all()
    batches = session.execute(select(TransferBatch).where(
        TransferBatch.prepared_by_id == person.id,
        TransferBatch.status.in_(OPEN_BATCHES))).scalars().all()
    held = session.execute(select(Document).where(
        Document.custody_holder_id == person.id, Document.custody == Custody.DEPARTMENT.value,
        Document.status == DocumentStatus.ACTIVE.value)).scalars().all()
    return {"loans": list(loans), "batches": list(batches), "documents": list(held)}


def _receiver_reads(receiver: User, documents: list[Document], error, **kwargs) -> None:
    """Refuse a receiver who may not read every document handed over: they would hold
    what they cannot open. The documents are counted, not named (the one who asks may
    not see them either)."""
    hidden = [d for d in documents if not access.may_read(receiver, d)]
    if hidden:
        raise error(f"接收人无权查阅交接的 {len(hidden)} 份文件（超出其密级或部门范围），"
                    "请改由有权查阅的人接收", **kwargs)


def handover_visible(user: User, handover: Handover) -> bool:
    """Those it names, who may open it, and the archive's readers (the auditor, the GM)."""
    return user.id in (handover.person_id, handover.receiver_id, handover.opened_by_id) \
        or Role(user.role) in access.ARCHIVE_WIDE \
        or access.can(user, "handover.open", handover.person)


def get_handover(session, user: User, handover_id) -> Handover:
    handover = session.get(Handover, validation.row_id(handover_id) or -1)
    if handover is None or not access.can(user, "handover.view", handover):
        raise NotFound("交接记录不存在")
    return handover


def sign_handover(session, actor: User, handover_id) -> Handover:
    """The receiver signs: the documents and draft batches pass to them. Refused while a
    paper original is out on loan to the person or a batch of theirs awaits its receipt
    (003:21: nothing is taken away)."""
    handover = get_handover(session, actor, handover_id)
    if not access.can(actor, "handover.sign", handover):
        raise Forbidden("只有接收人可以签收交接")
    if not handover.open:
        raise Conflict("该交接已签收", code="signed")
    left = outstanding(session, handover.person)
    if left["loans"]:
        raise Conflict(f"交接人尚有 {len(left['loans'])} 笔借出的原件未归还："
                       + "、".join(loan.number for loan in left["loans"]), code="loans_out")
    waiting_receipt = [b for b in left["batches"] if b.status == BatchStatus.SUBMITTED.value]
    if waiting_receipt:
        raise Conflict("交接人提交的移交清单尚待接收：" + "、".join(b.number for b in waiting_receipt),
                       code="batches_pending")
    _receiver_reads(handover.receiver, left["documents"], Conflict,
                    code="receiver_cannot_read")
    for document in left["documents"]:
        document.custody_holder_id = handover.receiver_id
    for batch in left["batches"]:
        batch.prepared_by_id = handover.receiver_id
    handover.signed_at = now()
    handover.handed_json = json.dumps({"documents": [d.id for d in left["documents"]],
                                       "batches": [b.number for b in left["batches"]]},
                                      ensure_ascii=False)
    audit.record(session, actor, "handover.signed", handover,
                 documents=len(left["documents"]), batches=len(left["batches"]))
    return handover


def open_handovers(session, user: User) -> list[Handover]:
    rows = session.execute(select(Handover).where(Handover.signed_at.is_(None))
                           .order_by(Handover.id)).scalars().all()
    return [h for h in rows if handover_visible(user, h)]
