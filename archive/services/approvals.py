"""The approval engine (审批): somebody asks, named people decide in order, and only then
something happens. Level changes, 绝密 copies, cross-department access and route changes
run on it; loans, destructions and transfer receipts will.

- A request is filed under the active route of its kind and copies that route's steps:
  a later change of the route never alters a request in flight.
- Steps of one stage may be decided in any order; the next stage opens when every step
  of the current one is approved. A rejection ends the request; a withdrawal is the
  requester's alone; a request past its route's time limit is expired, read against
  the clock.
- Every decision passes the same guards, here and nowhere else: the request is pending;
  the decider is neither the requester nor an earlier decider of it; an open step's
  scope names the decider; the decider is cleared for the subject (access.cleared, every
  item of a batch), or for the level it was asked at when it was raised since
  (cleared_as_asked: to reject it); and, to approve, the subject has not changed since
  the request was filed and the decider is cleared for it now. A refused decision is
  audited and changes nothing.
- The effect of the final approval runs in the approval's own transaction, through the
  one handler its kind registered (`effect`); work that must follow the commit (index
  writes) is registered on the unit of work.

Routes are data (approval_routes, seeded by the migration with their seed lines). A route
is changed only by a request of kind route_change, which the GM approves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from archive.clock import now
from archive.models import Customer, Document, Dossier, Loan, User
from archive.models.approval import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStep,
    Approver,
    Decision,
    RequestStatus,
    RouteStep,
)
from archive.models.enums import Role
from archive.models.retention import Destruction
from archive.models.transfer import TransferBatch
from archive.services import access, audit, validation, work
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound

NOT_FOUND = "审批申请不存在"
UNCLEARED = "您的密级不足以审阅该申请的对象"
MAX_NOTE = 2000


@dataclass(frozen=True)
class Handler:
    """What a kind adds to the engine.

    describe: the subject in words, for `viewer` (never more than the viewer may see).
    stale: why the subject no longer is what was asked about (None: unchanged).
    prepare: the decider's extra input for the final approval, validated (e.g. the GM
             picks the customer a cross-department request named as text).
    apply: the effect of the final approval, in the approval's transaction.
    ended: what a rejection or withdrawal does to the subject (e.g. a loan is refused),
           in the same transaction.
    """

    describe: Callable
    apply: Callable
    stale: Callable = lambda session, request: None
    prepare: Callable = lambda session, actor, request, data: {}
    ended: Callable = lambda session, actor, request: None


_HANDLERS: dict[ApprovalKind, Handler] = {}


def effect(kind: ApprovalKind, handler: Handler) -> None:
    """Register the handler of a kind (each module that owns a kind does so on import)."""
    _HANDLERS[kind] = handler


def handler(kind) -> Handler:
    if not _HANDLERS.get(ApprovalKind(kind)):
        # The modules that own kinds register them when imported.
        import archive.services.classification  # noqa: F401
        import archive.services.destruction  # noqa: F401
        import archive.services.grants  # noqa: F401
        import archive.services.loans  # noqa: F401
        import archive.services.transfers  # noqa: F401
    return _HANDLERS[ApprovalKind(kind)]


# ---- routes -----------------------------------------------------------------------


def route_for(session, kind: ApprovalKind) -> ApprovalRoute:
    """The active route of a kind."""
    route = session.execute(
        select(ApprovalRoute).where(ApprovalRoute.kind == ApprovalKind(kind).value,
                                    ApprovalRoute.active.is_(True))
    ).scalar_one_or_none()
    if route is None:
        raise Conflict(f"未配置“{ApprovalKind(kind).label}”的审批路线", code="no_route")
    return route


def routes(session) -> list[ApprovalRoute]:
    """Every route, active ones first, each kind's versions newest first."""
    return list(session.execute(
        select(ApprovalRoute).options(selectinload(ApprovalRoute.steps))
        .order_by(ApprovalRoute.active.desc(), ApprovalRoute.kind,
                  ApprovalRoute.version.desc())
    ).scalars())


# ---- filing a request --------------------------------------------------------------


def _subject_columns(subject) -> dict:
    if subject is None:
        return {}
    column = {Document: "document_id", Dossier: "dossier_id", Customer: "customer_id",
              ApprovalRoute: "subject_route_id", Loan: "loan_id",
              Destruction: "destruction_id", TransferBatch: "transfer_id"}[type(subject)]
    return {column: subject.id}


