"""Corrections of the catalogue (issue 18): a customer's, a dossier's and a document's
data, each in the caller's unit of work and audited with the old and new values.

The bytes of a document never change, and fields that follow rules of their own are
refused here with the way to change them: a document's level (the level-change
approval), its retention (the retention schedule and appraisal), a dossier's status
(封卷). Whatever a correction changes that the search index holds (a customer's name or
department, a dossier's unit, a document's title or place) re-indexes the documents it
touches once the unit has committed. Who may correct what: docs/corrections.md.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select, update

from archive import clock
from archive.models import AuditEvent, Customer, Document, Dossier, User, utc_cutover
from archive.models.enums import (
    CASE_GROUP,
    DEFAULT_GROUP_FOR_CATEGORY,
    GROUPS,
    DocumentStatus,
    DossierStatus,
)
from archive.services import (
    access,
    audit,
    customers,
    duplicates,
    filing,
    indexing,
    loans,
    numbering,
    personal_data,
    retention,
    validation,
    work,
)
from archive.services.customers import KINDS, get_or_404
from archive.services.errors import Conflict, Invalid

CUSTOMER_FIELDS = {"name": "客户名称", "kind": "客户类型", "id_number": "证件号码",
                   "phone": "联系电话", "address": "联系地址", "grade": "客户等级",
                   "scale": "客户规模", "department": "负责部门", "notes": "备注"}
# What a customer's own department may correct (docs/corrections.md).
CONTACT_FIELDS = ("phone", "address", "notes")
DOSSIER_FIELDS = {"title": "题名", "location": "保存地点", "unit": "房产", "remarks": "备考",
                  "compiled_by": "立卷人", "checked_by": "检查人"}
UNIT_PARTS = ("project", "building", "unit_no", "room")
DOCUMENT_FIELDS = {"title": "题名", "date": "日期", "category": "类别", "group": "分组",
                   "dossier": "档案", "carrier": "载体", "pages": "页数",
                   "originator": "责任者", "document_number": "文号", "remarks": "备注"}
# Fields a correction does not change, and where they are changed instead.
RULED = {
    "classification": "密级只能通过密级变更审批更改（文件页或档案页的“申请变更密级”）",
    "retention": "保管期限只能通过保管期限表和鉴定更改，不能直接更正",
    "status": "状态不能直接更正：封卷由档案室在保管期限工作中办理，撤销归档请用“撤销归档”",
    "code": "客户编号已印在档案上，不能更正",
    "number": "档案号已印在封面和架位上，不能更正",
    "files": "电子文件的内容永不改变，不能更正；归档有误的文件请撤销归档后重新归档",
    "sha256": "电子文件的内容永不改变，不能更正；归档有误的文件请撤销归档后重新归档",
    "seq": "顺序号从不重用，不能更正；移到其他分组或档案时自动取新号",
    "department_id": "文件的责任部门随客户的负责部门，请更正客户的负责部门",
    "kind": "档案类型不能更正",
}
# The audit actions a change history shows, per kind of object.
HISTORY_ACTIONS = {
    "customer": ("customer.created", "customer.corrected", "customer.merged",
                 "customer.merged_into", "customer.confirmed_different"),
    "dossier": ("dossier.created", "dossier.corrected", "dossier.referenced",
                "dossier.reference_removed", "dossier.moved_by_merge"),
    "document": ("document.uploaded", "document.corrected", "document.moved",
                 "document.withdrawn"),
}
# Keys a web form sends besides the fields.
FORM_PLUMBING = ("csrf_token", "reason")


def _fields(data: dict, allowed: dict, what: str, ignore: tuple = ()) -> dict:
    """The correctable fields `data` names; a ruled or unknown field refuses the whole
    request (422), so a client never believes a change was made that was not."""
    for key in data:
        if key in FORM_PLUMBING or key in ignore:
            continue
        if key in RULED and key not in allowed:
            raise Invalid(RULED[key], code="not_correctable", details={"field": key})
        if key not in allowed:
            raise Invalid(f"{what}没有可更正的字段 {key}；可更正：{'、'.join(allowed.values())}",
                          code="unknown_field", details={"field": key})
    return {k: v for k, v in data.items() if k in allowed}


def _reason(data: dict) -> str:
    return validation.text(data, "reason", "更正原因", max_len=500)


def _changes(obj, new: dict) -> dict:
    """{field: [old, new]} for the values that differ."""
    return {k: [getattr(obj, k), v] for k, v in new.items() if getattr(obj, k) != v}


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def _record(session, actor: User, action: str, obj, changes: dict, reason: str,
            **extra) -> dict:
    """Audit the correction; returns the changes as recorded (dates as ISO text)."""
    plain = {k: [_plain(o), _plain(n)] for k, (o, n) in changes.items()}
    audit.record(session, actor, action, obj, reason=reason, changes=plain, **extra)
    return plain


def reindex(session, document_ids) -> None:
    """Flag the documents for the index in this unit, and index them once it commits
    (a process killed in between leaves them flagged: see indexing)."""
    ids = sorted(set(document_ids))
    if not ids:
        return
    indexing.flag(session, ids)
    work.after_commit(session, lambda: indexing.index_after_commit(session, ids))


def customer_document_ids(session, customer_id: int) -> list[int]:
    return list(session.execute(
        select(Document.id).join(Dossier, Document.dossier_id == Dossier.id)
        .where(Dossier.customer_id == customer_id)).scalars())


# -- customers ---------------------------------------------------------------------------

def correct_customer(session, actor: User, customer_id, data: dict) -> tuple[Customer, dict]:
    """Correct a customer's data; returns the customer and the changes made ({} when the
    values were already so). Contact data (phone, address, notes) is the own department's
    to correct as well; the rest, the department included, the archive room's. A new
    department moves the customer's documents with it (access and search follow)."""
    customer = get_or_404(session, Customer, customer_id)
    access.require(actor, "customer.view", customer)
    given = _fields(data, CUSTOMER_FIELDS, "客户", ignore=("confirm_different",))
    if not given:
        raise Invalid("没有要更正的字段", code="nothing_to_correct")
    reason = _reason(data)
    new = {}
    if "name" in given:
        new["name"] = validation.text(given, "name", "客户名称", required=True)
    if "kind" in given:
        new["kind"] = validation.choice(given, "kind", "客户类型", list(KINDS))
    if "id_number" in given:
        new["id_number"] = personal_data.id_number(given, new.get("kind", customer.kind))
    if "phone" in given:
        new["phone"] = personal_data.phone(given)
    if "address" in given:
        new["address"] = validation.text(given, "address", "联系地址", max_len=300)
    new.update(customers.grade_and_scale(given, grade_default=None, scale_default=None))
    if "notes" in given:
        new["notes"] = validation.text(given, "notes", "备注", max_len=2000)
    if "department" in given:
        new["department_id"] = customers.find_department(session, given["department"]).id
    changes = _changes(customer, new)
    if not changes:
        return customer, {}
    if set(changes) - set(CONTACT_FIELDS):
        access.require(actor, "customer.correct", customer, hide=False)
    else:
        access.require(actor, "customer.correct_contacts", customer, hide=False)
    if customer.merged_into_id is not None:
        raise Conflict("该客户已并入其他客户，请更正合并后的客户", code="merged_customer")
    same = []
    if {"name", "id_number", "phone"} & set(changes):
        # Only what the correction changes is compared: a likeness confirmed before (the
        # same ID number, another person) does not stop a later change of the address.
        after = {k: new.get(k, getattr(customer, k)) for k in ("name", "id_number", "phone")}
        if "id_number" not in changes:
            after["id_number"] = ""
        if not {"name", "phone"} & set(changes):
            after["phone"] = ""
        same = duplicates.check_customer(session, actor, **after, exclude_id=customer.id,
                                         confirm=validation.flag(data, "confirm_different", "确认不是同一客户"))
    for key, (_old, value) in changes.items():
        setattr(customer, key, value)
    if "department_id" in changes:
        old, dept = changes.pop("department_id")
        changes["department"] = [_department_name(session, old), _department_name(session, dept)]
        # Every document answers to its customer's department (filing.preflight).
        session.execute(update(Document).where(Document.id.in_(
            customer_document_ids(session, customer.id))).values(department_id=dept))
    session.flush()
    _record(session, actor, "customer.corrected", customer, changes, reason)
    if same:
        audit.record(session, actor, "customer.confirmed_different", customer,
                     others=[c.code for c in same])
    if {"name", "department"} & set(changes):  # both are in the index
        reindex(session, customer_document_ids(session, customer.id))
    return customer, changes


