"""What only the GM grants (002:43-47, 002:67).

- access grants: a person may read another department's customer files, a whole
  department's or one customer's, for a limited time (002:67);
- designations: the persons who may know a 绝密 dossier or document (002:43);
- copy approvals: one person may download, print or copy one 绝密 document until a
  given time (002:45).

Grants take effect in access.py at once; designations change who the search index
lists as a document's `readers`, so the affected documents are re-indexed.

Staff ask for access to another department's customer file (002:67) and designated
readers ask to copy a 绝密 document (002:45) through the approval engine; the GM's
approval in the inbox creates the grant or copy approval that the GM may also give
directly. A cross-department request names the customer as the requester typed it: it
is resolved for the GM alone, so asking never tells staff whether a customer exists.
"""

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from archive.clock import now, to_utc
from archive.models import (
    AccessGrant,
    CopyApproval,
    Customer,
    Designation,
    Document,
    Dossier,
    User,
)
from archive.models.approval import ApprovalKind, ApprovalRequest, RequestStatus
from archive.models.enums import DocumentStatus, Level
from archive.services import access, approvals, audit, indexing, validation, work
from archive.services.customers import find_department, get_or_404
from archive.services.errors import Conflict, Invalid

MAX_GRANT_DAYS = 366
DEFAULT_GRANT_DAYS = 30
DEFAULT_COPY_HOURS = 24


def find_user(session, value) -> User:
    """An active user by id or username (as forms and the API give them)."""
    text = str(value or "").strip()
    if not text:
        raise Invalid("请填写人员", code="missing_field", details={"field": "user"})
    user = session.execute(
        select(User).where(or_(User.username == text,
                               User.id == (validation.row_id(text) if text.isdecimal()
                                           else -1)))
    ).scalar_one_or_none()
    if user is None or not user.active:
        raise Invalid(f"人员不存在或已停用：{text}", details={"field": "user"})
    return user


def _until(data: dict, key: str, start: datetime) -> datetime:
    """An end time from `YYYY-MM-DD` (end of that day) or an ISO timestamp."""
    value = validation.text(data, key, "截止时间", required=True, max_len=40)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("截止时间格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM",
                      details={"field": key}) from None
    validation.in_range(moment.date(), key, "截止时间")
    if len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    moment = to_utc(moment)  # typed in the archive's zone unless it carries an offset
    if moment <= start:
        raise Invalid("截止时间必须晚于开始时间", details={"field": key})
    if moment - start > timedelta(days=MAX_GRANT_DAYS):
        raise Invalid(f"授权期限不能超过 {MAX_GRANT_DAYS} 天", details={"field": key})
    return moment


# ---- cross-department access grants (002:67) ----------------------------------------


def grant_access(session, gm: User, data: dict) -> AccessGrant:
    """Let `data['user']` read one department's or one customer's files until
    `data['valid_until']`, for `data['reason']`."""
    access.require(gm, "grant.manage")
    user = find_user(session, data.get("user"))
    department_value = data.get("department")
    customer_value = data.get("customer") or data.get("customer_id")
    if bool(department_value) == bool(customer_value):
        raise Invalid("请在部门和客户中选择且只选择一项", details={"field": "department"})
    customer = None
    if department_value:
        department = find_department(session, department_value)
        if department.id == user.department_id:
            raise Invalid("该人员本就属于此部门，无需授权", details={"field": "department"})
    elif data.get("customer"):
        customer = one_customer(session, data["customer"])
    else:  # the API's customer_id, kept for its clients
        customer = get_or_404(session, Customer, customer_value, "客户不存在")
    start = now()
    until = _until(data, "valid_until", start)
    reason = validation.text(data, "reason", "授权事由", required=True, max_len=500)
    return _grant(session, gm, user, until, reason, customer=customer,
                  department=None if customer else department)