def ref(subject) -> str | None:
    """How audit details name the subject ('document:12'): the audit log withholds details
    about what a reader may not open."""
    if subject is None:
        return None
    return f"{type(subject).__name__.lower()}:{subject.id}"


def file(session, actor: User, kind: ApprovalKind, *, reason: str, subject=None,
         payload: dict | None = None, subject_level: int | None = None,
         then=()) -> ApprovalRequest:
    """File a request under the active route of `kind`; the caller has checked that the
    actor may ask. The steps are copied from the route, followed by the stages of the
    active routes of the kinds in `then` (e.g. a loan of another department's files
    adds the GM's stage, 002:67); the payload records every route version used."""
    kind = ApprovalKind(kind)
    route = route_for(session, kind)
    more = [route_for(session, k) for k in then]
    moment = now()
    request = ApprovalRequest(
        kind=kind.value, route_id=route.id, requested_by_id=actor.id, reason=reason,
        status=RequestStatus.PENDING.value, created_at=moment, subject_level=subject_level,
        expires_at=(moment + timedelta(hours=route.time_limit_hours)
                    if route.time_limit_hours else None),
        **_subject_columns(subject),
    )
    request.payload = {**(payload or {}), **({"then_routes": [r.id for r in more]}
                                             if more else {})}
    session.add(request)
    session.flush()
    offset, asked, steps = 0, set(), []
    for each in (route, *more):
        # A further route's step whose approver the request already asks adds nothing:
        # one person may decide one step of a request, so the GM of a 绝密 loan of
        # another department's files (loan_top_secret, then loan_other_department) was
        # asked twice and the second stage could never be decided.
        taken = [s for s in each.steps if each is route or s.approver not in asked]
        steps += [ApprovalStep(request_id=request.id, stage=offset + s.stage, approver=s.approver)
                  for s in taken]
        asked.update(s.approver for s in each.steps)
        offset += max((s.stage for s in taken), default=0)
    people = _deciding_people(session)
    session.add_all(_director_signs_once(request, steps, people))
    session.flush()
    session.refresh(request)
    audit.record(session, actor, "approval.requested", request, kind=kind.value,
                 route=route.id, target=ref(subject), reason=reason)
    _consent_by_asking(session, actor, request)
    _require_routable(request, people)
    return request


def _director_signs_once(request: ApprovalRequest, steps: list[ApprovalStep],
                         people: list[User]) -> list[ApprovalStep]:
    """`steps` without a department head's step that only the GM-office director could
    decide (of the active people cleared for the subject) when the request also asks the
    director. The director heads the GM office (in_scope), and its 部门经理, who 办理 the
    借阅档案申请表, and the 主任, who 核批 it (002:942), are one person there: asked twice,
    nobody could decide the second step, and a loan out of a GM-office clerk was refused."""
    if not any(s.approver == Approver.GM_OFFICE_DIRECTOR for s in steps):
        return steps
    cleared = _cleared_among(request, people, besides=_asking(request))

    def directors_only(step: ApprovalStep) -> bool:
        heads = [u for u in cleared if in_scope(u, step.approver, request)]
        return bool(heads) and all(u.gm_office_director for u in heads)

    return [s for s in steps if s.approver not in HEAD_STEPS or not directors_only(s)]


# A department head's own request carries the head's consent: the step that asks for it
# is decided as the request is filed, on the record (002:869: heads borrow directly).
SELF_CONSENT = "申请人即本部门负责人，提出申请即为同意"
HEAD_STEPS = (Approver.REQUESTER_DEPT_HEAD, Approver.CUSTOMER_DEPT_HEAD)


def _consent_by_asking(session, actor: User, request: ApprovalRequest) -> None:
    """Decide the steps that ask for a department head's consent when the applicant is
    that head (and cleared for the subject): nobody decides their own request, so a
    head's loan of another department's files, or a level change of the head's own
    customer's document, waited for ever at that step."""
    applicant, moment = request.applicant, now()
    for step in request.steps:
        if (step.approver in HEAD_STEPS and in_scope(applicant, step.approver, request)
                and cleared_for_subject(applicant, request)):
            _approve_step(session, actor, request, step, applicant, SELF_CONSENT, moment,
                          decided_by=applicant.username)
    session.flush()


