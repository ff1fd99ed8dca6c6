"""The one place that decides who may do what (`can`, `require`, `may_read`, `visibility`).

Web views, the API, search, downloads, previews, the CLI and the approval engine all ask
here. Rules:
- content is open to a user whose clearance is at least its level, and whose department
  is the customer's responsible department, or who holds a GM-approved, time-limited
  grant for that department or customer (002:67);
- the archive room (officers, GM office) and auditors work across departments, still
  within their clearance; GM and deputy GM see everything (002:43);
- 绝密 opens only for persons the GM designated for that dossier or document (002:43);
- a document is protected at the higher of its own level and its dossier's
  (`Document.access_level`): whoever may not open a dossier opens none of its documents.

Reading is one rule, `Reach` (what a user reaches, computed once per call by `reach`),
in the three forms that must agree: the object check `may_read`, the SQL conditions
`customer_filter` and `dossier_filter`, and the search filter `visibility`
(tests/services/test_may_read.py holds them to each other). Every other action is a row
of `RULES`.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import and_, bindparam, or_, select

from archive.clock import now
from archive.models import (
    AccessGrant,
    CopyApproval,
    Customer,
    Designation,
    Document,
    Dossier,
    Level,
    Role,
    User,
)
from archive.models.enums import DocumentStatus
from archive.services import work
from archive.services.errors import Forbidden, NotFound, not_found  # noqa: F401 (access.NotFound)

ARCHIVE_WIDE = {Role.GM, Role.GM_OFFICE, Role.OFFICER, Role.AUDITOR}
FILERS = {Role.OFFICER, Role.GM_OFFICE, Role.STAFF, Role.DEPT_HEAD, Role.LEGAL, Role.GM}
READ_ONLY = {Role.AUDITOR}
# Who appraises, closes dossiers and destroys: the archive room (档案员, 总经理办公室).
DISPOSERS = (Role.OFFICER, Role.GM_OFFICE)
# The archive room: it keeps the catalogue, corrects it and runs the counter.
ARCHIVE_ROOM = {Role.OFFICER, Role.GM_OFFICE}
# From this level up, content opens only to persons the GM designated (and to the GM):
# no clearance reaches it, and below it a designation opens nothing (002:43).
BY_DESIGNATION = Level.TOP_SECRET


def _role(user) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Role(user.role)


def _unproxied(user):
    """The user behind Flask-Login's `current_user`: every attribute read through the proxy
    looks the user up again, and one page asks for role, clearance and department of
    every document it lists."""
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


@functools.cache
def _active_grants():
    # Built once: each request's first access check asks it (as sessions._by_token).
    moment = bindparam("moment")
    return select(AccessGrant.department_id, AccessGrant.customer_id).where(
        AccessGrant.user_id == bindparam("user"),
        AccessGrant.valid_from <= moment,
        AccessGrant.valid_until >= moment,
    )


def _grants(user: User):
    """Active cross-department grants: (department ids, customer ids)."""
    cached = getattr(user, "_active_grants", None)
    if cached is not None:
        return cached
    from archive.extensions import db

    rows = work.rows(db.session, _active_grants(), {"user": user.id, "moment": now()}).all()
    result = (
        frozenset(r.department_id for r in rows if r.department_id),
        frozenset(r.customer_id for r in rows if r.customer_id),
    )
    user._active_grants = result
    return result


def _designated(user: User, document: Document | None = None, dossier: Dossier | None = None) -> bool:
    from archive.extensions import db

    if document is not None:
        dossier = dossier or document.dossier
    if document is None and dossier is None:
        return False
    found = work.rows(db.session, _designation_of(), {
        "user": user.id, "document": document.id if document is not None else None,
        "dossier": dossier.id if dossier is not None else None}).first()
    return found is not None


@functools.cache
def _designation_of():
    # Built once: a page of 绝密 documents asks it for each (as sessions._by_token). A
    # missing document or dossier is bound as NULL, which equals no row's.
    return select(Designation.id).where(
        Designation.user_id == bindparam("user"),
        or_(Designation.document_id == bindparam("document"),
            Designation.dossier_id == bindparam("dossier"))).limit(1)


def designated_for_anything(session, user: User) -> bool:
    """Whether the GM designated `user` for any 绝密 document or dossier (002:43): what
    such a person may open reaches beyond their clearance."""
    return work.rows(session, _any_designation(), {"user": user.id}).first() is not None


@functools.cache
def _any_designation():
    # Built once: every search page asks it (as sessions._by_token).
    return select(Designation.id).where(Designation.user_id == bindparam("user")).limit(1)


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
    """Drop the grants and reach cached on `user` (after granting, revoking, or moving
    the clock)."""
    user.__dict__.pop("_active_grants", None)
    user.__dict__.pop("_reach", None)


def _customer_of(obj) -> Customer:
    return obj.customer if isinstance(obj, Dossier) else obj.dossier.customer


# -- may read: one rule, three forms -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reach:
    """What a user may read. Content at `level` (a document's: `Document.access_level`)
    opens iff `unrestricted`; or the level is `BY_DESIGNATION` or above and the user is
    designated for it or its dossier; or the level is at most `max_level` and its customer
    is `covered`."""

    unrestricted: bool = False  # GM and deputy GM (002:43)
    max_level: int = -1  # the clearance, capped below BY_DESIGNATION
    departments: frozenset[int] | None = frozenset()  # None: every customer (archive room)
    customers: frozenset[int] = frozenset()  # customers granted one by one (002:67)
    user_id: int | None = None  # whose designations count

    def covers(self, customer: Customer) -> bool:
        """Whether the customer's files are within departmental reach (002:67)."""
        return (self.departments is None or customer.department_id in self.departments
                or customer.id in self.customers)

    def opens(self, level: int, customer: Callable[[], Customer],
              designated: Callable[[], bool]) -> bool:
        """The object check; `customer` (a load) and `designated` (a query) are called
        only when the answer depends on them."""
        if self.unrestricted:
            return True
        if level >= BY_DESIGNATION:
            return designated()
        # The archive room's reach is every customer: it need not be loaded.
        return level <= self.max_level and (self.departments is None or self.covers(customer()))


NOBODY = Reach()


def reach(user) -> Reach:
    """What `user` may read (NOBODY when signed out)."""
    user = _unproxied(user)
    return _reach(user, _role(user))


def _reach(user: User, role: Role | None) -> Reach:
    if role is None:
        return NOBODY
    # Cached on the user like the grants it holds (`forget` drops both): a search page
    # asks for it per hit, a dossier page per document.
    key = (role, user.clearance, user.department_id)
    cached = user.__dict__.get("_reach")
    if cached is not None and cached[0] == key:
        return cached[1]
    cap = min(user.clearance, BY_DESIGNATION - 1)
    if role is Role.ADMIN:
        # The administrator runs accounts, not the archive: the role opens no content,
        # whatever clearance or department the account is given (issue 18).
        result = Reach(user_id=user.id)
    elif role is Role.GM:
        result = Reach(unrestricted=True, max_level=cap, departments=None, user_id=user.id)
    elif role in ARCHIVE_WIDE:  # every department: grants add nothing, and are not asked
        result = Reach(max_level=cap, departments=None, user_id=user.id)
    else:
        departments, customers = _grants(user)
        result = Reach(max_level=cap, customers=customers, user_id=user.id,
                       departments=frozenset({user.department_id, *departments} - {None}))
    user._reach = (key, result)
    return result


def may_read(user, obj: Customer | Dossier | Document) -> bool:
    """The may-read rule for one Customer (its files within reach), Dossier or Document
    (its content: `dossier.view`, `document.view` and `document.read` ask this). Whoever
    decides about an object, e.g. an approval step, must pass it; for a batch, for every
    item."""
    user = _unproxied(user)
    return _reads(user, _reach(user, _role(user)), obj)


def cleared(user, obj: Dossier | Document) -> bool:
    """The may-read rule without the departmental reach: clearance at least the level,
    绝密 only when designated. A loan of another department's files asks this of its
    borrower (the route adds the GM's approval for the reach); a loan never lifts a
    clearance."""
    user = _unproxied(user)
    role = _role(user)
    if role is None:
        return False
    return _reads(user, replace(_reach(user, role), departments=None), obj)


def clears_level(user, level: int) -> bool:
    """Whether `user`'s clearance reaches `level` below 绝密, whatever the object (绝密
    opens per object, by designation: False)."""
    user = _unproxied(user)
    role = _role(user)
    if role is None or level >= BY_DESIGNATION:
        return False
    scope = _reach(user, role)
    return scope.unrestricted or level <= scope.max_level


WITHHELD_TITLE = "（密级已调整，题名不予显示）"


def shown_title(viewer, document: Document) -> str:
    """A document's title where `viewer` meets it through a loan or a request rather than
    through reading it: shown when the viewer is cleared for the document now (cleared),
    withheld when its level was raised beyond them since. A loan gives its borrower the
    departmental reach, never the clearance: a borrower who is 404 on a lent document
    raised after the loan meets it untitled, and so does an approver asked before."""
    return document.title if cleared(viewer, document) else WITHHELD_TITLE


def _reads(user: User, scope: Reach, obj) -> bool:
    if isinstance(obj, Document):
        return scope.opens(obj.access_level, lambda: obj.dossier.customer,
                           lambda: _designated(user, document=obj))
    if isinstance(obj, Dossier):
        # Loaded whatever the reach: pages read it after the check, when the dossier may
        # be detached from its session.
        customer = obj.customer
        return scope.opens(obj.classification, lambda: customer,
                           lambda: _designated(user, dossier=obj))
    if isinstance(obj, Customer):
        return scope.covers(obj)
    raise TypeError(f"may_read: not a customer, dossier or document: {obj!r}")


def document_columns():
    """The columns the row form of the document check reads (`readable_rows`), labelled;
    select them from Document joined to its Dossier and that dossier's Customer."""
    return (Document.id.label("id"), Document.status.label("status"),
            Document.classification.label("classification"),
            Document.dossier_id.label("dossier_id"),
            Dossier.classification.label("dossier_classification"),
            Dossier.customer_id.label("customer_id"),
            Customer.department_id.label("customer_department_id"))


def readable_rows(user, rows) -> list:
    """The rows (with `document_columns`) of the documents `user` may view: the row form
    of `can(user, "document.view", document)`, for lists checked without loading each
    document, dossier and customer as objects (search hits). One query for the
    designations, and only when a row's level asks for them."""
    user = _unproxied(user)
    role = _role(user)
    if role is None:
        return []
    scope = _reach(user, role)
    rows = [r for r in rows
            if r.status != DocumentStatus.WITHDRAWN.value or role in ARCHIVE_WIDE]
    if scope.unrestricted:
        return rows
    level = {r.id: max(r.classification, r.dossier_classification) for r in rows}
    documents, dossiers = _designations(user, [r for r in rows if level[r.id] >= BY_DESIGNATION])
    return [r for r in rows if (
        r.id in documents or r.dossier_id in dossiers if level[r.id] >= BY_DESIGNATION
        else level[r.id] <= scope.max_level and (
            scope.departments is None or r.customer_department_id in scope.departments
            or r.customer_id in scope.customers))]


def _designations(user: User, rows) -> tuple[set[int], set[int]]:
    """Of the rows' documents and dossiers, the ids of those `user` is designated for."""
    if not rows:
        return set(), set()
    from archive.extensions import db

    found = db.session.execute(select(Designation.document_id, Designation.dossier_id).where(
        Designation.user_id == user.id,
        or_(Designation.document_id.in_({r.id for r in rows}),
            Designation.dossier_id.in_({r.dossier_id for r in rows})))).all()
    return ({d for d, _ in found if d is not None}, {d for _, d in found if d is not None})


def in_scope(user: User, customer: Customer | None) -> bool:
    """Whether the customer's files are within the user's departmental reach."""
    return reach(user).covers(customer)


def _customer_condition(scope: Reach):
    if scope.departments is None:
        return None
    return or_(Customer.department_id.in_(scope.departments), Customer.id.in_(scope.customers))


def customer_filter(user: User):
    """A SQL condition on Customer limiting a listing to the user's scope (or None)."""
    return _customer_condition(reach(user))


def dossier_filter(user: User):
    """A SQL condition on Dossier equivalent to `may_read(user, dossier)` (or None), for
    counts and listings that must not include what the user may not open."""
    scope = reach(user)
    if scope.unrestricted:
        return None
    cleared = Dossier.classification <= scope.max_level
    customers = _customer_condition(scope)
    if customers is not None:
        cleared = and_(cleared, Dossier.customer_id.in_(select(Customer.id).where(customers)))
    designated = and_(
        Dossier.classification >= int(BY_DESIGNATION),
        Dossier.id.in_(select(Designation.dossier_id).where(Designation.user_id == scope.user_id)),
    )
    return or_(cleared, designated)


def visibility(user: User):
    """The search filter equivalent to `may_read(user, document)`. The index lists as a
    document's readers its designated users from BY_DESIGNATION up (indexing.to_index_doc)."""
    from archive.services.search import Visibility

    scope = reach(user)
    return Visibility(unrestricted=scope.unrestricted, max_level=scope.max_level,
                      department_ids=scope.departments, customer_ids=scope.customers,
                      user_id=scope.user_id)


def _loans():
    from archive.services import loans  # it asks here too: imported when first used

    return loans


def _session():
    from archive.extensions import db

    return db.session


def _approvals():
    from archive.services import approvals  # it asks here too: imported when first used

    return approvals


def _transfers():
    from archive.services import transfers  # it asks here too: imported when first used

    return transfers


def _destruction():
    from archive.services import destruction  # it asks here too: imported when first used

    return destruction


# -- every action: one row each ----------------------------------------------------------

Rule = Callable[[User, Role, object], bool]  # (the user, their role, the object) -> allowed


def _signed_in(user, role, obj) -> bool:
    return True


def _gm(user, role, obj) -> bool:
    return role is Role.GM


def _filer(user, role, obj) -> bool:
    return role in FILERS


def _reads_it(user, role, obj) -> bool:
    return _reads(user, _reach(user, role), obj)


def _reads_document(user, role, document) -> bool:
    """A withdrawn document (撤销归档) is a tombstone for the archive room, its auditors
    and the GM; for everyone else it is gone, as if never filed."""
    if document.status == DocumentStatus.WITHDRAWN.value and role not in ARCHIVE_WIDE:
        return False
    return _reads_it(user, role, document)


def _files_into(user, role, obj) -> bool:
    """A filer who may read the customer or the dossier filed into."""
    return role in FILERS and _reads_it(user, role, obj)


def _copies(user, role, document) -> bool:
    """A download or print is a copy: of 绝密, the GM's or with his approval (002:45)."""
    if not _reads_it(user, role, document):
        return False
    return (role is Role.GM or document.access_level < Level.TOP_SECRET
            or _copy_approved(user, document))


def _requests_level_change(user, role, obj) -> bool:
    """The handling department (000:742): filers who read the document or dossier and
    whose reach covers its customer (a designation alone does not)."""
    scope = _reach(user, role)
    return role in FILERS and scope.covers(_customer_of(obj)) and _reads(user, scope, obj)


def _corrects(user, role, obj) -> bool:
    """The archive room corrects the catalogue of what it may read (docs/corrections.md)."""
    return role in ARCHIVE_ROOM and _reads_it(user, role, obj)


def _corrects_contacts(user, role, customer) -> bool:
    """A customer's contact data: the archive room, or a filer of the customer's own
    department (not one who reaches it through a grant)."""
    return role in ARCHIVE_ROOM or (role in FILERS and user.department_id is not None
                                    and user.department_id == customer.department_id)


RULES: dict[str, Rule] = {
    # What anyone signed in then sees is filtered by the may-read rule.
    "customer.list": _signed_in,
    "search": _signed_in,
    "customer.create": _filer,
    "customer.view": _reads_it,  # obj: Customer; 002:67
    "dossier.create": _files_into,  # obj: the Customer
    "dossier.view": _reads_it,  # 002:43, 002:67
    "document.upload": _files_into,  # obj: the Dossier
    "document.view": _reads_document,  # metadata; 002:43, 002:67
    "document.read": _reads_document,  # bytes: preview, download
    "document.copy": _copies,  # download or print; 002:45
    "classification.request": _requests_level_change,  # obj: Document or Dossier; 000:742
    # Corrections of catalogue data (issue 18, docs/corrections.md); bytes never change.
    "customer.correct": _corrects,  # obj: Customer; every field, the department too
    "customer.correct_contacts": _corrects_contacts,  # obj: Customer; phone, address, notes
    "customer.merge": _corrects,  # obj: the Customer merged away
    # A customer like one already registered (same ID number, or name and phone) is
    # registered all the same only when the archive room confirms another person.
    "customer.confirm_different": lambda user, role, obj: role in ARCHIVE_ROOM,
    "dossier.correct": _corrects,
    "document.correct": _corrects,  # catalogue data and moves; not level nor retention
    "document.withdraw": _corrects,  # 撤销归档: a mis-filed document leaves the lists
    "reference.remove": _corrects,  # obj: the Dossier the manual reference is made from
    # Approval requests (approvals.py decides; asked here so every check has one door):
    # who may know of one, who is among its deciders, who may take it back.
    "approval.view": lambda user, role, request: _approvals().visible(user, request),
    "approval.decide": lambda user, role, request: _approvals().named(user, request),
    "approval.withdraw": lambda user, role, request: request.requested_by_id == user.id,
    # A designated reader asks the GM to copy a 绝密 document (002:45); auditors only read.
    "copy.request": lambda user, role, obj: role not in READ_ONLY and may_read(user, obj),
    # Those whose reach is their own department ask the GM for another's (002:67).
    "approval.ask_access": lambda user, role, obj: role in (Role.STAFF, Role.DEPT_HEAD,
                                                            Role.LEGAL),
    # Loans (借阅): everyone who reads asks for one (auditors only read the register);
    # the counter and the register are the archive room's (000:840-846, 003:99-105).
    "loan.request": lambda user, role, obj: role not in READ_ONLY and role is not Role.ADMIN,
    "loan.counter": lambda user, role, obj: role in (Role.OFFICER, Role.GM_OFFICE),
    "loan.register": lambda user, role, obj: role in (Role.OFFICER, Role.GM_OFFICE,
                                                      Role.AUDITOR, Role.GM),
    # One loan: who may know of it (loans.visible), and who may renew it or report a loss
    # on it (its borrower and the archive room).
    "loan.view": lambda user, role, loan: _loans().visible(_session(), user, loan),
    "loan.handle": lambda user, role, loan: (loan.borrower_id == user.id
                                             or role in (Role.OFFICER, Role.GM_OFFICE)),
    # The lent documents of an electronic loan open to its borrower alone (003:105: a loan
    # is not passed to another person; the head who approved it does not read through it).
    "loan.open": lambda user, role, loan: loan.borrower_id == user.id,
    # Routes are data; the administrator proposes a change, the GM approves it.
    "route.propose": lambda user, role, obj: role is Role.ADMIN,
    "grant.manage": _gm,  # 002:67
    "designation.manage": _gm,  # 002:43
    "copy.approve": _gm,  # 002:45
    # The trail records what administrators do too: they do not read it themselves.
    "audit.view": lambda user, role, obj: role in (Role.AUDITOR, Role.GM),
    # 四性检测 reports (DA/T 70): the archive room keeps the archive, the auditor checks it.
    "preservation.view": lambda user, role, obj: role in (*ARCHIVE_ROOM, Role.AUDITOR, Role.GM),
    "user.manage": lambda user, role, obj: role is Role.ADMIN,
    # Departments and the list of projects (苑) a dossier's unit is chosen from.
    "org.manage": lambda user, role, obj: role is Role.ADMIN,
    # The working-day calendar (holidays, 调休) that loan periods and transfer deadlines
    # count on; everyone signed in reads it.
    "calendar.manage": lambda user, role, obj: role is Role.ADMIN,
    # Bulk import (issue 19): loading a whole archive is the archive room's, and what it
    # files is in the archive room's custody at once.
    "import.run": lambda user, role, obj: role in ARCHIVE_ROOM,
    # Sequence numbers are given across every level: a gap would tell a reader that an
    # item above them exists. Only the archive room (its auditors, the GM) works with
    # them (docs/hardening.md, finding 14).
    "numbering.view": lambda user, role, obj: role in ARCHIVE_WIDE,
    # A customer's ID and telephone numbers in full (personal_data.shown): the archive room,
    # the GM and the customer's own department; everyone else sees them masked.
    "customer.personal_data": lambda user, role, customer: (
        role in ARCHIVE_ROOM or role is Role.GM
        or (customer is not None and user.department_id is not None
            and user.department_id == customer.department_id)),
    # Retention and disposal (issue 17, docs/retention.md). The schedule is the company's
    # rule, read by everyone and changed by the administrator; the archive room appraises,
    # closes dossiers and destroys; the legal office places holds too.
    "retention.manage": lambda user, role, obj: role is Role.ADMIN,
    "retention.review": lambda user, role, obj: role in DISPOSERS,
    "retention.appraise": lambda user, role, obj: role in DISPOSERS and may_read(user, obj),
    "dossier.close": lambda user, role, obj: role in DISPOSERS and may_read(user, obj),
    "hold.manage": lambda user, role, obj: role in (*DISPOSERS, Role.LEGAL),
    "hold.view": lambda user, role, obj: role in (*DISPOSERS, Role.LEGAL, Role.GM, Role.AUDITOR),
    "destruction.propose": lambda user, role, obj: role in DISPOSERS,
    "destruction.execute": lambda user, role, obj: role in DISPOSERS,
    # The batches and the register (销毁清册): the archive room, the GM, the auditor.
    "destruction.list": lambda user, role, obj: role in (*DISPOSERS, Role.GM, Role.AUDITOR),
    # One batch: those it names, and the list's readers who may read every item.
    "destruction.view": lambda user, role, batch: _destruction().visible(user, batch),
    # Transfers (issue 19, docs/transfers.md): a department's staff and head prepare what
    # it holds; the lists are everyone's who files or reads the archive; the administrator
    # keeps the deadline rules; handovers are opened by the administrator, the archive
    # room, or the head of the person's department.
    "transfer.prepare": lambda user, role, obj: (role in (Role.STAFF, Role.DEPT_HEAD, Role.LEGAL)
                                                 and user.department_id is not None),
    "transfer.list": lambda user, role, obj: role is not Role.ADMIN,
    "transfer.view": lambda user, role, batch: _transfers().visible(user, batch),
    "transfer.send": lambda user, role, batch: (role in (Role.STAFF, Role.DEPT_HEAD, Role.LEGAL)
                                                and user.department_id == batch.from_department_id),
    "transfer.receive": lambda user, role, batch: (
        role in DISPOSERS if batch.to_department_id is None else
        role in (Role.STAFF, Role.DEPT_HEAD) and user.department_id == batch.to_department_id),
    "handover.start": lambda user, role, obj: role in (Role.ADMIN, *DISPOSERS, Role.DEPT_HEAD),
    "handover.view": lambda user, role, handover: _transfers().handover_visible(user, handover),
    "handover.sign": lambda user, role, handover: user.id == handover.receiver_id,
    "transfer.rules": lambda user, role, obj: role is Role.ADMIN,
    "handover.open": lambda user, role, person: role in (Role.ADMIN, *DISPOSERS) or (
        role is Role.DEPT_HEAD and person is not None
        and person.department_id == user.department_id),
    # The printed forms of a dossier (封面, 卷内目录, 备考表) are the archive room's, which
    # prints them at the dossier's true level; other readers have the dossier page.
    "dossier.print": lambda user, role, dossier: role in ARCHIVE_ROOM and _reads_it(
        user, role, dossier),
}


def can(user, action: str, obj=None) -> bool:
    """Whether `user` may perform `action` (a key of RULES) on `obj`. Nobody signed out
    may do anything; an action not in RULES is a programming error (ValueError)."""
    rule = RULES.get(action)
    if rule is None:
        raise ValueError(f"unknown action {action}")
    user = _unproxied(user)
    role = _role(user)
    return role is not None and rule(user, role, obj)


def require(user, action: str, obj=None, *, hide: bool = True) -> None:
    """Raise unless `can(...)`. For objects the user may not see at all, raise NotFound
    (the same answer as for an id that does not exist), so existence does not leak.

    The error carries `denial` (action, object type, object id), which the error handler
    records as an `access.denied` audit event after rolling the request back."""
    if can(user, action, obj):
        return
    object_type = type(obj).__name__.lower() if obj is not None else ""
    if hide and obj is not None and action.endswith((".view", ".read")):
        error = not_found(object_type)
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
    scope = reach(user)
    return Level.TOP_SECRET if scope.unrestricted else Level(scope.max_level)


def shown_level(user: User, dossier: Dossier) -> Level:
    """The level a dossier shows `user`: the highest of its own and of the documents the
    user may see. A hidden document's higher level would tell that it exists."""
    levels = [d.classification for d in visible_documents(user, dossier.documents)]
    return Level(max([dossier.classification, *levels]))


def true_level(dossier: Dossier) -> Level:
    """The level the dossier's printed cover carries: the highest of its own and of every
    document in it, whoever prints it (the archive room: `dossier.print`)."""
    return Level(max([dossier.classification, *(d.classification for d in dossier.documents)]))


def visible_documents(user: User, documents):
    """The documents of a list the user may see (for dossier pages and listings): a
    withdrawn one (撤销归档) is in no list, whoever looks."""
    user = _unproxied(user)
    return [d for d in documents if d.status != DocumentStatus.WITHDRAWN.value
            and can(user, "document.view", d)]
