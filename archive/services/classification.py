"""Changing a document's or dossier's 密级 (000:742, 002:29-47).

The handling department asks; the change waits for its approvers and keeps its history.

- Raising takes effect only when both the head of the customer's department and the GM
  office have approved, two different people, neither of them the requester.
- Lowering (解密) takes effect on the GM office's approval. A department head may
  approve first (it is recorded), but only the GM office decides a lowering: the GM
  office keeps the archive and answers for what leaves it.
- Either approver may reject; a decided change is never decided again.
- A dossier's change carries its documents along: raising lifts every document below
  the new level to it; lowering brings down the documents that sat between the new
  level and the old one, never a document that was classified higher on its own.

Raising to 绝密 is allowed; from then on only the GM and the persons the GM designates
(grants.designate) may open it.
"""

from sqlalchemy import or_, select

from archive.models import ClassificationChange, Document, Dossier, User
from archive.models.enums import DocumentStatus, Level, Role
from archive.services import access, audit, indexing, validation
from archive.services.clock import now
from archive.services.customers import get_or_404
from archive.services.errors import Conflict, Forbidden, Invalid

REQUESTED, APPLIED, REJECTED = "requested", "applied", "rejected"


def _view_action(target) -> str:
    return "dossier.view" if isinstance(target, Dossier) else "document.view"


def request_change(session, actor: User, target: Document | Dossier, to_level,
                   reason: str) -> ClassificationChange:
    """Ask to move `target` (a document or a dossier) to `to_level`, giving a reason."""
    access.require(actor, _view_action(target), target)
    access.require(actor, "classification.request", target, hide=False)
    try:
        level = Level.parse(to_level)
    except ValueError:
        raise Invalid("密级只能是 公开、内部、秘密、机密、绝密 之一",
                      details={"field": "to"}) from None
    reason = validation.text({"reason": reason}, "reason", "变更理由", required=True, max_len=2000)
    if level == target.classification:
        raise Invalid(f"密级已是{level.label}", code="same_level", details={"field": "to"})
    if isinstance(target, Document) and target.status != DocumentStatus.ACTIVE.value:
        raise Conflict("文件已销毁，不能变更密级")
    if _pending(session, target) is not None:
        raise Conflict("该对象已有待审批的密级变更申请", code="change_pending")
    change = ClassificationChange(
        document_id=target.id if isinstance(target, Document) else None,
        dossier_id=target.id if isinstance(target, Dossier) else None,
        from_level=int(target.classification), to_level=int(level), reason=reason,
        status=REQUESTED, requested_by_id=actor.id, requested_at=now(),
    )
    session.add(change)
    session.flush()
    audit.record(session, actor, "classification.requested", change, target=_ref(target),
                 from_level=Level(change.from_level).label, to_level=level.label, reason=reason)
    session.commit()
    return change


def _ref(target) -> str:
    return f"{type(target).__name__.lower()}:{target.id}"


def _pending(session, target) -> ClassificationChange | None:
    column = ClassificationChange.dossier_id if isinstance(target, Dossier) \
        else ClassificationChange.document_id
    return session.execute(
        select(ClassificationChange).where(column == target.id,
                                           ClassificationChange.status == REQUESTED)
    ).scalars().first()


def _load(session, actor: User, change_id) -> ClassificationChange:
    change = get_or_404(session, ClassificationChange, change_id, "密级变更申请不存在")
    target = change.target
    try:
        access.require(actor, _view_action(target), target)
    except access.NotFound:
        raise access.NotFound("密级变更申请不存在") from None
    return change


def _refuse(session, actor: User, change: ClassificationChange, action: str, error):
    """Audit a refused decision in its own transaction, then raise the error."""
    session.rollback()
    audit.record(session, actor, action, change, outcome="denied", reason=error.message)
    session.commit()
    raise error


def _check_decider(session, actor: User, change: ClassificationChange, action: str) -> None:
    if not access.can(actor, "classification.decide", change):
        _refuse(session, actor, change, action,
                Forbidden("只有客户所属部门的负责人或总经理办公室可以审批密级变更"))
    if change.status != REQUESTED:
        _refuse(session, actor, change, action,
                Conflict("该申请已处理", code="already_decided"))
    if change.requested_by_id == actor.id:
        _refuse(session, actor, change, action,
                Forbidden("不能审批本人提出的密级变更申请"))


def slot(actor: User) -> str:
    """Which of the two approvals `actor` gives: dept_head or gm_office."""
    return "gm_office" if actor.role == Role.GM_OFFICE.value else "dept_head"