def _approve_step(session, actor: User, request: ApprovalRequest, step: ApprovalStep,
                  decider: User, note: str, moment, **details) -> None:
    """Record `decider`'s approval of `step`, and audit it as `actor`'s doing: one place
    for a decision given in the inbox and for a head's consent given by asking."""
    step.decided_by_id, step.decision, step.note, step.decided_at = (
        decider.id, Decision.APPROVED.value, note, moment)
    audit.record(session, actor, "approval.approved", ("approvalrequest", request.id),
                 kind=request.kind, step=step.approver, stage=step.stage, note=note,
                 **details, target=ref(request.subject))


def _require_routable(request: ApprovalRequest, people: list[User]) -> None:
    """Refuse (409 no_approver, in the filing's transaction: nothing is kept) a request
    with a step that no active user could approve: someone its scope names, cleared for
    the subject, other than the requester and the applicant. Such a request waited in no
    one's inbox for ever (a department without a head; a route naming a role nobody
    holds). A request all of whose steps the asking decided is no approval at all."""
    if not any(s.decision is None for s in request.steps):
        raise Conflict("审批路线中没有申请人以外的审批人，申请未提交，请联系系统管理员调整审批路线",
                       code="no_approver")
    found = _unmanned(request, people)
    if found is None:
        return
    step, nobody = found
    if nobody:
        message = (f"审批路线中“{step.approver_enum.label}”一步无人可以审批（{_nobody(step, request)}），"
                   "申请未提交，请联系系统管理员指定人员或调整审批路线")
    else:
        message = (f"审批路线中“{step.approver_enum.label}”一步只能由已审批前面步骤的同一人审批"
                   "（同一人不能审批同一申请的两步），申请未提交，请联系系统管理员调整审批路线")
    raise Conflict(message, code="no_approver",
                   details={"step": step.approver, "stage": step.stage})


def _deciding_people(session) -> list[User]:
    return list(session.execute(select(User).where(User.active.is_(True))).scalars())


def _asking(request: ApprovalRequest) -> set[int]:
    """Who asks the request (its requester and its applicant): nobody decides their own."""
    return {request.requested_by_id, request.applicant.id}


def _cleared_among(request: ApprovalRequest, people: list[User], *,
                   besides: set[int]) -> list[User]:
    """Those of `people` (but `besides`) cleared for the request's subject: who could
    decide a step of it, scope aside."""
    return [u for u in people if u.id not in besides and cleared_for_subject(u, request)]


def _unmanned(request: ApprovalRequest, people: list[User]) -> tuple[ApprovalStep, bool] | None:
    """The first open step of the request that none of `people` (the active users) could
    decide, and whether nobody at all could (True) or only nobody of its own, since one
    person decides one step of a request (False); None when every open step has someone."""
    cleared = _cleared_among(request, people, besides=_asking(request) | _deciders(request))
    open_ = sorted((s for s in request.steps if s.decision is None), key=lambda s: s.stage)
    candidates = [{u.id for u in cleared if in_scope(u, step.approver, request)}
                  for step in open_]
    for step, who in zip(open_, candidates, strict=True):
        if not who:
            return step, True
    left = _without_own_decider(candidates)
    return None if left is None else (open_[left], False)


def undecidable(session, request: ApprovalRequest) -> str | None:
    """Why a pending request cannot be decided now, in words (None: it can, or it is not
    pending): a step whose only possible decider was deactivated, moved to another
    department or lowered in clearance since it was filed. It waits until the
    administrator appoints someone, or its requester withdraws it."""
    if request.state(now()) is not RequestStatus.PENDING:
        return None
    found = _unmanned(request, _deciding_people(session))
    if found is None:
        return None
    step, nobody = found
    why = _nobody(step, request) if nobody else "同一人不能审批同一申请的两步"
    return f"“{step.approver_enum.label}”一步目前无人可以审批（{why}）"


def waiting_on(session, person: User) -> set[int]:
    """The pending requests with an undecided step, of any stage, that `person` could
    decide as things stand (in its scope, neither its requester nor its applicant) and
    that someone can decide now: asked before `person` is deactivated or changed, for
    `stranded` to ask after."""
    people = _deciding_people(session)
    return {r.id for r in _pending_rows(session)
            if person.id not in _asking(r)
            and any(in_scope(person, s.approver, r) for s in r.steps if s.decision is None)
            and _unmanned(r, people) is None}


def stranded(session, request_ids: set[int]) -> list[ApprovalRequest]:
    """Which of those requests (waiting_on) nobody can decide now, after the change: so
    that the administrator learns which requests wait for nobody."""
    if not request_ids:
        return []
    people = _deciding_people(session)
    return [r for r in _pending_rows(session, ids=request_ids) if _unmanned(r, people) is not None]


