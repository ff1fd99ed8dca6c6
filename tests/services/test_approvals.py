"""The approval engine: every guard refuses and changes nothing, routes are data (a step
added through the route-change path binds the next request, never one in flight),
requests expire on the clock, and two people deciding one step at once through two
database connections get one success and one 409."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archive import clock, samples
from archive.extensions import db
from archive.models import (
    AccessGrant,
    ApprovalRequest,
    ApprovalStep,
    AuditEvent,
    CopyApproval,
    Level,
    User,
)
from archive.models.approval import ApprovalKind, Approver, RequestStatus
from archive.models.enums import DocumentStatus
from archive.services import access, accounts, approvals, classification, grants, work
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def doc(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("林晓"))
    return file_doc(dossier, "林晓 认购书", files=[("认购书.pdf", samples.make_pdf(
        "认购书", ["客户林晓认购翠湖苑三栋二单元一二零一室。"]))])


def _ask(session, user, target, to="秘密", reason="理由"):
    with work.unit(session):
        return classification.request_change(session, user, target, to, reason)


def _approve(session, user, request_id, note="", data=None):
    with work.unit(session):
        return approvals.approve(session, user, request_id, note, data)


def _state(session, request_id):
    """What a refusal must leave untouched: the request's status and every step."""
    session.expire_all()
    request = session.get(ApprovalRequest, request_id)
    return (request.status, [(s.approver, s.decided_by_id, s.decision, s.note)
                             for s in request.steps])


def _denials(session, action):
    return session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.outcome == "denied")).scalar_one()


def _refused(session, error, call, request_id, action="approval.approve"):
    """`call` raises `error`; the request is as it was and the refusal is on record."""
    before, denials = _state(session, request_id), _denials(session, action)
    with pytest.raises(error) as raised:
        call()
    assert _state(session, request_id) == before
    if error is not NotFound:  # an unseen request is answered as missing, like any id
        assert _denials(session, action) == denials + 1
    return raised.value


# ---- the guards ---------------------------------------------------------------------


def test_deciders_are_distinct_people(session, users, doc):
    change = _ask(session, users["staff"], doc)
    _approve(session, users["gmoffice"], change.id)
    error = _refused(session, Conflict, lambda: _approve(session, users["gmoffice"], change.id),
                     change.id)
    assert error.code == "already_approved"
    assert doc.classification == Level.INTERNAL


def test_the_requester_never_decides(session, users, doc):
    change = _ask(session, users["head"], doc)
    error = _refused(session, Forbidden, lambda: _approve(session, users["head"], change.id),
                     change.id)
    assert "本人" in error.message
    _refused(session, Forbidden, lambda: approvals.reject(session, users["head"], change.id),
             change.id, "approval.reject")


def test_a_decider_must_may_read_the_subject(session, users, departments, make_customer,
                                             make_dossier, file_doc):
    """A 机密 document raised to 绝密: its department head (clearance 秘密) is named by the
    route but may not read it, so the request does not exist for them. With no other head
    of the department, nobody could decide that step: the request is refused as filed
    (409 no_approver) and nothing is kept. A second head cleared for 机密 decides it."""
    dossier = make_dossier(make_customer("高密"), room="0808")
    secret = file_doc(dossier, "高密 收入证明", classification="机密")
    assert not access.may_read(users["head"], secret)
    before = session.scalar(select(func.count()).select_from(ApprovalRequest))
    with pytest.raises(Conflict) as refused:
        _ask(session, users["officer"], secret, "绝密", "涉密升级")
    assert refused.value.code == "no_approver"
    assert "客户所属部门负责人" in refused.value.message and "销售经营部" in refused.value.message
    assert session.scalar(select(func.count()).select_from(ApprovalRequest)) == before

    with work.unit(session):
        accounts.create_user(session, username="head2", password="Jz2026-head-two",
                             role="dept_head", clearance=Level.CONFIDENTIAL,
                             display_name="机密主管", department_id=departments["XS"].id)
    change = _ask(session, users["officer"], secret, "绝密", "涉密升级")
    _refused(session, NotFound, lambda: _approve(session, users["head"], change.id), change.id)
    assert change not in approvals.inbox(session, users["head"])
    assert [r.id for r in approvals.inbox(session, users["gmoffice"])] == [change.id]
    head2 = session.scalar(select(User).where(User.username == "head2"))
    assert [r.id for r in approvals.inbox(session, head2)] == [change.id]