def _grant(session, gm: User, user: User, until, reason: str, *, customer=None,
           department=None, request: ApprovalRequest | None = None) -> AccessGrant:
    if customer is not None and customer.department_id == user.department_id:
        raise Invalid("该客户属于该人员本部门，无需授权", details={"field": "customer"})
    start = now()
    grant = AccessGrant(user_id=user.id, valid_from=start, valid_until=until,
                        approved_by_id=gm.id, reason=reason, created_at=start,
                        department_id=department.id if department else None,
                        customer_id=customer.id if customer else None,
                        request_id=request.id if request else None)
    session.add(grant)
    session.flush()
    scope = department.name if department else f"{customer.name}（{customer.code}）"
    audit.record(session, gm, "grant.created", grant, user=user.username, scope=scope,
                 valid_until=until.isoformat(), reason=reason,
                 request=request.id if request else None)
    access.forget(user)
    return grant


def find_customers(session, text, limit: int = 20) -> list[Customer]:
    """Customers whose name, code or ID number is exactly `text`, then those whose name
    contains it (the GM's pickers)."""
    text = str(text or "").strip()
    if not text:
        return []
    exact = session.execute(
        select(Customer).where(or_(Customer.name == text, Customer.code == text,
                                   Customer.id_number == text))
        .order_by(Customer.code).limit(limit)).scalars().all()
    if exact:
        return list(exact)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(session.execute(
        select(Customer).where(Customer.name.like(pattern, escape="\\"))
        .order_by(Customer.code).limit(limit)).scalars())


def one_customer(session, text) -> Customer:
    """The one customer `text` names (name, code or ID number), or a clear refusal."""
    found = find_customers(session, text)
    if len(found) == 1:
        return found[0]
    if not found:
        raise Invalid(f"没有名称、编号或证件号为“{str(text).strip()}”的客户",
                      details={"field": "customer"})
    raise Invalid(f"“{str(text).strip()}”对应 {len(found)} 个客户，请填写客户编号",
                  code="ambiguous", details={"field": "customer"})


def revoke_grant(session, gm: User, grant_id) -> AccessGrant:
    """End a grant now (the row stays as the record that it existed)."""
    access.require(gm, "grant.manage")
    grant = get_or_404(session, AccessGrant, grant_id, "授权不存在")
    moment = now()
    if grant.valid_until < moment:
        raise Conflict("该授权已失效", code="already_ended")
    grant.valid_until = moment - timedelta(seconds=1)
    audit.record(session, gm, "grant.revoked", grant, user=grant.user.username)
    access.forget(grant.user)
    return grant


def list_grants(session, gm: User, *, active_only: bool = False) -> list[AccessGrant]:
    access.require(gm, "grant.manage")
    stmt = select(AccessGrant).order_by(AccessGrant.id.desc())
    if active_only:
        stmt = stmt.where(AccessGrant.valid_until >= now())
    return list(session.execute(stmt.limit(200)).scalars())


# ---- 绝密 designations (002:43) -----------------------------------------------------


def _affected(target) -> list[int]:
    if isinstance(target, Document):
        return [target.id]
    return [d.id for d in target.documents if d.status == DocumentStatus.ACTIVE.value]


def designate(session, gm: User, data: dict) -> Designation:
    """Name a person who may know a dossier or document at 绝密 (002:43)."""
    access.require(gm, "designation.manage")
    user = find_user(session, data.get("user"))
    document_value, dossier_value = data.get("document_id"), data.get("dossier_id")
    if bool(document_value) == bool(dossier_value):
        raise Invalid("请在档案和文件中选择且只选择一项", details={"field": "document_id"})
    if document_value:
        target = get_or_404(session, Document, document_value, "文件不存在")
        column = Designation.document_id
    else:
        target = get_or_404(session, Dossier, dossier_value, "档案不存在")
        column = Designation.dossier_id
    exists = session.execute(
        select(Designation.id).where(Designation.user_id == user.id, column == target.id)
    ).first()
    if exists:
        raise Conflict("该人员已被指定", code="already_designated")
    designation = Designation(
        user_id=user.id, designated_by_id=gm.id, created_at=now(),
        document_id=target.id if isinstance(target, Document) else None,
        dossier_id=target.id if isinstance(target, Dossier) else None,
    )
    session.add(designation)
    session.flush()
    audit.record(session, gm, "designation.created", designation, user=user.username,
                 target=f"{type(target).__name__.lower()}:{target.id}")
    _reindex_after_commit(session, _affected(target))
    return designation