def _without_own_decider(candidates: list[set[int]]) -> int | None:
    """The index of a step left without a person of its own when each step needs a
    different one from its candidates (a bipartite matching), or None if all have one."""
    taken: dict[int, int] = {}

    def place(index: int, seen: set[int]) -> bool:
        for person in candidates[index]:
            if person not in seen:
                seen.add(person)
                if person not in taken or place(taken[person], seen):
                    taken[person] = index
                    return True
        return False

    return next((i for i in range(len(candidates)) if not place(i, set())), None)


def _nobody(step: ApprovalStep, request: ApprovalRequest) -> str:
    """Why nobody can decide `step`, in words."""
    # The level as asked, not as it is: the words reach who may not know of a raise since.
    levels = ([request.subject_level] if request.subject_level is not None else
              [getattr(item, "access_level", getattr(item, "classification", 0))
               for item in _items(request.subject)])
    top_secret = any(level >= access.BY_DESIGNATION for level in levels)
    cleared = "经总经理指定阅读" if top_secret else "密级足够"
    if step.approver == Approver.REQUESTER_DEPT_HEAD:
        applicant = request.applicant
        department = applicant.department.name if applicant.department else "申请人所在部门"
        other = "其他" if Role(applicant.role) is Role.DEPT_HEAD else ""
        return f"{department}没有{other}在职、{cleared}的部门负责人"
    if step.approver == Approver.CUSTOMER_DEPT_HEAD:
        customer = _customer(request)
        if customer is not None:
            return f"{customer.department.name}没有在职、{cleared}的部门负责人"
    return f"没有申请人以外在职、{cleared}的{step.approver_enum.label}人员"


# ---- who may decide ----------------------------------------------------------------


def _customer(request: ApprovalRequest) -> Customer | None:
    subject = request.subject
    if isinstance(subject, Customer):
        return subject
    if isinstance(subject, Dossier):
        return subject.customer
    if isinstance(subject, Document):
        return subject.dossier.customer
    if isinstance(subject, Loan):
        return subject.dossier.customer
    return None


def in_scope(user: User, approver: str, request: ApprovalRequest) -> bool:
    """Whether `user` is who a step of `approver` names, for this request."""
    role = Role(user.role)
    match Approver(approver):
        case Approver.CUSTOMER_DEPT_HEAD:
            # The role first: finding the customer loads the subject.
            if not _heads_a_department(user, role):
                return False
            customer = _customer(request)
            return customer is not None and user.department_id == customer.department_id
        case Approver.REQUESTER_DEPT_HEAD:
            return (_heads_a_department(user, role) and user.department_id is not None
                    and user.department_id == request.applicant.department_id)
        case Approver.GM_OFFICE:
            return role is Role.GM_OFFICE
        case Approver.GM_OFFICE_DIRECTOR:
            return role is Role.GM_OFFICE and bool(user.gm_office_director)
        case Approver.LEGAL:
            return role is Role.LEGAL
        case Approver.GM:
            return role is Role.GM
        case Approver.GM_OR_DIRECTOR:
            return role is Role.GM or (role is Role.GM_OFFICE and bool(user.gm_office_director))
        case Approver.TRANSFER_RECEIVER:
            batch = request.transfer
            if batch is None:
                return False
            if batch.to_department_id is None:  # the archive room
                return role in (Role.OFFICER, Role.GM_OFFICE)
            return (role in (Role.STAFF, Role.DEPT_HEAD)
                    and user.department_id == batch.to_department_id)
    return False


def _heads_a_department(user: User, role: Role) -> bool:
    """A department head of the user's department: a dept_head, or the GM-office director,
    who heads the GM office (002:942 总经理办公室主任; 002:869 各部门总监)."""
    return role is Role.DEPT_HEAD or (role is Role.GM_OFFICE and bool(user.gm_office_director))


def _items(subject) -> list:
    """What a decider must be cleared for: the subject, or every item of a batch."""
    if isinstance(subject, Loan):
        return [item.document for item in subject.items]
    if isinstance(subject, (Destruction, TransferBatch)):
        return [item.document for item in subject.items]
    if isinstance(subject, (Document, Dossier)):
        return [subject]
    return []


def may_read_subject(user: User, request: ApprovalRequest) -> bool:
    """The one may-read rule (with its departmental reach) on the subject and every item
    of a batch: who may know of the request without being named by it."""
    subject = request.subject
    if subject is None or isinstance(subject, ApprovalRoute):
        return True
    if isinstance(subject, Customer):
        return access.may_read(user, subject)
    return all(access.may_read(user, item) for item in _items(subject))