def _department_name(session, department_id) -> str:
    from archive.models import Department

    department = session.get(Department, department_id)
    return department.name if department else str(department_id)


# -- history -----------------------------------------------------------------------------

@dataclass
class Change:
    """One line of a change history: who did what when, and each field's old and new."""

    at: datetime
    actor: str
    action: str
    changes: dict[str, list]  # {field: [old, new]}, masked for the viewer
    reason: str
    details: dict

    @property
    def fields(self) -> list[tuple[str, object, object]]:
        """The changes as (label, old, new), for a page."""
        return [(LABELS.get(k, k), old, new) for k, (old, new) in self.changes.items()]


LABELS = {**CUSTOMER_FIELDS, **DOSSIER_FIELDS, **DOCUMENT_FIELDS,
          "department": "负责部门", "doc_date": "日期", "location": "保存地点",
          "place": "位置", "customer": "客户"}


@functools.cache
def _history_events(kind: str):
    """The events of one `kind` of object (with its actor's name) that make its history.
    Built once per kind: every customer, dossier and document page asks it."""
    return (select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor_name, AuditEvent.action,
                   AuditEvent.details, User.display_name)
            .outerjoin(User, AuditEvent.actor_id == User.id)
            .where(AuditEvent.object_type == kind,
                   AuditEvent.object_id == bindparam("object_id"),
                   AuditEvent.action.in_(HISTORY_ACTIONS[kind]), AuditEvent.outcome == "ok")
            .order_by(AuditEvent.seq))