def complete(change: ClassificationChange) -> bool:
    """Whether the approvals given so far make the change take effect."""
    if change.raising:
        return change.dept_head_id is not None and change.gm_office_id is not None
    return change.gm_office_id is not None


def approve(session, actor: User, change_id) -> ClassificationChange:
    """Give the actor's approval; apply the change once the required approvals are in."""
    change = _load(session, actor, change_id)
    _check_decider(session, actor, change, "classification.approve")
    if actor.id in (change.dept_head_id, change.gm_office_id):
        _refuse(session, actor, change, "classification.approve",
                Conflict("同一人不能重复审批", code="already_approved"))
    which = slot(actor)
    if getattr(change, f"{which}_id") is not None:
        label = "总经理办公室" if which == "gm_office" else "部门负责人"
        _refuse(session, actor, change, "classification.approve",
                Conflict(f"{label}已审批，需由另一方审批", code="already_approved"))
    setattr(change, f"{which}_id", actor.id)
    setattr(change, f"{which}_at", now())
    audit.record(session, actor, "classification.approved", change, role=which,
                 target=_ref(change.target))
    reindex: list[int] = []
    if complete(change):
        reindex = _apply(session, actor, change)
    session.commit()
    if reindex:
        indexing.index_after_commit(session, reindex)
    return change


def _apply(session, actor: User, change: ClassificationChange) -> list[int]:
    """Set the new level on the target (and, for a dossier, its documents); audit it."""
    target = change.target
    if target.classification != change.from_level:
        # Another change moved it since the request: the approvals were for a different step.
        _refuse(session, actor, change, "classification.approve",
                Conflict("对象的密级在申请后已变更，请重新申请", code="level_moved"))
    low, high = sorted((change.from_level, change.to_level))
    documents: list[Document] = []
    reindex: list[Document] = []
    if isinstance(target, Dossier):
        active = [d for d in target.documents if d.status == DocumentStatus.ACTIVE.value]
        if change.raising:
            documents = [d for d in active if d.classification < change.to_level]
        else:
            documents = [d for d in active if low < d.classification <= high]
        # The dossier's level is a floor for every document's access (access_level).
        reindex = active
    else:
        documents = [target]
        reindex = documents
    moved = []
    for document in documents:
        if document is not target:
            moved.append({"document": document.id, "from": Level(document.classification).label})
        document.classification = change.to_level
    target.classification = change.to_level
    change.status = APPLIED
    change.decided_at = now()
    audit.record(session, actor, "classification.changed", target, change=change.id,
                 from_level=Level(change.from_level).label, to_level=Level(change.to_level).label,
                 requested_by=change.requested_by.username, reason=change.reason,
                 documents=moved)
    return [d.id for d in reindex]


def reject(session, actor: User, change_id, note: str = "") -> ClassificationChange:
    """Refuse a pending change: the level stays as it is."""
    change = _load(session, actor, change_id)
    _check_decider(session, actor, change, "classification.reject")
    change.status = REJECTED
    change.rejected_by_id = actor.id
    change.decided_at = now()
    change.decision_note = validation.text({"note": note or ""}, "note", "驳回意见", max_len=2000)
    audit.record(session, actor, "classification.rejected", change, note=change.decision_note,
                 target=_ref(change.target))
    session.commit()
    return change


def pending_for(session, actor: User) -> list[ClassificationChange]:
    """Requests waiting for the actor's approval (the 待审批 list)."""
    if actor.role not in (Role.DEPT_HEAD.value, Role.GM_OFFICE.value):
        return []
    rows = session.execute(
        select(ClassificationChange).where(ClassificationChange.status == REQUESTED)
        .order_by(ClassificationChange.requested_at, ClassificationChange.id)
    ).scalars().all()
    return [c for c in rows if may_approve(actor, c)]


def may_approve(actor: User, change: ClassificationChange) -> bool:
    """Whether an approve button makes sense for `actor` on this change."""
    return (change.status == REQUESTED and change.requested_by_id != actor.id
            and actor.id not in (change.dept_head_id, change.gm_office_id)
            and getattr(change, f"{slot(actor)}_id") is None
            and access.can(actor, "classification.decide", change))


def history(session, actor: User, target: Document | Dossier) -> list[ClassificationChange]:
    """Every change asked for the target, oldest first; a document's includes its dossier's."""
    access.require(actor, _view_action(target), target)
    if isinstance(target, Document):
        condition = or_(ClassificationChange.document_id == target.id,
                        ClassificationChange.dossier_id == target.dossier_id)
    else:
        condition = ClassificationChange.dossier_id == target.id
    return list(session.execute(
        select(ClassificationChange).where(condition)
        .order_by(ClassificationChange.requested_at, ClassificationChange.id)
    ).scalars())