def cleared_for_subject(user: User, request: ApprovalRequest) -> bool:
    """The decider's guard: clearance at least the subject's current level, 绝密 only when
    designated, for every item of a batch (access.cleared). The departmental reach is the
    step's scope: the GM decides another department's files (002:67) although the head
    of the borrower's department decides first."""
    return all(access.cleared(user, item) for item in _items(request.subject))


def cleared_as_asked(user: User, request: ApprovalRequest) -> bool:
    """Cleared for the subject now, or for the level it was asked about (subject_level)
    when it has been raised since. A decider named and cleared when the request was filed
    still sees it and may refuse it: a request whose subject was raised beyond every
    decider left all inboxes, and nobody but its requester could end it. Approving still
    needs clearance now (approve; the kinds' stale checks refuse a changed level first)."""
    if cleared_for_subject(user, request):
        return True
    level = request.subject_level
    return level is not None and access.clears_level(user, level)


def _deciders(request: ApprovalRequest) -> set[int]:
    return {s.decided_by_id for s in request.steps if s.decided_by_id is not None}


def open_steps(request: ApprovalRequest) -> list[ApprovalStep]:
    stage = request.open_stage
    return [s for s in request.steps if s.stage == stage and s.decision is None]


def visible(user: User, request: ApprovalRequest) -> bool:
    """Whether `user` may see the request at all: its requester and deciders; whoever may
    read its subject (a document's page shows its level changes to its readers); anyone
    for a route change; for a loan, only those its steps name (and are cleared for it,
    or for the level it was asked at: cleared_as_asked);
    for a request without a subject (a customer named as typed),
    those a step names and the archive's readers (auditor, GM). Everyone else is told it
    does not exist."""
    if user.id in _asking(request) \
            or user.id in _deciders(request):
        return True
    if isinstance(request.subject, ApprovalRoute):
        return True  # the routes are the company's rules, open to everyone signed in
    if isinstance(request.subject, Loan):
        # A loan names a person (or an external reader's credentials): readers of the
        # lent items do not learn of it; those its steps name and who are cleared do, and
        # so does who sees the loan itself at the counter and in the register (the loan's
        # page lists its requests: loans.visible).
        return (named(user, request) and cleared_as_asked(user, request)) or (
            access.can(user, "loan.register") and may_read_subject(user, request))
    if isinstance(request.subject, Destruction):
        # The batch's titles are not in the request: a named approver who is not cleared
        # for an item learns that the batch exists, and is told why they may not decide.
        return named(user, request) or may_read_subject(user, request)
    if request.subject is not None:
        return may_read_subject(user, request) or (
            named(user, request) and cleared_as_asked(user, request))
    if Role(user.role) in (Role.AUDITOR, Role.GM):
        return True
    return any(in_scope(user, s.approver, request) for s in request.steps)


def named(user: User, request: ApprovalRequest) -> bool:
    """Whether a step of the request names `user` (never its requester or applicant),
    decided or not."""
    return user.id not in _asking(request) and any(
        in_scope(user, s.approver, request) for s in request.steps)


def _step_for(user: User, request: ApprovalRequest) -> ApprovalStep | None:
    return next((s for s in open_steps(request) if in_scope(user, s.approver, request)), None)


def may_decide(user: User, request: ApprovalRequest) -> bool:
    """Whether approve/reject buttons make sense for `user` now (the guards, without
    the stale-subject check, which only an approval attempt makes)."""
    return _refusal(user, request) is None


def _refusal(user: User, request: ApprovalRequest):
    """The first guard a decision by `user` fails, as the error to raise (None: none)."""
    if user.id in _asking(request):
        return Forbidden("不能审批本人提出的申请")
    if not named(user, request):
        return Forbidden("您不是该申请的审批人")
    state = request.state(now())
    if state is not RequestStatus.PENDING:
        message = {RequestStatus.EXPIRED: "申请已过期，未在时限内审批",
                   RequestStatus.WITHDRAWN: "申请已由申请人撤回"}.get(state, "该申请已处理")
        return Conflict(message, code="already_decided" if state in (
            RequestStatus.APPROVED, RequestStatus.REJECTED) else state.value)
    if user.id in _deciders(request):
        return Conflict("同一人不能重复审批同一申请", code="already_approved")
    if _step_for(user, request) is None:
        stage = request.open_stage
        taken = [s for s in request.steps if s.stage == stage and s.decision is not None
                 and in_scope(user, s.approver, request)]
        if taken:
            return Conflict(f"{taken[0].approver_enum.label}已审批，需由另一方审批",
                            code="already_approved")
        return Conflict("尚未轮到您审批：上一阶段的审批尚未完成", code="not_your_turn")
    if not cleared_as_asked(user, request):
        return Forbidden(UNCLEARED)
    return None