def history(session, viewer: User, obj) -> list[Change]:
    """The object's change history, oldest first, from the audit trail (the caller has
    checked that `viewer` may see the object). ID and telephone numbers in it are masked
    for a viewer who sees the customer's masked (personal_data.shown)."""
    import json

    kind = type(obj).__name__.lower()
    customer = obj if isinstance(obj, Customer) else (
        obj.customer if isinstance(obj, Dossier) else obj.dossier.customer)
    masked = not access.can(viewer, "customer.personal_data", customer)
    rows = work.rows(session, _history_events(kind), {"object_id": str(obj.id)}).all()
    cutover = utc_cutover(session) if rows else None
    result = []
    for event in rows:
        details = json.loads(event.details or "{}")
        changes = {k: [_masked(k, v) if masked else v for v in pair]
                   for k, pair in (details.get("changes") or {}).items()}
        reason = details.get("reason", "")
        result.append(Change(at=cutover.audit_time(event.seq, event.at),
                             actor=event.display_name or event.actor_name,
                             action=event.action, changes=changes,
                             reason=personal_data.mask_text(reason) if masked else reason,
                             details=details))
    return result


def _masked(field: str, value):
    if not isinstance(value, str) or not value:
        return value
    if field == "id_number":
        return personal_data.mask_id(value)
    if field == "phone":
        return personal_data.mask_phone(value)
    return personal_data.mask_text(value)


# -- dossiers ----------------------------------------------------------------------------