def test_the_steps_scope_must_name_the_decider(session, users, doc):
    change = _ask(session, users["staff"], doc)
    # Readers of the document whom no step names: refused in words (they may know of it).
    for name in ("officer", "gm", "auditor"):
        assert access.may_read(users[name], doc)
        _refused(session, Forbidden, lambda n=name: _approve(session, users[n], change.id),
                 change.id)
    # The head of another department: the customer is not theirs to read or decide.
    _refused(session, NotFound, lambda: _approve(session, users["service_head"], change.id),
             change.id)


def test_withdrawal_is_the_requesters_alone_and_final(session, users, doc):
    change = _ask(session, users["staff"], doc)
    _refused(session, Forbidden, lambda: approvals.withdraw(session, users["head"], change.id),
             change.id, "approval.withdraw")
    with work.unit(session):
        approvals.withdraw(session, users["staff"], change.id)
    assert change.status == RequestStatus.WITHDRAWN
    error = _refused(session, Conflict, lambda: _approve(session, users["head"], change.id),
                     change.id)
    assert "撤回" in error.message
    _refused(session, Conflict, lambda: approvals.withdraw(session, users["staff"], change.id),
             change.id, "approval.withdraw")
    assert doc.classification == Level.INTERNAL


def test_a_rejection_ends_the_request_and_nothing_decides_it_again(session, users, doc):
    change = _ask(session, users["staff"], doc)
    with work.unit(session):
        approvals.reject(session, users["head"], change.id, "不必提高")
    assert change.status == RequestStatus.REJECTED
    error = _refused(session, Conflict, lambda: _approve(session, users["gmoffice"], change.id),
                     change.id)
    assert error.code == "already_decided"
    assert approvals.inbox(session, users["gmoffice"]) == []


def test_a_subject_that_moved_since_the_request_is_refused(session, users, doc):
    """The document's own raise is pending when a raise of its dossier lifts it: the
    approvers of the first judged a level the document no longer has."""
    mine = _ask(session, users["staff"], doc)
    whole = _ask(session, users["staff"], doc.dossier, "秘密", "整卷提高")
    _approve(session, users["head"], whole.id)
    _approve(session, users["gmoffice"], whole.id)
    assert doc.classification == Level.SECRET
    for decider in ("head", "gmoffice"):
        error = _refused(session, Conflict, lambda d=decider: _approve(session, users[d], mine.id),
                         mine.id)
        assert error.code == "subject_changed" and "秘密" in error.message
    with work.unit(session):  # it can still be rejected, or withdrawn, to clear it
        approvals.reject(session, users["head"], mine.id, "已随整卷提高")


def test_a_destroyed_subject_is_refused(session, users, doc):
    change = _ask(session, users["staff"], doc)
    _approve(session, users["head"], change.id)
    with work.unit(session):
        doc.status = DocumentStatus.DESTROYED.value  # as a destruction will leave it
    error = _refused(session, Conflict, lambda: _approve(session, users["gmoffice"], change.id),
                     change.id)
    assert "销毁" in error.message


def test_a_request_expires_on_the_clock(session, users, doc, make_customer):
    """The cross-department route carries a 30-day limit (seeded): past it, the request
    is expired when read, leaves the GM's inbox and can no longer be decided."""
    make_customer("客服客户", department="KF", code="KH-KF-1")
    with work.unit(session):
        asked = grants.ask_access(session, users["staff"], {"customer": "KH-KF-1",
                                                            "reason": "协助处理投诉"})
    assert asked.expires_at is not None
    assert [r.id for r in approvals.inbox(session, users["gm"])] == [asked.id]
    clock.travel(timedelta(days=30, hours=1))
    assert asked.state(clock.now()) is RequestStatus.EXPIRED
    assert approvals.inbox(session, users["gm"]) == []
    error = _refused(session, Conflict, lambda: _approve(session, users["gm"], asked.id),
                     asked.id)
    assert error.code == "expired" and "过期" in error.message
    assert session.query(AccessGrant).count() == 0