# ---- deciding -----------------------------------------------------------------------


def get(session, user: User, request_id, *, lock: bool = False) -> ApprovalRequest:
    """A request the user may see (NotFound otherwise, as for an id that does not exist).
    `lock` reads it FOR UPDATE: two deciders of one step are serialised."""
    request_id = validation.row_id(request_id)
    stmt = select(ApprovalRequest).where(ApprovalRequest.id == (request_id or -1))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    request = session.execute(stmt).scalar_one_or_none()
    if request is not None and lock:
        for step in request.steps:
            session.refresh(step)
    if request is None or not visible(user, request):
        raise NotFound(NOT_FOUND)
    return request


def _refuse(session, actor: User, request: ApprovalRequest, action: str, error):
    work.record_refusal(session, actor, action, ("approvalrequest", request.id),
                        reason=error.message, kind=request.kind, target=ref(request.subject))
    raise error


def approve(session, actor: User, request_id, note: str = "",
            data: dict | None = None) -> ApprovalRequest:
    """Give the actor's approval on the step that names them; when it is the last, run
    the kind's effect in the same transaction."""
    request = get(session, actor, request_id, lock=True)
    error = _refusal(actor, request)
    kind_handler = handler(request.kind)
    if error is None:
        reason = kind_handler.stale(session, request)
        if reason:
            error = Conflict(f"申请对象在申请后已变更（{reason}），请重新申请",
                             code="subject_changed")
        elif not cleared_for_subject(actor, request):
            error = Forbidden(UNCLEARED)
    if error is not None:
        _refuse(session, actor, request, "approval.approve", error)
    note = _note(note)
    step = _step_for(actor, request)
    final = all(s is step or s.decision == Decision.APPROVED.value for s in request.steps)
    prepared = kind_handler.prepare(session, actor, request, data or {}) if final else {}
    moment = now()
    _approve_step(session, actor, request, step, actor, note, moment)
    if final:
        request.status = RequestStatus.APPROVED.value
        request.decided_at = moment
        kind_handler.apply(session, actor, request, prepared)
    session.flush()
    return request


def reject(session, actor: User, request_id, note: str = "") -> ApprovalRequest:
    """Refuse the request on the step that names the actor: it ends here."""
    request = get(session, actor, request_id, lock=True)
    error = _refusal(actor, request)
    if error is not None:
        _refuse(session, actor, request, "approval.reject", error)
    note = _note(note)
    step = _step_for(actor, request)
    moment = now()
    step.decided_by_id, step.decision, step.note, step.decided_at = (
        actor.id, Decision.REJECTED.value, note, moment)
    request.status = RequestStatus.REJECTED.value
    request.decided_at = moment
    audit.record(session, actor, "approval.rejected", ("approvalrequest", request.id),
                 kind=request.kind, step=step.approver, note=note, target=ref(request.subject))
    handler(request.kind).ended(session, actor, request)
    session.flush()
    return request


def withdraw(session, actor: User, request_id) -> ApprovalRequest:
    """The requester takes a pending request back."""
    request = get(session, actor, request_id, lock=True)
    error = None
    if actor.id != request.requested_by_id:
        error = Forbidden("只有申请人可以撤回申请")
    elif request.state(now()) is not RequestStatus.PENDING:
        error = Conflict("该申请已处理，不能撤回", code="already_decided")
    if error is not None:
        _refuse(session, actor, request, "approval.withdraw", error)
    request.status = RequestStatus.WITHDRAWN.value
    request.decided_at = now()
    audit.record(session, actor, "approval.withdrawn", ("approvalrequest", request.id),
                 kind=request.kind, target=ref(request.subject))
    handler(request.kind).ended(session, actor, request)
    session.flush()
    return request


def _note(note) -> str:
    return validation.text({"note": note or ""}, "note", "审批意见", max_len=MAX_NOTE)


# ---- lists ------------------------------------------------------------------------