def revoke_designation(session, gm: User, designation_id) -> None:
    """Withdraw a designation; the audit trail keeps that it existed."""
    access.require(gm, "designation.manage")
    designation = get_or_404(session, Designation, designation_id, "指定记录不存在")
    target = (session.get(Document, designation.document_id) if designation.document_id
              else session.get(Dossier, designation.dossier_id))
    audit.record(session, gm, "designation.revoked", designation,
                 user=designation.user.username,
                 target=f"{type(target).__name__.lower()}:{target.id}")
    session.delete(designation)
    _reindex_after_commit(session, _affected(target))


def _reindex_after_commit(session, ids: list[int]) -> None:
    work.after_commit(session, lambda: indexing.index_after_commit(session, ids))


def designations_for(session, target) -> list[Designation]:
    """The designations that open `target` (a document's include its dossier's)."""
    if isinstance(target, Document):
        condition = or_(Designation.document_id == target.id,
                        Designation.dossier_id == target.dossier_id)
    else:
        condition = Designation.dossier_id == target.id
    return list(session.execute(
        select(Designation).where(condition).order_by(Designation.id)).scalars())


# ---- 绝密 copy approvals (002:45) ----------------------------------------------------


def approve_copy(session, gm: User, data: dict) -> CopyApproval:
    """Let one person download (print, copy) one 绝密 document until a given time."""
    access.require(gm, "copy.approve")
    user = find_user(session, data.get("user"))
    document = get_or_404(session, Document, data.get("document_id"), "文件不存在")
    if document.access_level < Level.TOP_SECRET:  # its own level, or its dossier's
        raise Invalid("只有绝密文件需要复制批准", code="not_top_secret")
    if not access.can(user, "document.read", document):
        raise Invalid("该人员未被指定知悉此文件，请先指定", code="not_designated")
    start = now()
    if data.get("valid_until"):
        until = _until(data, "valid_until", start)
    else:
        hours = validation.integer(data, "hours", "有效小时数") or DEFAULT_COPY_HOURS
        if not 0 < hours <= 24 * 30:
            raise Invalid("有效期须在 1 到 720 小时之间", details={"field": "hours"})
        until = start + timedelta(hours=hours)
    reason = validation.text(data, "reason", "批准事由", required=True, max_len=500)
    return _copy(session, gm, user, document, until, reason)


def _copy(session, gm: User, user: User, document: Document, until, reason: str,
          request: ApprovalRequest | None = None) -> CopyApproval:
    start = now()
    approval = CopyApproval(user_id=user.id, document_id=document.id, approved_by_id=gm.id,
                            reason=reason, created_at=start, expires_at=until,
                            request_id=request.id if request else None)
    session.add(approval)
    session.flush()
    audit.record(session, gm, "copy.approved", document, approval=approval.id,
                 user=user.username, expires_at=until.isoformat(), reason=reason,
                 request=request.id if request else None)
    return approval


def revoke_copy(session, gm: User, approval_id) -> CopyApproval:
    access.require(gm, "copy.approve")
    approval = get_or_404(session, CopyApproval, approval_id, "复制批准不存在")
    moment = now()
    if approval.expires_at < moment:
        raise Conflict("该批准已失效", code="already_ended")
    approval.expires_at = moment - timedelta(seconds=1)
    audit.record(session, gm, "copy.revoked", ("document", approval.document_id),
                 approval=approval.id, user=approval.user.username)
    return approval


def copy_approvals_for(session, document: Document) -> list[CopyApproval]:
    return list(session.execute(
        select(CopyApproval).where(CopyApproval.document_id == document.id)
        .order_by(CopyApproval.id.desc())).scalars())


def is_active(row, moment: datetime | None = None) -> bool:
    """For listings: whether a grant or copy approval is in force now."""
    moment = moment or now()
    end = getattr(row, "valid_until", None) or row.expires_at
    start = getattr(row, "valid_from", None) or row.created_at
    return start <= moment <= end



# ---- asking, on the approval engine -------------------------------------------------


