"""The one place that decides who may do what (`can`, `require`, `visibility`).

Web views, the API, search, downloads, previews and the CLI all ask here. Rules:
- content is open to a user whose clearance is at least its level, and whose department
  is the customer's responsible department, or who holds a GM-approved, time-limited
  grant for that department or customer (002:67);
- the archive room (officers, GM office) and auditors work across departments, still
  within their clearance; GM and deputy GM see everything (002:43);
- 绝密 opens only for persons the GM designated for that dossier or document (002:43);
- a document is protected at the higher of its own level and its dossier's
  (`Document.access_level`): whoever may not open a dossier opens none of its documents.
"""

from sqlalchemy import and_, or_, select

from archive.models import (
    AccessGrant,
    ClassificationChange,
    CopyApproval,
    Customer,
    Designation,
    Document,
    Dossier,
    Level,
    Role,
    User,
)
from archive.services.clock import now
from archive.services.errors import Forbidden, NotFound

ARCHIVE_WIDE = {Role.GM, Role.GM_OFFICE, Role.OFFICER, Role.AUDITOR}
FILERS = {Role.OFFICER, Role.GM_OFFICE, Role.STAFF, Role.DEPT_HEAD, Role.LEGAL, Role.GM}
READ_ONLY = {Role.AUDITOR}


def _role(user) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Role(user.role)


def _unproxied(user):
    """The user behind Flask-Login's `current_user`: every attribute read through the proxy
    looks the user up again, and one page asks for role, clearance and department of
    every document it lists."""
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def _grants(user: User):
    """Active cross-department grants: (department ids, customer ids)."""
    cached = getattr(user, "_active_grants", None)
    if cached is not None:
        return cached
    from archive.extensions import db

    moment = now()
    rows = db.session.execute(
        select(AccessGrant.department_id, AccessGrant.customer_id).where(
            AccessGrant.user_id == user.id,
            AccessGrant.valid_from <= moment,
            AccessGrant.valid_until >= moment,
        )
    ).all()
    result = (
        frozenset(r.department_id for r in rows if r.department_id),
        frozenset(r.customer_id for r in rows if r.customer_id),
    )
    user._active_grants = result
    return result


def _designated(user: User, document: Document | None = None, dossier: Dossier | None = None) -> bool:
    from archive.extensions import db

    conditions = []
    if document is not None:
        conditions.append(Designation.document_id == document.id)
        dossier = dossier or document.dossier
    if dossier is not None:
        conditions.append(Designation.dossier_id == dossier.id)
    if not conditions:
        return False
    found = db.session.execute(
        select(Designation.id).where(Designation.user_id == user.id, or_(*conditions)).limit(1)
    ).first()
    return found is not None


def _copy_approved(user: User, document: Document) -> bool:
    """An unexpired GM approval for this person to copy this 绝密 document (002:45)."""
    from archive.extensions import db

    found = db.session.execute(
        select(CopyApproval.id).where(
            CopyApproval.user_id == user.id,
            CopyApproval.document_id == document.id,
            CopyApproval.created_at <= now(),
            CopyApproval.expires_at >= now(),
        ).limit(1)
    ).first()
    return found is not None


def forget(user: User) -> None:
    """Drop the grants cached on `user` (after granting, revoking, or moving the clock)."""
    user.__dict__.pop("_active_grants", None)


def _customer_of(obj) -> Customer:
    return obj.customer if isinstance(obj, Dossier) else obj.dossier.customer


def _may_decide(user: User, change: ClassificationChange) -> bool:
    """The two parties to a level change (000:742): the head of the customer's
    department and the GM office, each only on what they may see themselves."""
    target = change.target
    if not can(user, f"{type(target).__name__.lower()}.view", target):
        return False
    role = _role(user)
    if role is Role.GM_OFFICE:
        return True
    return role is Role.DEPT_HEAD and user.department_id == _customer_of(target).department_id


def in_scope(user: User, customer: Customer | None) -> bool:
    """Whether the customer's files are within the user's departmental reach."""
    role = _role(user)
    if role is None:
        return False
    if role in ARCHIVE_WIDE:
        return True
    if customer.department_id == user.department_id:
        return True
    departments, customers = _grants(user)
    return customer.department_id in departments or customer.id in customers


def _opens(user: User, customer: Customer | None, level: int, *, document=None,
           dossier=None) -> bool:
    """Content access: GM always; 绝密 only for designated persons, whoever they are;
    below that, clearance at least the level and the customer within reach (None: the
    archive room's reach, every customer)."""
    if _role(user) is Role.GM:
        return True
    if level >= Level.TOP_SECRET:
        return _designated(user, document=document, dossier=dossier)
    return user.clearance >= level and in_scope(user, customer)


