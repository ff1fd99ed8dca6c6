"""GM grants (002:67) and 绝密 designations (002:43): exactly what was granted opens,
only until it ends, and search follows."""

from datetime import timedelta

import pytest

from archive import clock
from archive.models import AccessGrant, Designation
from archive.services import access, finder, grants, work
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound


@pytest.fixture
def world(make_customer, make_dossier, file_doc):
    """Two sales (XS) customers and one customer-service (KF) customer, one document each."""
    docs = {}
    for name, dept in (("甲客户", "XS"), ("乙客户", "XS"), ("丙客户", "KF")):
        dossier = make_dossier(make_customer(name, department=dept), room=str(len(docs) + 1))
        docs[name] = file_doc(dossier, f"{name} 认购书")
    return docs


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


def _total(session, user, q="认购书"):
    access.forget(user)
    return finder.search(session, user, {"q": q})[1].total


def _sees(user, document) -> bool:
    access.forget(user)
    return access.can(user, "document.view", document)


def test_customer_grant_opens_that_customer_only_until_it_expires(session, users, world):
    service = users["service"]
    assert _total(session, service) == 1
    until = (clock.now() + timedelta(days=2)).date().isoformat()
    with work.unit(session):
        grants.grant_access(session, users["gm"], {"user": "service", "customer_id":
                            world["甲客户"].dossier.customer_id, "valid_until": until,
                            "reason": "协助处理投诉"})
    assert _sees(service, world["甲客户"]) and not _sees(service, world["乙客户"])
    assert _total(session, service) == 2
    clock.travel(timedelta(days=3))
    assert not _sees(service, world["甲客户"])
    assert _total(session, service) == 1


def test_department_grant_opens_the_department_within_clearance(session, users, world, file_doc):
    service = users["service"]
    secret = file_doc(world["甲客户"].dossier, "秘密 认购书", classification="秘密")
    with work.unit(session):
        grant = grants.grant_access(session, users["gm"], {
            "user": "service", "department": "XS", "reason": "部门合并盘点",
            "valid_until": clock.local(clock.now() + timedelta(hours=5)).isoformat()})
    assert _sees(service, world["甲客户"]) and _sees(service, world["乙客户"])
    assert not _sees(service, secret), "a grant widens the reach, never the clearance"
    assert _total(session, service) == 3
    with work.unit(session):
        grants.revoke_grant(session, users["gm"], grant.id)
    assert not _sees(service, world["乙客户"]) and _total(session, service) == 1


def test_only_the_gm_grants_and_bad_grants_change_nothing(session, users, world):
    good = {"user": "service", "department": "XS", "reason": "x",
            "valid_until": (clock.now() + timedelta(days=1)).isoformat()}
    with pytest.raises(Forbidden):
        with work.unit(session):
            grants.grant_access(session, users["gmoffice"], good)
    for bad in ({**good, "valid_until": (clock.now() - timedelta(days=1)).isoformat()},
                {**good, "valid_until": "明天"},
                {**good, "valid_until": "0001-01-01T00:00"},  # before the calendar once shifted
                {**good, "valid_until": "9999-12-31T23:00:00-05:00"},  # after it
                {**good, "valid_until": (clock.now() + timedelta(days=400)).isoformat()},
                {**good, "reason": ""},
                {**good, "customer_id": world["甲客户"].dossier.customer_id},
                {**good, "department": None},
                {**good, "user": "nobody"}):
        with pytest.raises((Invalid, NotFound)):
            with work.unit(session):
                grants.grant_access(session, users["gm"], bad)
    assert session.query(AccessGrant).count() == 0
    assert not _sees(users["service"], world["甲客户"])


def test_designation_opens_top_secret_and_search_follows(session, users, world, file_doc):
    top = file_doc(world["甲客户"].dossier, "绝密 认购书", classification="绝密", actor="gm")
    head = users["head"]
    assert not _sees(head, top) and _total(session, head) == 2
    with work.unit(session):
        designation = grants.designate(session, users["gm"], {"user": "head",
                                                              "dossier_id": top.dossier_id})
    assert _sees(head, top) and _total(session, head) == 3
    with pytest.raises(Conflict):
        with work.unit(session):
            grants.designate(session, users["gm"], {"user": "head", "dossier_id": top.dossier_id})
    with work.unit(session):
        grants.revoke_designation(session, users["gm"], designation.id)
    assert not _sees(head, top) and _total(session, head) == 2
    with pytest.raises(Forbidden):
        with work.unit(session):
            grants.designate(session, users["gmoffice"], {"user": "head", "document_id": top.id})
    assert session.query(Designation).count() == 0


def test_designation_below_top_secret_does_not_widen_search(session, users, world):
    """A designation opens only 绝密; the index must not list readers for lower levels."""
    with work.unit(session):
        grants.designate(session, users["gm"], {"user": "service",
                                                "document_id": world["甲客户"].id})
    assert not _sees(users["service"], world["甲客户"])
    assert _total(session, users["service"]) == 1
