"""Duplicates (issue 18): a customer registered twice, and a file filed twice.

A customer with the ID/licence number of another, or with another's name and telephone,
is refused with the one already registered, unless the archive room confirms that it is
a different person; two records found to be one person are merged by the archive room
(`merge_customer`). A file whose SHA-256 is already filed where the user may see it is
refused with where, unless the user confirms; what the user may not see is never named.
"""

import re
import unicodedata

from sqlalchemy import func, select, update

from archive.models import Customer, Document, Dossier, DossierReference, StoredFile, User
from archive.models.enums import DocumentStatus
from archive.services import access
from archive.services.errors import Conflict, Invalid


def normalise_id(value: str) -> str:
    """An ID or licence number as compared: full-width made ASCII, no spaces or hyphens,
    upper case (a 身份证's x is X)."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value or "")).upper()


def _phones(value: str) -> set[str]:
    """Each number of a telephone field as its digits (an extension kept, +86 dropped)."""
    numbers = set()
    for part in re.split(r"[、,，;；/]", unicodedata.normalize("NFKC", value or "")):
        digits = re.sub(r"\D", "", part)
        if part.strip().startswith("+86") or digits.startswith("0086"):
            digits = digits.removeprefix("0086").removeprefix("86")
        if len(digits) >= 7:
            numbers.add(digits)
    return numbers


def customer_matches(session, name: str, id_number: str, phone: str, *,
                     exclude_id: int | None = None) -> list[tuple[Customer, str]]:
    """The customers (not merged away) that look like the same person: (customer, why)."""
    found: dict[int, tuple[Customer, str]] = {}
    live = Customer.merged_into_id.is_(None)
    number = normalise_id(id_number)
    if number:
        compact = func.upper(func.replace(func.replace(Customer.id_number, " ", ""), "-", ""))
        for c in session.execute(select(Customer).where(compact == number, live)).scalars():
            found[c.id] = (c, "证件号码相同")
    phones = _phones(phone)
    if name.strip() and phones:
        for c in session.execute(
                select(Customer).where(Customer.name == name.strip(), live)).scalars():
            if c.id not in found and _phones(c.phone) & phones:
                found[c.id] = (c, "姓名和电话相同")
    found.pop(exclude_id, None)
    return sorted(found.values(), key=lambda pair: pair[0].id)


def check_customer(session, actor: User, name: str, id_number: str, phone: str, *,
                   exclude_id: int | None = None, confirm: bool = False) -> list[Customer]:
    """Refuse (409 `duplicate_person`) a customer that looks like one already registered,
    naming it with a link when the actor may see it (else saying that another department
    holds one); the archive room may `confirm` that it is a different person. Returns the
    customers confirmed as different (to be recorded)."""
    matches = customer_matches(session, name, id_number, phone, exclude_id=exclude_id)
    if not matches:
        return []
    if confirm and access.can(actor, "customer.confirm_different"):
        return [c for c, _why in matches]
    seen = [(c, why) for c, why in matches if access.can(actor, "customer.view", c)]
    named = "；".join(f"{c.name}（{c.code}，{why}）" for c, why in seen)
    if seen:
        message = f"已登记过相同的客户：{named}。请使用已有客户"
    else:
        message = "其他部门已登记过证件号码或姓名电话相同的客户。请联系档案室核实"
    if access.can(actor, "customer.confirm_different"):
        message += "；如确为不同的人，请勾选“确认不是同一人”后再保存"
        message += "（API：confirm_different: true）"
    else:
        message += "；如确为不同的人，由档案室确认后登记"
    raise Conflict(message, code="duplicate_person", details={"existing": [
        {"id": c.id, "code": c.code, "name": c.name, "reason": why,
         "url": f"/customers/{c.id}"} for c, why in seen]})


def filed_copies(session, actor: User, digests: list[str]) -> list[Document]:
    """The active documents the actor may see that hold a file with one of `digests`."""
    if not digests:
        return []
    documents = session.execute(
        select(Document).join(StoredFile, StoredFile.document_id == Document.id)
        .where(StoredFile.sha256.in_(digests),
               Document.status == DocumentStatus.ACTIVE.value)
        .order_by(Document.id).distinct()
    ).scalars().all()
    return [d for d in documents if access.can(actor, "document.view", d)]


def check_file(session, actor: User, digests: list[str], *, confirm: bool) -> list[Document]:
    """Refuse (409 `duplicate_file`) an upload whose bytes are already filed where the
    actor may see them, naming where; with `confirm`, the documents it duplicates (to be
    recorded). Copies the actor may not see are neither named nor counted."""
    copies = filed_copies(session, actor, digests)
    if not copies or confirm:
        return copies
    where = "；".join(f"档案 {d.dossier.number} {d.group.code} 组《{d.title}》" for d in copies)
    raise Conflict(f"此文件已归档：{where}。如确需再次归档，请勾选“确认重复归档”后重新提交"
                   "（API：confirm_duplicate=1）", code="duplicate_file", details={"existing": [
                       {"document_id": d.id, "dossier_id": d.dossier_id,
                        "dossier_number": d.dossier.number, "group": d.group.code,
                        "title": d.title} for d in copies]})


def merge_customer(session, actor: User, customer_id, data: dict) -> Customer:
    """Merge a customer record found to be the same person as another (`data["into"]`, an
    id or a code) into it: the archive room, with a reason. The dossiers move with their
    documents (access and search follow the remaining customer's department), the
    customer's dossiers reference each other as one customer's do, and the merged record
    stays, pointing at the other, for the history and whatever names it."""
    from archive.services import audit, corrections, validation
    from archive.services.customers import get_or_404

    merged = get_or_404(session, Customer, customer_id)
    access.require(actor, "customer.view", merged)
    access.require(actor, "customer.merge", merged, hide=False)
    into = validation.text(data, "into", "合并到的客户", required=True, max_len=40)
    reason = validation.text(data, "reason", "合并原因", required=True, max_len=500)
    target = session.execute(select(Customer).where(
        (Customer.code == into) | (Customer.id == (validation.row_id(into) or -1)))
        .order_by((Customer.code == into).desc())).scalars().first()
    if target is None or not access.can(actor, "customer.view", target):
        raise Invalid(f"客户不存在：{into}", details={"field": "into"})
    if target.id == merged.id:
        raise Invalid("不能把客户并入自身", details={"field": "into"})
    for customer in (merged, target):
        if customer.merged_into_id is not None:
            raise Conflict(f"客户 {customer.code} 已并入其他客户", code="merged_customer")
    access.require(actor, "customer.merge", target, hide=False)
    units = {d.unit_id: d for d in target.dossiers if d.unit_id is not None}
    clash = [(d, units[d.unit_id]) for d in merged.dossiers if d.unit_id in units]
    if clash:
        pairs = "；".join(f"{a.number} 与 {b.number}" for a, b in clash)
        raise Conflict(f"两位客户在同一房产各有档案（{pairs}），一户一档：请先把文件移入其中"
                       "一份并撤销另一份中的重复文件，再合并", code="duplicate_dossier")
    moved = list(merged.dossiers)
    kept = [d for d in target.dossiers if d.kind == "customer"]
    for dossier in moved:
        dossier.customer_id = target.id
        audit.record(session, actor, "dossier.moved_by_merge", dossier, reason=reason,
                     changes={"customer": [merged.code, target.code]})
    _link_dossiers(session, actor, [d for d in moved if d.kind == "customer"], kept)
    ids = [doc_id for d in moved for doc_id in
           session.execute(select(Document.id).where(Document.dossier_id == d.id)).scalars()]
    if ids:
        session.execute(update(Document).where(Document.id.in_(ids))
                        .values(department_id=target.department_id))
    merged.merged_into_id = target.id
    session.flush()
    session.expire(merged, ["dossiers"])
    session.expire(target, ["dossiers"])
    numbers = [d.number for d in moved]
    audit.record(session, actor, "customer.merged", merged, reason=reason, into=target.code,
                 dossiers=numbers)
    audit.record(session, actor, "customer.merged_into", target, reason=reason,
                 merged=merged.code, dossiers=numbers)
    corrections.reindex(session, ids)
    return target


def _link_dossiers(session, actor: User, moved: list[Dossier], kept: list[Dossier]) -> None:
    """One customer's dossiers reference each other (000:738), as create_dossier makes them."""
    for a in moved:
        for b in kept:
            for source, target in ((a, b), (b, a)):
                exists = session.execute(select(DossierReference.id).filter_by(
                    from_dossier_id=source.id, to_dossier_id=target.id,
                    kind="same_customer")).first()
                if not exists:
                    session.add(DossierReference(from_dossier_id=source.id,
                                                 to_dossier_id=target.id,
                                                 kind="same_customer", created_by_id=actor.id))
