"""Legal holds (冻结 / 诉讼保全): a customer, a dossier or a document that must not be
destroyed while a dispute or an inquiry runs. Many holds may cover one document (its own,
its dossier's, its customer's); it is free only when the last is lifted. Destruction asks
`held` when a batch is proposed, approved and executed."""

import functools

from sqlalchemy import bindparam, or_, select

from archive.clock import local, now
from archive.models import Customer, Document, Dossier, User
from archive.models.enums import DocumentStatus
from archive.models.retention import LegalHold
from archive.services import access, audit, validation, work
from archive.services.errors import Conflict, Invalid, NotFound

NOT_FOUND = "冻结记录不存在"
TARGETS = {"customer_id": (Customer, "客户"), "dossier_id": (Dossier, "档案"),
           "document_id": (Document, "文件")}


def _target(session, actor: User, data: dict):
    named = [key for key in TARGETS if data.get(key) not in (None, "")]
    if len(named) != 1:
        raise Invalid("请指定一个冻结对象：customer_id、dossier_id 或 document_id 之一",
                      code="one_target")
    key = named[0]
    model, label = TARGETS[key]
    target = session.get(model, validation.row_id(data.get(key)) or -1)
    if target is None or not access.may_read(actor, target):
        raise NotFound(f"{label}不存在")
    return key, target


def place(session, actor: User, data: dict) -> LegalHold:
    """Put a hold on a customer, dossier or document, with a reason."""
    access.require(actor, "hold.manage", hide=False)
    key, target = _target(session, actor, data)
    if isinstance(target, Document) and target.status == DocumentStatus.DESTROYED.value:
        # Nothing is left to keep: its files and text are gone, only the tombstone stays.
        raise Conflict("该文件已销毁，只留有销毁记录，不能冻结", code="destroyed")
    reason = validation.text(data, "reason", "冻结原因", required=True, max_len=1000)
    hold = LegalHold(**{key: target.id}, reason=reason, placed_by_id=actor.id)
    session.add(hold)
    session.flush()
    audit.record(session, actor, "hold.placed", hold, target=f"{key[:-3]}:{target.id}",
                 reason=reason)
    return hold


def get(session, user: User, hold_id) -> LegalHold:
    access.require(user, "hold.view", hide=False)
    hold = session.get(LegalHold, validation.row_id(hold_id) or -1)
    if hold is None or not access.may_read(user, hold.subject):
        raise NotFound(NOT_FOUND)
    return hold


def lift(session, actor: User, hold_id, data: dict) -> LegalHold:
    hold = get(session, actor, hold_id)
    access.require(actor, "hold.manage", hide=False)
    if not hold.active:
        raise Conflict(f"该冻结已于 {local(hold.lifted_at):%Y-%m-%d %H:%M} 解除", code="lifted")
    reason = validation.text(data, "reason", "解除原因", required=True, max_len=1000)
    hold.lifted_by_id, hold.lifted_at, hold.lift_reason = actor.id, now(), reason
    session.flush()
    audit.record(session, actor, "hold.lifted", hold, reason=reason)
    return hold


def listing(session, user: User, *, active_only: bool = True) -> list[LegalHold]:
    access.require(user, "hold.view", hide=False)
    stmt = select(LegalHold).order_by(LegalHold.id.desc())
    if active_only:
        stmt = stmt.where(LegalHold.lifted_at.is_(None))
    return [h for h in session.execute(stmt).scalars() if access.may_read(user, h.subject)]


@functools.cache
def _merged_into():
    return select(Customer.id, Customer.merged_into_id).where(
        Customer.merged_into_id.in_(bindparam("ids", expanding=True)))


def _customers(session, customer_ids: set[int]) -> dict[int, set[int]]:
    """Each customer with every record merged into it (issue 18): a hold placed on a
    record that was later merged still covers the files that moved."""
    result = {cid: {cid} for cid in customer_ids}
    frontier = {cid: {cid} for cid in customer_ids}
    while frontier:
        rows = work.rows(session, _merged_into(), {
            "ids": sorted({m for ids in frontier.values() for m in ids})}).all()
        step = {}
        for owner, ids in frontier.items():
            found = {row.id for row in rows if row.merged_into_id in ids} - result[owner]
            if found:
                result[owner] |= found
                step[owner] = found
        frontier = step
    return result


def covering(session, document: Document) -> list[LegalHold]:
    """The active holds that cover the document: its own, its dossier's, its customer's
    (or a customer record merged into it)."""
    return held(session, [document]).get(document.id, [])


@functools.cache
def _active_holds():
    # Built once: every document page and destruction list asks it.
    return (select(LegalHold).where(LegalHold.lifted_at.is_(None), or_(
        LegalHold.document_id.in_(bindparam("documents", expanding=True)),
        LegalHold.dossier_id.in_(bindparam("dossiers", expanding=True)),
        LegalHold.customer_id.in_(bindparam("customers", expanding=True))))
        .order_by(LegalHold.id))


def held(session, documents: list[Document]) -> dict[int, list[LegalHold]]:
    """Document id → active holds covering it, for those covered (one query)."""
    if not documents:
        return {}
    customers = _customers(session, {d.dossier.customer_id for d in documents})
    holds = session.execute(_active_holds(), {
        "documents": sorted({d.id for d in documents}),
        "dossiers": sorted({d.dossier_id for d in documents}),
        "customers": sorted({c for ids in customers.values() for c in ids})}).scalars().all()
    found: dict[int, list[LegalHold]] = {}
    for document in documents:
        mine = customers[document.dossier.customer_id]
        for hold in holds:
            if document.id == hold.document_id or document.dossier_id == hold.dossier_id \
                    or hold.customer_id in mine:
                found.setdefault(document.id, []).append(hold)
    return found


def describe(hold: LegalHold) -> str:
    subject = hold.subject
    if isinstance(subject, Customer):
        return f"客户 {subject.name}（{subject.code}）"
    if isinstance(subject, Dossier):
        return f"档案 {subject.number}"
    return f"文件《{subject.title}》"
