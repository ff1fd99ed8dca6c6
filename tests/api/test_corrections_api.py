"""Corrections of the catalogue through PATCH (issue 18): each one audited with the old and
new values, re-indexed where the index holds what changed, and every wrong input refused
with nothing changed."""

import json

import pytest

from archive import samples
from archive.extensions import db
from archive.models import AuditEvent, Customer, Document
from tests.conftest import archive_state

PDF = samples.make_pdf("更正测试", ["买受人张伟购买翠湖苑3栋2单元1201，合同编号HT-2024-0031。"])


def _events(action: str) -> list[dict]:
    db.session.expire_all()
    rows = db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq).all()
    return [json.loads(e.details) for e in rows]


def _customer_row(customer_id: int) -> dict:
    db.session.expire_all()
    c = db.session.get(Customer, customer_id)
    return {k: getattr(c, k) for k in ("name", "kind", "id_number", "phone", "address",
                                        "grade", "department_id", "notes")}


def _hits(call, username: str, q: str) -> list[int]:
    response = call(username, "GET", f"/api/v1/search?q={q}")
    assert response.status_code == 200, response.json
    return [h["document_id"] for h in response.json["hits"]]


def test_officer_corrects_a_customer_audited_with_old_and_new(call, make_customer):
    customer = make_customer(name="张伟", phone="13800000000")
    response = call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
                    json={"name": "张玮", "phone": "13800000001", "reason": "登记时打错字"})
    assert response.status_code == 200, response.json
    assert response.json["name"] == "张玮"
    assert response.json["changes"] == {"name": ["张伟", "张玮"],
                                        "phone": ["13800000000", "13800000001"]}
    [event] = _events("customer.corrected")
    assert event["changes"] == {"name": ["张伟", "张玮"], "phone": ["13800000000", "13800000001"]}
    assert event["reason"] == "登记时打错字"
    assert _customer_row(customer.id)["name"] == "张玮"


def test_the_same_values_change_nothing_and_record_nothing(call, make_customer):
    customer = make_customer(name="张伟")
    response = call("officer", "PATCH", f"/api/v1/customers/{customer.id}", json={"name": "张伟"})
    assert response.status_code == 200 and response.json["changes"] == {}
    assert _events("customer.corrected") == []


def test_own_department_corrects_contacts_only(call, make_customer):
    customer = make_customer(name="张伟", department="XS")
    ok = call("staff", "PATCH", f"/api/v1/customers/{customer.id}",
              json={"phone": "13900000000", "address": "翠湖苑3栋", "notes": "改期联系"})
    assert ok.status_code == 200, ok.json
    before = _customer_row(customer.id)
    refused = call("staff", "PATCH", f"/api/v1/customers/{customer.id}",
                   json={"name": "张玮", "phone": "13900000009"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "forbidden"
    assert _customer_row(customer.id) == before


def test_another_departments_customer_is_not_found(call, make_customer):
    """(A GM grant to read another department's customer gives no right to correct it
    either: the access matrix checks staff_secret, who holds one.)"""
    customer = make_customer(name="李四", department="KF")
    before = _customer_row(customer.id)
    response = call("staff", "PATCH", f"/api/v1/customers/{customer.id}", json={"phone": "1"})
    assert response.status_code == 404
    assert _customer_row(customer.id) == before


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "nothing_to_correct"),
    ({"code": "KH999"}, 422, "not_correctable"),
    ({"colour": "red"}, 422, "unknown_field"),
    ({"name": ""}, 422, "missing_field"),
    ({"name": "x" * 201}, 422, "invalid"),
    ({"kind": "robot"}, 422, "invalid"),
    ({"grade": "特级"}, 422, "invalid"),
    ({"department": "不存在的部门"}, 422, "invalid"),
    ({"phone": True}, 422, "invalid"),
    ({"notes": "a\u202eb"}, 422, "bidi_control"),
], ids=lambda v: str(v)[:30])
def test_wrong_customer_corrections_are_refused_and_change_nothing(
        app, call, make_customer, body, status, code):
    customer = make_customer(name="张伟")
    before, state = _customer_row(customer.id), archive_state(app)
    response = call("officer", "PATCH", f"/api/v1/customers/{customer.id}", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert _customer_row(customer.id) == before and archive_state(app) == state
    assert _events("customer.corrected") == []


def test_a_body_that_is_not_json_is_400(call, make_customer, client, api):
    customer = make_customer(name="张伟")
    response = client.patch(f"/api/v1/customers/{customer.id}", data="name=张玮",
                            headers={**api("officer"), "Content-Type": "text/plain"})
    assert response.status_code == 400
    assert _customer_row(customer.id)["name"] == "张伟"


def test_moving_a_customer_to_another_department_moves_access_and_search(
        app, call, make_customer, make_dossier, file_doc, departments):
    """The documents follow their customer's department: the old department's staff no
    longer find them, the new one's do, in the database and in the index alike."""
    customer = make_customer(name="张伟", department="XS")
    dossier = make_dossier(customer)
    document = file_doc(dossier, title="房屋买卖合同", category="签约",
                        files=[("合同.pdf", PDF)])
    assert _hits(call, "staff", "买卖合同") == [document.id]
    assert _hits(call, "service", "买卖合同") == []

    response = call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
                    json={"department": "客服中心", "reason": "划归客服中心"})
    assert response.status_code == 200, response.json
    assert response.json["changes"] == {"department": ["销售经营部", "客服中心"]}
    db.session.expire_all()
    assert db.session.get(Document, document.id).department_id == departments["KF"].id
    assert db.session.get(Document, document.id).needs_index is False
    assert _hits(call, "staff", "买卖合同") == []
    assert _hits(call, "service", "买卖合同") == [document.id]
    assert call("staff", "GET", f"/api/v1/documents/{document.id}").status_code == 404
    assert call("service", "GET", f"/api/v1/documents/{document.id}").status_code == 200


