"""Level changes (000:742, 002:29-47): the handling department asks, the department head
and the GM office together raise, the GM office lowers; every step is kept."""

import pytest
from sqlalchemy import select

from archive import samples
from archive.models import ApprovalRequest, AuditEvent, Level
from archive.models.approval import Approver
from archive.services import audit, classification, finder, work
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def doc(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("林晓"))
    return file_doc(dossier, "林晓 认购书", files=[("认购书.pdf", samples.make_pdf(
        "认购书", ["客户林晓认购翠湖苑三栋二单元一二零一室。"]))])


def _events(session, action):
    return session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def _deciders(change) -> dict:
    """approver -> (username, decision) for the steps decided so far."""
    return {s.approver: (s.decided_by.username, s.decision) for s in change.steps
            if s.decision is not None}


def _hits(session, user, q="林晓"):
    return finder.search(session, user, {"q": q})[1].total


def test_raising_needs_dept_head_and_gm_office_then_hides_it_from_internal_staff(
        session, users, doc):
    assert _hits(session, users["staff"]) == 1
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "秘密", "含客户收入证明")
    assert change.status == "pending" and change.from_level == Level.INTERNAL

    with work.unit(session):
        classification.approve(session, users["head"], change.id)
    session.refresh(doc)
    assert doc.classification == Level.INTERNAL, "one approval is not enough to raise"
    assert change.status == "pending"

    with work.unit(session):
        classification.approve(session, users["gmoffice"], change.id)
    session.refresh(doc)
    assert doc.classification == Level.SECRET and change.status == "approved"
    assert _deciders(change) == {Approver.CUSTOMER_DEPT_HEAD: ("head", "approved"),
                                 Approver.GM_OFFICE: ("gmoffice", "approved")}

    with pytest.raises(NotFound):
        classification.history(session, users["staff"], doc)
    assert _hits(session, users["staff"]) == 0, "the index follows the new level"
    assert _hits(session, users["head"]) == 1
    [event] = _events(session, "classification.changed")
    assert event.object_id == str(doc.id) and "秘密" in event.details
    assert audit.verify(session).ok


def test_requester_cannot_approve_own_request(session, users, doc):
    with work.unit(session):
        change = classification.request_change(session, users["head"], doc, "秘密", "重要客户")
    with pytest.raises(Forbidden) as err:
        with work.unit(session):
            classification.approve(session, users["head"], change.id)
    assert "本人" in err.value.message
    session.refresh(change)
    # The head's asking is the head's consent (approvals.SELF_CONSENT); the 403 added nothing.
    assert _deciders(change) == {"customer_dept_head": ("head", "approved")}
    assert change.status == "pending"
    assert [e.outcome for e in _events(session, "approval.approve")] == ["denied"]


def test_same_person_cannot_give_both_approvals(session, users, doc):
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "秘密", "重要客户")
    with work.unit(session):
        classification.approve(session, users["gmoffice"], change.id)
    with pytest.raises(Conflict):
        with work.unit(session):
            classification.approve(session, users["gmoffice"], change.id)
    session.refresh(doc)
    session.refresh(change)
    assert doc.classification == Level.INTERNAL and change.status == "pending"
    assert _deciders(change) == {Approver.GM_OFFICE: ("gmoffice", "approved")}


def test_two_dept_heads_do_not_make_a_raise(session, users, doc):
    """Both approvals must come from different sides: a second department head (here the
    head of another department) is refused, and the level stays."""
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "秘密", "重要客户")
    with work.unit(session):
        classification.approve(session, users["head"], change.id)
    with pytest.raises((Forbidden, NotFound)):
        with work.unit(session):
            classification.approve(session, users["service_head"], change.id)
    session.refresh(doc)
    assert doc.classification == Level.INTERNAL


def test_only_the_customers_department_head_or_gm_office_approve(session, users, doc):
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "秘密", "重要客户")
    for name in ("staff_secret", "officer", "legal", "auditor"):
        with pytest.raises((Forbidden, NotFound)):
            with work.unit(session):
                classification.approve(session, users[name], change.id)
    session.refresh(change)
    assert _deciders(change) == {}