def can(user, action: str, obj=None) -> bool:
    """Whether `user` may perform `action` on `obj`. Actions:

    customer.list, customer.create, customer.view, dossier.create, dossier.view,
    document.upload (obj: dossier), document.view (metadata), document.read (bytes,
    preview, download), document.copy (download/print of a 绝密 document: GM approval),
    classification.request (obj: document or dossier), classification.decide (obj: a
    ClassificationChange), grant.manage, designation.manage, copy.approve (GM only),
    audit.view, user.manage, search, numbering.view (sequence numbers: the archive room).
    """
    user = _unproxied(user)
    role = _role(user)
    if role is None:
        return False
    if action in ("customer.list", "search"):
        return True
    if action == "numbering.view":
        # Sequence numbers are given across every level: a gap would tell a reader that
        # an item above them exists. Only the archive room (and its auditors and the GM)
        # works with them (docs/hardening.md, finding 14).
        return role in ARCHIVE_WIDE
    if action == "audit.view":
        # The trail records what administrators do too: they do not read it themselves.
        return role in (Role.AUDITOR, Role.GM)
    if action == "user.manage":
        return role is Role.ADMIN
    if action == "customer.create":
        return role in FILERS
    if action == "customer.view":
        return in_scope(user, obj)
    if action == "dossier.create":
        return role in FILERS and in_scope(user, obj)  # obj: the customer
    if action == "dossier.view":
        return _opens(user, obj.customer, obj.classification, dossier=obj)
    if action == "document.upload":
        return role in FILERS and can(user, "dossier.view", obj)
    if action in ("document.view", "document.read"):
        # A search page checks twenty documents: the archive room's reach is every
        # customer, so their customers need not be loaded for it.
        customer = None if role in ARCHIVE_WIDE else obj.dossier.customer
        return _opens(user, customer, obj.access_level, document=obj)
    if action == "document.copy":
        if not can(user, "document.read", obj):
            return False
        return role is Role.GM or obj.access_level < Level.TOP_SECRET or _copy_approved(user, obj)
    if action == "classification.request":
        # The handling department (000:742): filers within the customer's reach who see it.
        view = "dossier.view" if isinstance(obj, Dossier) else "document.view"
        return role in FILERS and in_scope(user, _customer_of(obj)) and can(user, view, obj)
    if action == "classification.decide":
        return _may_decide(user, obj)
    if action in ("grant.manage", "designation.manage", "copy.approve"):
        return role is Role.GM
    raise ValueError(f"unknown action {action}")


# The messages for an id that does not exist (customers.get_or_404 and its callers): a
# hidden object must be refused with exactly the same words, or the answer tells it exists.
NOT_FOUND_MESSAGES = {"customer": "客户不存在", "dossier": "档案不存在", "document": "文件不存在"}


def require(user, action: str, obj=None, *, hide: bool = True) -> None:
    """Raise unless `can(...)`. For objects the user may not see at all, raise NotFound
    (the same answer as for an id that does not exist), so existence does not leak.

    The error carries `denial` (action, object type, object id), which the error handler
    records as an `access.denied` audit event after rolling the request back."""
    if can(user, action, obj):
        return
    object_type = type(obj).__name__.lower() if obj is not None else ""
    if hide and obj is not None and action.endswith((".view", ".read")):
        error = NotFound(NOT_FOUND_MESSAGES.get(object_type, "对象不存在"))
    else:
        error = Forbidden("无权执行此操作")
    error.denial = {"action": action, "object_type": object_type,
                    "object_id": str(getattr(obj, "id", "") or "")}
    raise error


def is_gm(user) -> bool:
    """总经理 / 副总经理: may see and copy everything (002:43)."""
    return _role(user) is Role.GM


def max_filing_level(user: User) -> Level:
    """Nobody files a document at a level they could not open themselves."""
    if _role(user) is Role.GM:
        return Level.TOP_SECRET
    return Level(min(user.clearance, Level.CONFIDENTIAL))


def customer_filter(user: User):
    """A SQL condition on Customer limiting a listing to the user's scope (or None)."""
    role = _role(user)
    if role in ARCHIVE_WIDE:
        return None
    departments, customers = _grants(user)
    return or_(
        Customer.department_id == user.department_id,
        Customer.department_id.in_(departments),
        Customer.id.in_(customers),
    )


def dossier_filter(user: User):
    """A SQL condition on Dossier equivalent to `can(user, 'dossier.view', dossier)`
    (or None), for counts and listings that must not include what the user may not open."""
    role = _role(user)
    if role is Role.GM:
        return None
    cleared = Dossier.classification <= min(user.clearance, int(Level.CONFIDENTIAL))
    scope = customer_filter(user)
    if scope is not None:
        cleared = and_(cleared, Dossier.customer_id.in_(select(Customer.id).where(scope)))
    designated = and_(
        Dossier.classification >= int(Level.TOP_SECRET),
        Dossier.id.in_(select(Designation.dossier_id).where(Designation.user_id == user.id)),
    )
    return or_(cleared, designated)


def shown_level(user: User, dossier: Dossier) -> Level:
    """The level a dossier shows `user`: the highest of its own and of the documents the
    user may see. A hidden document's higher level would tell that it exists."""
    levels = [d.classification for d in visible_documents(user, dossier.documents)]
    return Level(max([dossier.classification, *levels]))


def visible_documents(user: User, documents):
    """The documents of a list the user may see (for dossier pages and listings)."""
    user = _unproxied(user)
    return [d for d in documents if can(user, "document.view", d)]


def visibility(user: User):
    """The search filter equivalent to `can(user, 'document.view', doc)`."""
    from archive.services.search import Visibility

    user = _unproxied(user)
    role = _role(user)
    if role is Role.GM:
        return Visibility(unrestricted=True, user_id=user.id)
    if role in ARCHIVE_WIDE:  # every department: grants add nothing
        department_ids, customers = None, frozenset()
    else:
        departments, customers = _grants(user)
        department_ids = frozenset({user.department_id, *departments} - {None})
    return Visibility(
        unrestricted=False,
        max_level=min(user.clearance, int(Level.CONFIDENTIAL)),
        department_ids=department_ids,
        customer_ids=customers,
        user_id=user.id,
    )