# ---- routes as data ----------------------------------------------------------------


def test_a_step_added_through_the_route_change_path_binds_the_next_request_only(
        session, users, doc, file_doc):
    """No code change: the admin proposes a GM stage after the level-raise stage, the GM
    approves it on the engine; a raise filed before keeps its route, the next one needs
    the GM after the department head and the GM office."""
    in_flight = _ask(session, users["staff"], doc)
    route = approvals.route_for(session, ApprovalKind.LEVEL_RAISE)
    with work.unit(session):
        proposal = approvals.propose_route_change(session, users["admin"], {
            "route": route.id, "reason": "重要客户提密须总经理把关",
            "steps": "customer_dept_head,gm_office\ngm"})
    # Only the GM decides a route change; nobody else is named by its route.
    _refused(session, Forbidden, lambda: _approve(session, users["gmoffice"], proposal.id),
             proposal.id)
    _approve(session, users["gm"], proposal.id, "同意")
    new = approvals.route_for(session, ApprovalKind.LEVEL_RAISE)
    assert (new.version, route.active) == (2, False)
    assert approvals.steps_text(new.steps) == "客户所属部门负责人 + 总经理办公室 → 总经理或副总经理"

    _approve(session, users["head"], in_flight.id)
    _approve(session, users["gmoffice"], in_flight.id)
    assert in_flight.status == RequestStatus.APPROVED  # filed under version 1

    other = file_doc(doc.dossier, "林晓 收入证明")
    later = _ask(session, users["staff"], other)
    assert later.route_id == new.id
    error = _refused(session, Conflict, lambda: _approve(session, users["gm"], later.id),
                     later.id)
    assert error.code == "not_your_turn"
    _approve(session, users["head"], later.id)
    _approve(session, users["gmoffice"], later.id)
    assert later.status == RequestStatus.PENDING and other.classification == Level.INTERNAL
    _approve(session, users["gm"], later.id)
    assert later.status == RequestStatus.APPROVED and other.classification == Level.SECRET
    changed = session.execute(select(AuditEvent).where(
        AuditEvent.action == "route.changed")).scalar_one()
    assert '"requested_by": "admin"' in changed.details


def test_route_change_proposals_are_checked(session, users):
    route = approvals.route_for(session, ApprovalKind.LEVEL_LOWER)
    before = session.query(ApprovalRequest).count()
    with pytest.raises(Forbidden):
        approvals.propose_route_change(session, users["gm"], {
            "route": route.id, "steps": "gm", "reason": "x"})
    for steps in ("", "boss", "gm\n\ngm_office", [[2, "gm"]], [[1, "gm"], [1, "gm"]], "x" * 5000):
        with pytest.raises(Invalid):
            approvals.propose_route_change(session, users["admin"], {
                "route": route.id, "steps": steps, "reason": "x"})
    with pytest.raises(Invalid) as same:
        approvals.propose_route_change(session, users["admin"], {
            "route": route.id, "steps": "gm_office", "reason": "x"})
    assert same.value.code == "same_route"
    with pytest.raises(NotFound):
        approvals.propose_route_change(session, users["admin"], {
            "route": 9999, "steps": "gm", "reason": "x"})
    # An approver no request of the kind has (a black-box probe put a transfer's receiver
    # in the 阅览 route; every loan was then refused as nobody's to decide).
    for kind, steps in ((ApprovalKind.LOAN_READ, "transfer_receiver"),
                        (ApprovalKind.DESTRUCTION, "customer_dept_head"),
                        (ApprovalKind.LEVEL_LOWER, "gm_office\ntransfer_receiver"),
                        (ApprovalKind.ROUTE_CHANGE, "requester_dept_head")):
        with pytest.raises(Invalid) as unfit:
            approvals.propose_route_change(session, users["admin"], {
                "route": approvals.route_for(session, kind).id, "steps": steps, "reason": "x"})
        assert unfit.value.code == "approver_not_applicable"
    assert session.query(ApprovalRequest).count() == before