def test_lowering_takes_effect_on_gm_office_approval(session, users, doc, file_doc):
    secret = file_doc(doc.dossier, "收入证明", classification="秘密")
    with work.unit(session):
        change = classification.request_change(session, users["head"], secret, "内部", "已公开")
    assert not change.raising
    assert _hits(session, users["staff"], "收入证明") == 0
    with work.unit(session):
        classification.approve(session, users["gmoffice"], change.id)
    session.refresh(secret)
    assert secret.classification == Level.INTERNAL and change.status == "approved"
    assert _hits(session, users["staff"], "收入证明") == 1


def test_rejected_change_leaves_level_and_keeps_history(session, users, doc):
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "机密", "理由")
    with work.unit(session):
        classification.reject(session, users["gmoffice"], change.id, "无须提高")
    session.refresh(doc)
    assert doc.classification == Level.INTERNAL
    with pytest.raises(Conflict):
        with work.unit(session):
            classification.approve(session, users["head"], change.id)
    [row] = classification.history(session, users["staff"], doc)
    [step] = [s for s in row.steps if s.decision == "rejected"]
    assert (row.status, step.decided_by_id, step.note) == (
        "rejected", users["gmoffice"].id, "无须提高")
    assert (row.requested_by_id, row.from_level, row.to_level, row.reason) == (
        users["staff"].id, Level.INTERNAL, Level.CONFIDENTIAL, "理由")


def test_request_refusals_change_nothing(session, users, doc):
    before = session.query(ApprovalRequest).count()
    with pytest.raises(NotFound):  # another department's customer: not even visible
        with work.unit(session):
            classification.request_change(session, users["service"], doc, "秘密", "x")
    with pytest.raises(Forbidden):  # the auditor reads, never asks
        with work.unit(session):
            classification.request_change(session, users["auditor"], doc, "秘密", "x")
    with pytest.raises(Invalid):
        with work.unit(session):
            classification.request_change(session, users["staff"], doc, "内部", "x")
    with pytest.raises(Invalid):
        with work.unit(session):
            classification.request_change(session, users["staff"], doc, "秘密", "  ")
    with pytest.raises(Invalid):
        with work.unit(session):
            classification.request_change(session, users["staff"], doc, "顶级", "x")
    with work.unit(session):
        classification.request_change(session, users["staff"], doc, "秘密", "x")
    with pytest.raises(Conflict):
        with work.unit(session):
            classification.request_change(session, users["staff"], doc, "机密", "y")
    assert session.query(ApprovalRequest).count() == before + 1


def test_raising_a_dossier_lifts_its_documents_and_lowering_spares_higher_ones(
        session, users, doc, file_doc):
    dossier = doc.dossier
    top = file_doc(dossier, "机密附件", classification="机密")
    with work.unit(session):
        change = classification.request_change(session, users["staff"], dossier, "秘密", "整卷提高")
    with work.unit(session):
        classification.approve(session, users["head"], change.id)
    with work.unit(session):
        classification.approve(session, users["gmoffice"], change.id)
    session.refresh(doc)
    session.refresh(top)
    assert (dossier.classification, doc.classification, top.classification) == (
        Level.SECRET, Level.SECRET, Level.CONFIDENTIAL)
    assert _hits(session, users["staff"]) == 0

    with work.unit(session):
        down = classification.request_change(session, users["head"], dossier, "内部", "解密")
    with work.unit(session):
        classification.approve(session, users["gmoffice"], down.id)
    session.refresh(doc)
    session.refresh(top)
    assert (dossier.classification, doc.classification, top.classification) == (
        Level.INTERNAL, Level.INTERNAL, Level.CONFIDENTIAL)
    # the document's history shows its dossier's changes too
    assert [c.id for c in classification.history(session, users["head"], doc)] == [
        change.id, down.id]


def test_pending_list_shows_only_what_the_user_may_still_approve(session, users, doc):
    with work.unit(session):
        change = classification.request_change(session, users["staff"], doc, "秘密", "x")
    assert [c.id for c in classification.pending_for(session, users["head"])] == [change.id]
    assert [c.id for c in classification.pending_for(session, users["gmoffice"])] == [change.id]
    assert classification.pending_for(session, users["service_head"]) == []
    assert classification.pending_for(session, users["staff"]) == []
    with work.unit(session):
        classification.approve(session, users["head"], change.id)
    assert classification.pending_for(session, users["head"]) == []
    assert [c.id for c in classification.pending_for(session, users["gmoffice"])] == [change.id]
