"""Changing a document's or dossier's 密级 (000:742, 002:29-47), on the approval engine.

The handling department asks; the change waits for the approvers its route names and
keeps its history as the request's steps.

- Raising (route level_raise, seeded: the head of the customer's department and the GM
  office, in either order, two different people, neither of them the requester).
- Lowering (解密, route level_lower, seeded: the GM office, which keeps the archive and
  answers for what leaves it).
- A rejection ends it; a decided change is never decided again (approvals.py guards).
- A dossier's change carries its documents along: raising lifts every document below
  the new level to it; lowering brings down the documents that sat between the new
  level and the old one, never a document that was classified higher on its own.

Raising to 绝密 is allowed; from then on only the GM and the persons the GM designates
(grants.designate) may open it.
"""

import functools

from sqlalchemy import bindparam, or_, select

from archive.clock import now
from archive.models import Document, Dossier, User
from archive.models.approval import ApprovalKind, ApprovalRequest, RequestStatus
from archive.models.enums import DocumentStatus, Level
from archive.services import access, approvals, audit, indexing, loans, validation, work
from archive.services.errors import Conflict, Invalid

KINDS = (ApprovalKind.LEVEL_RAISE, ApprovalKind.LEVEL_LOWER)


def _view_action(target) -> str:
    return "dossier.view" if isinstance(target, Dossier) else "document.view"


def request_change(session, actor: User, target: Document | Dossier, to_level,
                   reason: str) -> ApprovalRequest:
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
    if any(r.state(now()) is RequestStatus.PENDING
           for r in approvals.for_subject(session, target, KINDS)):
        raise Conflict("该对象已有待审批的密级变更申请", code="change_pending")
    documents = [target] if isinstance(target, Document) else target.documents
    loans.not_out(session, [d.id for d in documents],
                  message="原件借出中（借阅编号 {number}），归还后方可变更密级")
    kind = ApprovalKind.LEVEL_RAISE if level > target.classification else ApprovalKind.LEVEL_LOWER
    return approvals.file(session, actor, kind, reason=reason, subject=target,
                          # What its readers are gated on: a document's own level or
                          # its dossier's, the higher (access_level), not its own alone.
                          subject_level=int(target.access_level if isinstance(target, Document)
                                            else target.classification),
                          payload={"from_level": int(target.classification),
                                   "to_level": int(level)})


def _load(session, actor: User, change_id) -> ApprovalRequest:
    change = approvals.get(session, actor, change_id)
    if change.kind not in KINDS:  # answered like any id that names no request
        raise access.NotFound(approvals.NOT_FOUND)
    return change


def approve(session, actor: User, change_id, note: str = "") -> ApprovalRequest:
    """Give the actor's approval; the change takes effect once its route is complete."""
    _load(session, actor, change_id)
    return approvals.approve(session, actor, change_id, note)


def reject(session, actor: User, change_id, note: str = "") -> ApprovalRequest:
    """Refuse a pending change: the level stays as it is."""
    _load(session, actor, change_id)
    return approvals.reject(session, actor, change_id, note)


def pending_for(session, actor: User) -> list[ApprovalRequest]:
    """Level changes waiting for the actor's decision."""
    return approvals.inbox(session, actor, KINDS)


def history(session, actor: User, target: Document | Dossier) -> list[ApprovalRequest]:
    """Every change asked for the target, oldest first; a document's includes its dossier's."""
    access.require(actor, _view_action(target), target)
    if isinstance(target, Document):
        found = session.execute(_asked(True), {"document": target.id,
                                               "dossier": target.dossier_id})
    else:
        found = session.execute(_asked(False), {"dossier": target.id})
    return list(found.scalars())


@functools.cache
def _asked(for_document: bool):
    """The level changes asked for a document (and its dossier) or a dossier. Built once
    each: every document and dossier page asks it."""
    condition = ApprovalRequest.dossier_id == bindparam("dossier")
    if for_document:
        condition = or_(ApprovalRequest.document_id == bindparam("document"), condition)
    return (select(ApprovalRequest)
            .where(condition, ApprovalRequest.kind.in_([k.value for k in KINDS]))
            .order_by(ApprovalRequest.created_at, ApprovalRequest.id))


# ---- the engine's handler for both kinds --------------------------------------------


def _stale(session, change: ApprovalRequest) -> str | None:
    target = change.subject
    if isinstance(target, Document) and target.status != DocumentStatus.ACTIVE.value:
        return "文件已销毁"
    if target.classification != change.from_level:
        return f"密级已是{Level(target.classification).label}"
    return None


def _apply(session, actor: User, change: ApprovalRequest, _data) -> None:
    """Set the new level on the target (and, for a dossier, its documents); audit it;
    re-index after the commit."""
    target = change.subject
    low, high = sorted((change.from_level, change.to_level))
    if isinstance(target, Dossier):
        active = [d for d in target.documents if d.status == DocumentStatus.ACTIVE.value]
        if change.raising:
            documents = [d for d in active if d.classification < change.to_level]
        else:
            documents = [d for d in active if low < d.classification <= high]
        # The dossier's level is a floor for every document's access (access_level).
        reindex = active
    else:
        documents = reindex = [target]
    moved = []
    for document in documents:
        if document is not target:
            moved.append({"document": document.id, "from": Level(document.classification).label})
        document.classification = change.to_level
    target.classification = change.to_level
    audit.record(session, actor, "classification.changed", target, change=change.id,
                 from_level=Level(change.from_level).label, to_level=Level(change.to_level).label,
                 requested_by=change.requested_by.username, reason=change.reason,
                 documents=moved)
    ids = [d.id for d in reindex]
    work.after_commit(session, lambda: indexing.index_after_commit(session, ids))


def _describe(change: ApprovalRequest, viewer) -> str:
    target = change.subject
    name = (f"档案 {target.number}" if isinstance(target, Dossier)
            else f"文件《{access.shown_title(viewer, target)}》")
    return (f"{name}：{Level(change.from_level).label} → {Level(change.to_level).label}")


for _kind in KINDS:
    approvals.effect(_kind, approvals.Handler(describe=_describe, apply=_apply, stale=_stale))