def correct_dossier(session, actor: User, dossier_id, data: dict) -> tuple[Dossier, dict]:
    """Correct a dossier's catalogue data (the archive room). Its number stays: it is
    printed on the cover and the shelf, whatever unit a correction names. A new unit
    must be one the customer has no other dossier for (一户一档)."""
    dossier = get_or_404(session, Dossier, dossier_id)
    access.require(actor, "dossier.view", dossier)
    access.require(actor, "dossier.correct", dossier, hide=False)
    data = _flat_unit(data)
    given = _fields(data, {**DOSSIER_FIELDS, **dict.fromkeys(UNIT_PARTS, "房产")}, "档案")
    if not given:
        raise Invalid("没有要更正的字段", code="nothing_to_correct")
    reason = _reason(data)
    new = {}
    for key, label, max_len in (("title", "题名", 200), ("location", "保存地点", 200),
                                ("remarks", "备考", 2000), ("compiled_by", "立卷人", 60),
                                ("checked_by", "检查人", 60)):
        if key in given:
            new[key] = validation.text(given, key, label, max_len=max_len,
                                       required=key == "title")
    unit = None
    if any(part in given for part in UNIT_PARTS):
        if dossier.unit is None:
            raise Invalid("诉讼案卷没有房产，不能更正房产", code="not_correctable",
                          details={"field": "unit"})
        current = {"project": dossier.unit.project, "building": dossier.unit.building,
                   "unit_no": dossier.unit.unit_no, "room": dossier.unit.room}
        unit = customers._unit(session, {**current, **{k: given[k] for k in UNIT_PARTS
                                                       if k in given}})
    changes = _changes(dossier, new)
    if unit is not None and unit.id != dossier.unit_id:
        if session.execute(select(Dossier.id).where(
                Dossier.customer_id == dossier.customer_id, Dossier.unit_id == unit.id)).first():
            raise Conflict("该客户在此房产已有档案（一户一档），不能把本档案改到同一房产",
                           code="duplicate_dossier")
        changes["unit"] = [dossier.unit.label, unit.label]
        dossier.unit_id = unit.id
        session.flush()
        session.expire(dossier, ["unit"])
    if not changes:
        return dossier, {}
    for key, (_old, value) in changes.items():
        if key != "unit":
            setattr(dossier, key, value)
    session.flush()
    _record(session, actor, "dossier.corrected", dossier, changes, reason)
    if "unit" in changes:  # the unit's label is in the index
        reindex(session, [d.id for d in dossier.documents])
    return dossier, changes


def _flat_unit(data: dict) -> dict:
    """The API sends a unit as {"unit": {"project", "building", "unit", "room"}}, as when
    opening a dossier; the form sends the four fields."""
    unit = data.get("unit")
    if not isinstance(unit, dict):
        if "unit" in data:
            raise Invalid("房产应为 {project, building, unit, room}", details={"field": "unit"})
        return data
    names = {"project": "project", "building": "building", "unit": "unit_no", "room": "room"}
    unknown = set(unit) - set(names)
    if unknown:
        raise Invalid(f"房产没有字段 {'、'.join(sorted(unknown))}", code="unknown_field",
                      details={"field": "unit"})
    flat = {k: v for k, v in data.items() if k != "unit"}
    flat.update({names[k]: v for k, v in unit.items()})
    return flat


# -- documents ---------------------------------------------------------------------------

def correct_document(session, actor: User, document_id, data: dict) -> tuple[Document, dict]:
    """Correct a document's catalogue data, or move it to another group or dossier (the
    archive room). A move takes the next sequence number of the group it goes to (numbers
    are never reused) and leaves a note on the old dossier's 备考表; it may not lower the
    level the document is protected at (that is a level change, which needs approval)."""
    document = get_or_404(session, Document, document_id)
    access.require(actor, "document.view", document)
    access.require(actor, "document.correct", document, hide=False)
    if document.status != DocumentStatus.ACTIVE.value:
        raise Conflict("已撤销归档或已销毁的文件不能更正", code="not_active")
    given = _fields(data, {**DOCUMENT_FIELDS, "dossier_id": "档案"}, "文件")
    if not given:
        raise Invalid("没有要更正的字段", code="nothing_to_correct")
    reason = _reason(data)
    new = {}
    for key, label, max_len in (("title", "题名", 300), ("originator", "责任者", 100),
                                ("document_number", "文号", 100), ("remarks", "备注", 2000)):
        if key in given:
            new[key] = validation.text(given, key, label, max_len=max_len,
                                       required=key == "title")
    if "category" in given:
        new["category"] = validation.category(given)
    if "carrier" in given:
        new["carrier"] = validation.carrier(given, None)
    if "date" in given:
        new["doc_date"] = validation.day(given, "date", "日期")
    if "pages" in given:
        new["pages"] = validation.integer(given, "pages", "页数")
        if new["pages"] is not None and new["pages"] < 0:
            raise Invalid("页数不能为负数", details={"field": "pages"})
    target, group_code = _destination(session, actor, document, given,
                                      new.get("category", document.category))
    changes = _changes(document, new)
    moved = (target.id, group_code) != (document.dossier_id, document.group.code)
    if not changes and not moved:
        return document, {}
    for key, (_old, value) in changes.items():
        setattr(document, key, value)
    extra = {}
    if moved:
        extra = _move(session, actor, document, target, group_code)
        changes["place"] = [extra.pop("from_place"), extra.pop("to_place")]
    if "doc_date" in changes:  # by the name the API and the form give it
        changes["date"] = changes.pop("doc_date")
    session.flush()
    if moved or {"category", "date"} & set(changes):
        # The disposal date follows the category's row and the dates it counts from; one
        # that would come earlier is listed for the officer (services/retention.py).
        retention.refresh(session, document)
    changes = _record(session, actor, "document.moved" if moved else "document.corrected",
                      document, changes, reason, **extra)
    reindex(session, [document.id])
    return document, changes