def _pending_rows(session, kinds=None, ids=None):
    moment = now()
    # Deciding who may decide reads each request's subject, its customer and requester:
    # loaded with the rows, so the inbox (on every dashboard) costs the same few queries
    # however many requests wait.
    stmt = (select(ApprovalRequest)
            .options(selectinload(ApprovalRequest.steps),
                     selectinload(ApprovalRequest.requested_by),
                     selectinload(ApprovalRequest.document).selectinload(Document.dossier)
                     .selectinload(Dossier.customer),
                     selectinload(ApprovalRequest.dossier).selectinload(Dossier.customer))
            .where(ApprovalRequest.status == RequestStatus.PENDING.value,
                   or_(ApprovalRequest.expires_at.is_(None),
                       ApprovalRequest.expires_at >= moment))
            .order_by(ApprovalRequest.created_at, ApprovalRequest.id))
    if ids is not None:
        stmt = stmt.where(ApprovalRequest.id.in_(sorted(ids)))
    if kinds:
        stmt = stmt.where(ApprovalRequest.kind.in_([ApprovalKind(k).value for k in kinds]))
    return session.execute(stmt).scalars().all()


def inbox(session, user: User, kinds=None) -> list[ApprovalRequest]:
    """待审批: every request with a step the user may decide now, oldest first."""
    return [r for r in _pending_rows(session, kinds) if may_decide(user, r)]


def mine(session, user: User, limit: int = 200, *,
         pending: bool = False) -> list[ApprovalRequest]:
    """我的申请: the user's requests, newest first (`pending`: only those still waiting)."""
    stmt = (select(ApprovalRequest).options(selectinload(ApprovalRequest.steps))
            .where(ApprovalRequest.requested_by_id == user.id))
    if pending:
        stmt = stmt.where(ApprovalRequest.status == RequestStatus.PENDING.value,
                          or_(ApprovalRequest.expires_at.is_(None),
                              ApprovalRequest.expires_at >= now()))
    return list(session.execute(stmt.order_by(ApprovalRequest.id.desc()).limit(limit)).scalars())


def for_subject(session, subject, kinds) -> list[ApprovalRequest]:
    """The requests about one subject (of the given kinds), oldest first."""
    column = getattr(ApprovalRequest, next(iter(_subject_columns(subject))))
    return list(session.execute(
        select(ApprovalRequest).where(column == subject.id,
                                      ApprovalRequest.kind.in_([k.value for k in kinds]))
        .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
    ).scalars())


def describe(request: ApprovalRequest, viewer: User) -> str:
    """The subject in words, as `viewer` may read it."""
    return handler(request.kind).describe(request, viewer)


# ---- routes as data: changed only through the engine --------------------------------


def propose_route_change(session, actor: User, data: dict) -> ApprovalRequest:
    """The administrator proposes new steps (and time limit) for a route; the GM decides.
    `data`: route (id), steps (a list of [stage, approver]), time_limit_hours (absent:
    the route's own; empty or null: none), reason."""
    access.require(actor, "route.propose")
    route = session.get(ApprovalRoute, validation.row_id(data.get("route")) or -1)
    if route is None:
        raise NotFound("审批路线不存在")
    if not route.active:
        raise Conflict("该路线已被新版本取代，请对现行路线提出变更", code="route_retired")
    steps = _steps(data.get("steps"))
    for _stage, approver in steps:
        if not _names_someone(Approver(approver), ApprovalKind(route.kind)):
            raise Invalid(f"“{Approver(approver).label}”不适用于{route.kind_enum.label}：这类申请中"
                          "没有人可由其审批", code="approver_not_applicable",
                          details={"field": "steps"})
    hours = route.time_limit_hours  # a change of the steps alone keeps the limit
    if "time_limit_hours" in data:
        hours = validation.integer(data, "time_limit_hours", "审批时限（小时）")  # "": none
        if hours is not None and not 0 < hours <= 24 * 366:
            raise Invalid("审批时限须在 1 到 8784 小时之间", details={"field": "time_limit_hours"})
    reason = validation.text(data, "reason", "变更理由", required=True, max_len=2000)
    current = [[s.stage, s.approver] for s in route.steps]
    if steps == current and hours == route.time_limit_hours:
        raise Invalid("新路线与现行路线相同", code="same_route")
    pending = session.execute(
        select(ApprovalRequest.id).where(ApprovalRequest.subject_route_id == route.id,
                                         ApprovalRequest.status == RequestStatus.PENDING.value)
    ).first()
    if pending:
        raise Conflict("该路线已有待审批的变更申请", code="change_pending")
    return file(session, actor, ApprovalKind.ROUTE_CHANGE, reason=reason, subject=route,
                payload={"steps": steps, "time_limit_hours": hours,
                         "before": {"steps": current, "time_limit_hours": route.time_limit_hours}})