def test_a_route_change_that_names_no_time_limit_keeps_the_routes(session, users):
    """A proposal of new steps alone dropped the route's time limit (a black-box probe):
    absent, the limit stays; null or empty, the route has none."""
    def change(**data):
        route = approvals.route_for(session, ApprovalKind.LEVEL_LOWER)
        with work.unit(session):
            proposal = approvals.propose_route_change(session, users["admin"], {
                "route": route.id, "reason": "调整", **data})
        _approve(session, users["gm"], proposal.id)
        return approvals.route_for(session, ApprovalKind.LEVEL_LOWER)

    assert change(steps="gm_office", time_limit_hours=48).time_limit_hours == 48
    kept = change(steps="gm_office\ngm")
    assert (kept.time_limit_hours, approvals.steps_text(kept.steps)) == (
        48, "总经理办公室 → 总经理或副总经理")
    assert change(steps="gm_office", time_limit_hours="").time_limit_hours is None


# ---- the effects -------------------------------------------------------------------


def test_staff_ask_the_gm_for_another_departments_customer_file(
        session, users, make_customer, make_dossier, file_doc):
    """002:67. The typed text is stored as typed; asking about a customer that exists and
    one that does not look alike to staff; the GM's approval creates the grant."""
    kf = make_customer("周客服", department="KF", code="KH-KF-9", id_number="440301199001011234")
    kf_doc = file_doc(make_dossier(kf, room="0301"), "周客服 维修记录", "维修")
    assert not access.can(users["staff"], "document.view", kf_doc)
    with work.unit(session):
        real = grants.ask_access(session, users["staff"], {
            "customer": "440301199001011234", "days": "7", "reason": "协助处理投诉"})
        ghost = grants.ask_access(session, users["staff"], {
            "customer": "不存在的客户", "days": "7", "reason": "协助处理投诉"})
    seen = [approvals.describe(r, users["staff"]) for r in (real, ghost)]
    assert seen == ["客户“440301199001011234”（申请人填写），7 天",
                    "客户“不存在的客户”（申请人填写），7 天"]
    assert (real.customer_id, ghost.customer_id) == (None, None)

    before = _state(session, ghost.id)
    with pytest.raises(Invalid):  # nothing to grant: the GM must name a customer
        _approve(session, users["gm"], ghost.id)
    assert _state(session, ghost.id) == before

    _approve(session, users["gm"], real.id, "同意七天")
    grant = session.execute(select(AccessGrant)).scalar_one()
    assert (grant.user_id, grant.customer_id, grant.request_id) == (
        users["staff"].id, kf.id, real.id)
    assert grant.valid_until - grant.valid_from == timedelta(days=7)
    access.forget(users["staff"])
    assert access.can(users["staff"], "document.view", kf_doc)
    clock.travel(timedelta(days=8))
    access.forget(users["staff"])
    assert not access.can(users["staff"], "document.view", kf_doc)


def test_asking_across_departments_is_for_those_whose_reach_is_one(session, users):
    for name in ("officer", "gmoffice", "gm", "auditor", "admin"):
        with pytest.raises(Forbidden):
            grants.ask_access(session, users[name], {"customer": "x", "reason": "y"})
    with pytest.raises(Invalid):
        grants.ask_access(session, users["staff"], {"customer": "x", "days": "400",
                                                    "reason": "y"})
    assert session.query(ApprovalRequest).count() == 0