def _destination(session, actor: User, document: Document, given: dict,
                 category: str) -> tuple[Dossier, str]:
    """The dossier and group the correction puts the document in (where it is, unless
    the correction names another). A case file is one volume, whatever group is asked
    for; a document leaving one for a customer dossier goes to its category's group
    unless another is named."""
    target = document.dossier
    number = validation.text(given, "dossier", "档案号", max_len=120)
    target_id = validation.integer(given, "dossier_id", "档案")
    if number:
        target = session.execute(
            select(Dossier).where(Dossier.number == number)).scalar_one_or_none()
        if target is None:
            raise Invalid(f"档案不存在：{number}", details={"field": "dossier"})
    elif target_id is not None:
        target = session.get(Dossier, target_id) if validation.row_id(target_id) else None
        if target is None:
            raise Invalid("档案不存在", details={"field": "dossier_id"})
    if target.id != document.dossier_id and not access.can(actor, "dossier.view", target):
        # The same words as for a number that does not exist: existence does not leak.
        raise Invalid(f"档案不存在：{number}" if number else "档案不存在",
                      details={"field": "dossier" if number else "dossier_id"})
    if target.kind == "case":
        return target, CASE_GROUP
    current = document.group.code
    default = DEFAULT_GROUP_FOR_CATEGORY[category] if current == CASE_GROUP else current
    groups = [code for code in GROUPS if code != CASE_GROUP]
    return target, validation.choice(given, "group", "分组", groups, default=default)


def _move(session, actor: User, document: Document, target: Dossier, group_code: str) -> dict:
    source, old_group, old_seq = document.dossier, document.group.code, document.seq
    # The original is out of the room: its place is the loan's and the register's until
    # it is back, and the 卷内目录 it goes back into must be the one it left.
    loans.not_out(session, [document.id], message="原件已借出（借阅编号 {number}），归还后方可移动")
    if target.status == DossierStatus.CLOSED.value:  # renumbering inside it as well
        raise Conflict(f"档案 {target.number} 已封卷，不能移入文件或调整顺序号",
                       code="dossier_closed")
    if target.id != source.id:
        access.require(actor, "dossier.correct", target, hide=False)
        if document.access_level >= access.BY_DESIGNATION:
            raise Conflict("绝密文件的阅读人按档案指定，不能由档案室移到其他档案",
                           code="top_secret_move")
        if max(document.classification, target.classification) < document.access_level:
            raise Conflict(
                f"档案 {target.number} 的密级低于本文件现在受保护的密级"
                f"（{document.access_level.label}），移入会降低密级：请先申请密级变更",
                code="level_would_drop")
    group = filing.dossier_group(session, target, group_code, lock=True)
    seq = numbering.next_seq(session, group, locked=True)
    document.dossier_id, document.group_id, document.seq = target.id, group.id, seq
    document.department_id = target.customer.department_id
    session.flush()
    session.expire(document, ["dossier", "group"])
    to_place = f"{target.number} {group_code} 组" if target.id != source.id else f"{group_code} 组"
    note = (f"{clock.today().isoformat()} {old_group} 组第 {old_seq} 号文件移至"
            f"{to_place}第 {seq} 号（{actor.display_name}）")
    source.remarks = f"{source.remarks}\n{note}" if source.remarks else note
    return {"from_place": f"{source.number} {old_group} 组", "to_place": f"{target.number} "
            f"{group_code} 组", "from_seq": old_seq, "to_seq": seq,
            "from_dossier": source.id, "to_dossier": target.id}