def _names_someone(approver: Approver, kind: ApprovalKind) -> bool:
    """Whether a step of `approver` can name anyone in a request of `kind` (in_scope): a
    transfer's receiver only in a transfer; the customer's department head only where the
    subject has a customer (a batch, a route or a customer named as typed has none); the
    requester's department head not in a route change. A
    route change that put one in a route left every later request refused (no_approver)."""
    if approver is Approver.TRANSFER_RECEIVER:
        return kind is ApprovalKind.TRANSFER_RECEIPT
    if approver is Approver.CUSTOMER_DEPT_HEAD:
        return kind not in (ApprovalKind.DESTRUCTION, ApprovalKind.TRANSFER_RECEIPT,
                            ApprovalKind.ROUTE_CHANGE, ApprovalKind.CROSS_DEPARTMENT)
    if approver is Approver.REQUESTER_DEPT_HEAD:
        # The administrator, who asks route changes, belongs to no department.
        return kind is not ApprovalKind.ROUTE_CHANGE
    return True


def _steps(value) -> list[list]:
    """[[stage, approver], ...]: stages numbered 1.., each with one or more approvers."""
    if isinstance(value, str):  # the form: one stage per line, approvers separated by commas
        value = [[number, name.strip()] for number, line in enumerate(value.splitlines(), 1)
                 for name in line.split(",") if name.strip()]
    if not isinstance(value, list) or not value or len(value) > 12:
        raise Invalid("请给出 1 到 12 个审批步骤", details={"field": "steps"})
    steps = []
    for item in value:
        try:
            stage, approver = int(item[0]), Approver(str(item[1]).strip()).value
        except (TypeError, ValueError, IndexError, KeyError):
            raise Invalid("审批步骤应为 [阶段, 审批人]，审批人取值："
                          + "、".join(a.value for a in Approver),
                          details={"field": "steps"}) from None
        if not 1 <= stage <= 12:
            raise Invalid("阶段须在 1 到 12 之间", details={"field": "steps"})
        if [stage, approver] in steps:
            raise Invalid("同一阶段不能重复同一审批人", details={"field": "steps"})
        steps.append([stage, approver])
    stages = sorted({s for s, _ in steps})
    if stages != list(range(1, len(stages) + 1)):
        raise Invalid("阶段须从 1 起连续编号", details={"field": "steps"})
    return sorted(steps)


def _route_stale(session, request: ApprovalRequest):
    route = request.subject_route
    return None if route.active else "该路线已被另一次变更取代"


def _apply_route_change(session, actor: User, request: ApprovalRequest, _data) -> None:
    old = request.subject_route
    payload = request.payload
    new = ApprovalRoute(kind=old.kind, version=old.version + 1, name=old.name,
                        seed_ref=old.seed_ref, time_limit_hours=payload["time_limit_hours"],
                        active=True, created_at=now())
    old.active = False
    session.flush()  # the old version retires before the new one (one active per kind)
    new.steps = [RouteStep(stage=stage, approver=approver)
                 for stage, approver in payload["steps"]]
    session.add(new)
    session.flush()
    audit.record(session, actor, "route.changed", new, kind=new.kind, version=new.version,
                 replaces=old.id, steps=payload["steps"], request=request.id,
                 requested_by=request.requested_by.username)


def _describe_route(request: ApprovalRequest, _viewer) -> str:
    route = request.subject_route
    return f"审批路线“{route.name}”（第 {route.version} 版）"


effect(ApprovalKind.ROUTE_CHANGE, Handler(describe=_describe_route, apply=_apply_route_change,
                                          stale=_route_stale))


def steps_text(steps, label: Callable[[str], str] = lambda text: text) -> str:
    """'客户所属部门负责人 + 总经理办公室 → 总经理或副总经理' for a list of steps or pairs;
    `label` translates each approver's label (the pages pass the reader's language)."""
    stages: dict[int, list[str]] = {}
    for step in steps:
        stage, approver = (step if isinstance(step, list | tuple)
                           else (step.stage, step.approver))
        stages.setdefault(stage, []).append(label(Approver(approver).label))
    return " → ".join(" + ".join(names) for _, names in sorted(stages.items()))