def ask_access(session, actor: User, data: dict) -> ApprovalRequest:
    """Ask the GM for time-limited access to another department's customer file (002:67).
    `data`: customer (name, code or ID number, as typed), days (default 30), reason.
    The text is stored as typed and never looked up here."""
    access.require(actor, "approval.ask_access")
    text = validation.text(data, "customer", "客户（名称、编号或证件号）", required=True,
                           max_len=200)
    days = validation.integer(data, "days", "查阅天数")
    days = DEFAULT_GRANT_DAYS if days is None else days  # 0 is refused, not the default
    if not 0 < days <= MAX_GRANT_DAYS:
        raise Invalid(f"查阅天数须在 1 到 {MAX_GRANT_DAYS} 之间", details={"field": "days"})
    reason = validation.text(data, "reason", "查阅事由", required=True, max_len=500)
    return approvals.file(session, actor, ApprovalKind.CROSS_DEPARTMENT, reason=reason,
                          payload={"customer_text": text, "days": days})


def _prepare_access(session, gm: User, request: ApprovalRequest, data: dict) -> dict:
    customer = one_customer(session, data.get("customer") or request.payload["customer_text"])
    if data.get("valid_until"):
        until = _until(data, "valid_until", now())
    else:
        until = now() + timedelta(days=request.payload["days"])
    return {"customer": customer, "until": until}


def _apply_access(session, gm: User, request: ApprovalRequest, prepared: dict) -> None:
    customer = prepared["customer"]
    request.customer_id = customer.id  # the history names what was granted
    _grant(session, gm, request.requested_by, prepared["until"], request.reason,
           customer=customer, request=request)


def _describe_access(request: ApprovalRequest, viewer: User) -> str:
    text = request.payload["customer_text"]
    if request.customer is not None and access.can(viewer, "customer.view", request.customer):
        return f"客户 {request.customer.name}（{request.customer.code}），申请时填写“{text}”"
    return f"客户“{text}”（申请人填写），{request.payload['days']} 天"


def ask_copy(session, actor: User, document: Document, data: dict) -> ApprovalRequest:
    """A designated reader asks the GM to copy (download, print) a 绝密 document (002:45).
    `data`: hours (default 24), reason."""
    access.require(actor, "document.read", document)
    access.require(actor, "copy.request", document)
    if document.access_level < Level.TOP_SECRET:
        raise Invalid("只有绝密文件需要复制批准", code="not_top_secret")
    if access.can(actor, "document.copy", document):
        raise Conflict("您已可复制此文件", code="already_allowed")
    hours = validation.integer(data, "hours", "有效小时数") or DEFAULT_COPY_HOURS
    if not 0 < hours <= 24 * 30:
        raise Invalid("有效期须在 1 到 720 小时之间", details={"field": "hours"})
    reason = validation.text(data, "reason", "复制事由", required=True, max_len=500)
    if any(r.requested_by_id == actor.id and r.state(now()) is RequestStatus.PENDING
           for r in approvals.for_subject(session, document, [ApprovalKind.TOP_SECRET_COPY])):
        raise Conflict("您已有待审批的复制申请", code="change_pending")
    return approvals.file(session, actor, ApprovalKind.TOP_SECRET_COPY, reason=reason,
                          subject=document, subject_level=int(document.access_level),
                          payload={"hours": hours})


def _copy_stale(session, request: ApprovalRequest) -> str | None:
    document = request.document
    if document.status != DocumentStatus.ACTIVE.value:
        return "文件已销毁"
    if document.access_level != request.subject_level:
        return f"密级已是{Level(document.access_level).label}"
    return None


def _apply_copy(session, gm: User, request: ApprovalRequest, _prepared) -> None:
    until = now() + timedelta(hours=request.payload["hours"])
    _copy(session, gm, request.requested_by, request.document, until, request.reason,
          request=request)


def _describe_copy(request: ApprovalRequest, _viewer) -> str:
    return f"复制绝密文件《{request.document.title}》，{request.payload['hours']} 小时内有效"


approvals.effect(ApprovalKind.CROSS_DEPARTMENT, approvals.Handler(
    describe=_describe_access, apply=_apply_access, prepare=_prepare_access))
approvals.effect(ApprovalKind.TOP_SECRET_COPY, approvals.Handler(
    describe=_describe_copy, apply=_apply_copy, stale=_copy_stale))