def test_a_new_name_is_found_in_search(call, make_customer, make_dossier, file_doc):
    customer = make_customer(name="张伟")
    file_doc(make_dossier(customer), title="认购书", files=[("认购书.pdf", PDF)])
    call("officer", "PATCH", f"/api/v1/customers/{customer.id}", json={"name": "欧阳明"})
    found = call("officer", "GET", "/api/v1/search?q=欧阳明").json
    assert found["total"] == 1


# -- dossiers ----------------------------------------------------------------------------

def _dossier_row(dossier_id: int) -> dict:
    from archive.models import Dossier

    db.session.expire_all()
    d = db.session.get(Dossier, dossier_id)
    return {k: getattr(d, k) for k in ("number", "title", "location", "unit_id", "remarks",
                                        "compiled_by", "checked_by", "status", "retention",
                                        "classification")}


def test_officer_corrects_a_dossiers_location_and_unit(call, make_customer, make_dossier,
                                                       file_doc):
    dossier = make_dossier(make_customer(name="张伟"), room="1201")
    file_doc(dossier, title="认购书", files=[("认购书.pdf", PDF)])
    response = call("officer", "PATCH", f"/api/v1/dossiers/{dossier.id}", json={
        "location": "3号库 A-12", "unit": {"room": "1202"}, "reason": "房号登记错误"})
    assert response.status_code == 200, response.json
    assert response.json["changes"] == {
        "location": ["", "3号库 A-12"],
        "unit": ["翠湖苑 3栋 2单元 1201", "翠湖苑 3栋 2单元 1202"]}
    assert response.json["unit"]["room"] == "1202"
    # The number is printed on the cover and the shelf: it stays.
    assert response.json["number"] == dossier.number
    [event] = _events("dossier.corrected")
    assert event["reason"] == "房号登记错误" and event["changes"]["location"] == ["", "3号库 A-12"]
    found = call("officer", "GET", "/api/v1/search?q=1202").json
    assert found["total"] == 1


def test_a_unit_the_customer_already_has_a_dossier_for_is_refused(app, call, make_customer,
                                                                   make_dossier):
    customer = make_customer(name="张伟")
    make_dossier(customer, room="1201")
    other = make_dossier(customer, room="1202")
    before, state = _dossier_row(other.id), archive_state(app)
    response = call("officer", "PATCH", f"/api/v1/dossiers/{other.id}",
                    json={"unit": {"room": "1201"}, "location": "A-1"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate_dossier"
    assert _dossier_row(other.id) == before and archive_state(app) == state


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "nothing_to_correct"),
    ({"status": "closed"}, 422, "not_correctable"),
    ({"retention": "短期"}, 422, "not_correctable"),
    ({"classification": "公开"}, 422, "not_correctable"),
    ({"number": "X-1"}, 422, "not_correctable"),
    ({"shelf": "A"}, 422, "unknown_field"),
    ({"title": ""}, 422, "missing_field"),
    ({"unit": "1202"}, 422, "invalid"),
    ({"unit": {"floor": "3"}}, 422, "unknown_field"),
    ({"unit": {"room": ""}}, 422, "missing_field"),
    ({"location": ["A"]}, 422, "invalid"),
], ids=lambda v: str(v)[:30])
def test_wrong_dossier_corrections_are_refused_and_change_nothing(
        app, call, make_customer, make_dossier, body, status, code):
    dossier = make_dossier(make_customer(name="张伟"))
    before, state = _dossier_row(dossier.id), archive_state(app)
    response = call("officer", "PATCH", f"/api/v1/dossiers/{dossier.id}", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code and response.json["error"]["message"]
    assert _dossier_row(dossier.id) == before and archive_state(app) == state
    assert _events("dossier.corrected") == []


def test_a_case_file_has_no_unit_to_correct(call, make_customer, users):
    from archive.services import customers, work

    with work.unit(db.session):
        case = customers.create_dossier(db.session, users["officer"], {
            "customer_id": make_customer(name="张伟").id, "kind": "case",
            "number": "(2024)粤0305民初1234号", "title": "张伟诉讼案"}, number_format="")
    response = call("officer", "PATCH", f"/api/v1/dossiers/{case.id}",
                    json={"unit": {"room": "1"}})
    assert response.status_code == 422 and response.json["error"]["code"] == "not_correctable"


def test_only_the_archive_room_corrects_a_dossier(call, make_customer, make_dossier):
    dossier = make_dossier(make_customer(name="张伟", department="XS"))
    before = _dossier_row(dossier.id)
    for username in ("staff", "head", "auditor", "gm"):
        response = call(username, "PATCH", f"/api/v1/dossiers/{dossier.id}",
                        json={"location": "B-2"})
        assert response.status_code == 403, username
    assert call("gmoffice", "PATCH", f"/api/v1/dossiers/{dossier.id}",
                json={"location": "B-2"}).status_code == 200
    assert _dossier_row(dossier.id) == {**before, "location": "B-2"}