def test_a_designated_reader_asks_the_gm_for_a_top_secret_copy(session, users, doc, file_doc):
    top = file_doc(doc.dossier, "林晓 绝密协议", classification="绝密", actor="gm")
    with work.unit(session):
        grants.designate(session, users["gm"], {"user": "head", "document_id": top.id})
    assert access.can(users["head"], "document.read", top)
    assert not access.can(users["head"], "document.copy", top)
    with pytest.raises(Invalid):  # below 绝密 nothing needs asking
        grants.ask_copy(session, users["head"], doc, {"reason": "x"})
    with work.unit(session):
        asked = grants.ask_copy(session, users["head"], top, {"hours": "2", "reason": "诉讼"})
    with pytest.raises(Conflict):
        grants.ask_copy(session, users["head"], top, {"reason": "again"})
    _approve(session, users["gm"], asked.id)
    approval = session.execute(select(CopyApproval)).scalar_one()
    assert (approval.user_id, approval.document_id, approval.request_id) == (
        users["head"].id, top.id, asked.id)
    assert access.can(users["head"], "document.copy", top)


# ---- two people, one step, two connections --------------------------------------------


def test_two_people_deciding_one_step_at_once_one_wins(app, users, doc):
    """Two GM-office users approve the same step through two database connections at the
    same moment: one approval is recorded, the other is refused with a 409."""
    with work.unit(db.session):
        accounts.create_user(db.session, username="gmoffice2", password="Jz2026-zongban-2",
                             role="gm_office", clearance=Level.CONFIDENTIAL,
                             display_name="吴副主任", department_id=users["gmoffice"].department_id)
    change = _ask(db.session, users["staff"], doc)
    change_id = change.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(username: str) -> None:
        with app.app_context():  # its own session, its own connection
            user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
            db.session.commit()  # outside a request every transaction holds the write lock
            barrier.wait(10)
            try:
                _approve(db.session, user, change_id)
                outcomes[username] = "approved"
            except Conflict as exc:
                outcomes[username] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(n,)) for n in ("gmoffice", "gmoffice2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, outcomes.values())).count("approved") == 1
    [refusal] = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert refusal.status == 409 and refusal.code == "already_approved"
    steps = db.session.execute(select(ApprovalStep).where(
        ApprovalStep.request_id == change_id)).scalars().all()
    decided = [s for s in steps if s.decision is not None]
    assert [(s.approver, s.decision) for s in decided] == [(Approver.GM_OFFICE, "approved")]
    assert _denials(db.session, "approval.approve") == 1


# ---- every step has a person of its own (found by a black-box probe) ----------------------


def test_a_further_route_asking_an_approver_already_asked_adds_no_stage(session, users):
    """A 绝密 loan of another department's files: loan_top_secret asks the GM, and
    loan_other_department would ask the GM again; one person decides one step of a
    request, so that second stage could never be decided. The GM is asked once."""
    with work.unit(session):
        request = approvals.file(session, users["staff"], ApprovalKind.CROSS_DEPARTMENT,
                                 reason="x", then=[ApprovalKind.ROUTE_CHANGE])
    assert [(s.stage, s.approver) for s in request.steps] == [(1, "gm")]


def test_a_route_whose_steps_only_one_person_could_decide_is_refused(session, users, doc):
    """Two stages of the GM office with one person in it: the first decides, the second
    can never be decided by anyone (nobody decides two steps of one request)."""
    route = approvals.route_for(session, ApprovalKind.LEVEL_RAISE)
    with work.unit(session):
        proposal = approvals.propose_route_change(session, users["admin"], {
            "route": route.id, "reason": "x", "steps": "gm_office\ngm_office"})
    _approve(session, users["gm"], proposal.id)
    before = session.scalar(select(func.count()).select_from(ApprovalRequest))
    with pytest.raises(Conflict) as refused:
        _ask(session, users["staff"], doc)
    assert refused.value.code == "no_approver"
    assert "同一人不能审批同一申请的两步" in refused.value.message
    assert refused.value.details == {"step": "gm_office", "stage": 2}
    assert session.scalar(select(func.count()).select_from(ApprovalRequest)) == before


def test_the_refusal_says_whether_the_department_has_no_head_at_all(session, users):
    """“没有其他在职的部门负责人” only when the asker is a head; 绝密 named only for 绝密."""
    with pytest.raises(Conflict) as refused:
        with work.unit(session):
            approvals.file(session, users["legal"], ApprovalKind.LOAN_READ, reason="x")
    assert "法律室没有在职、密级足够的部门负责人" in refused.value.message
    assert "绝密" not in refused.value.message
