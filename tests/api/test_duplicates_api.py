"""Duplicates (issue 18): a customer registered twice is refused with the one already
there unless the archive room confirms another person; two records of one person are
merged by the archive room; a file filed twice is refused with where it is."""

import json

import pytest

from archive.extensions import db
from archive.models import AuditEvent, Customer, Document, Dossier, DossierReference
from archive.services import personal_data
from tests.conftest import archive_state

FIRST17 = "44030519900101123"
ID = FIRST17 + personal_data.id_check_digit(FIRST17)


def _count(model) -> int:
    db.session.expire_all()
    return db.session.query(model).count()


def _events(action: str) -> list[dict]:
    db.session.expire_all()
    return [json.loads(e.details) for e in
            db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq)]


def _register(call, user, **body):
    return call(user, "POST", "/api/v1/customers", json={"kind": "person", **body})


@pytest.mark.parametrize("first, second, why", [
    ({"name": "张伟", "id_number": ID}, {"name": "张玮", "id_number": ID.lower()[:-1] + ID[-1].lower()},
     "证件号码相同"),
    ({"name": "张伟", "phone": "13800138000"}, {"name": "张伟", "phone": "138-0013-8000"},
     "姓名和电话相同"),
], ids=["id_number", "name_and_phone"])
def test_a_customer_registered_twice_is_refused_with_the_first(app, call, first, second, why):
    existing = _register(call, "officer", department="销售经营部", **first)
    assert existing.status_code == 201, existing.json
    state = archive_state(app)
    again = _register(call, "staff", **second)
    assert again.status_code == 409, again.json
    error = again.json["error"]
    assert error["code"] == "duplicate_person"
    assert existing.json["code"] in error["message"] and why in error["message"]
    assert error["details"]["existing"] == [{
        "id": existing.json["id"], "code": existing.json["code"],
        "name": existing.json["name"], "reason": why,
        "url": f"/customers/{existing.json['id']}"}]
    assert archive_state(app) == state
    # Staff cannot confirm another person: the archive room does.
    still = _register(call, "staff", confirm_different=True, **second)
    assert still.status_code == 409 and "档案室" in still.json["error"]["message"]
    assert archive_state(app) == state
    confirmed = _register(call, "officer", department="销售经营部", confirm_different=True,
                          **second)
    assert confirmed.status_code == 201, confirmed.json
    [event] = _events("customer.confirmed_different")
    assert event["others"] == [existing.json["code"]]


def test_a_customer_of_another_department_is_not_named(app, call):
    _register(call, "officer", department="客服中心", name="李娜", id_number=ID)
    state = archive_state(app)
    again = _register(call, "staff", name="李娜", id_number=ID)
    assert again.status_code == 409
    assert "李娜" not in again.json["error"]["message"]
    assert again.json["error"]["details"]["existing"] == []
    assert archive_state(app) == state


def test_a_correction_that_makes_a_duplicate_is_refused(call, make_customer):
    first = make_customer(name="张伟", id_number=ID)
    second = make_customer(name="王芳")
    response = call("officer", "PATCH", f"/api/v1/customers/{second.id}",
                    json={"id_number": ID})
    assert response.status_code == 409 and response.json["error"]["code"] == "duplicate_person"
    assert first.code in response.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Customer, second.id).id_number == ""
    ok = call("officer", "PATCH", f"/api/v1/customers/{second.id}",
              json={"id_number": ID, "confirm_different": True})
    assert ok.status_code == 200, ok.json
    # Correcting the customer itself never finds itself.
    assert call("officer", "PATCH", f"/api/v1/customers/{first.id}",
                json={"name": "张伟伟"}).status_code == 200


# -- merge -------------------------------------------------------------------------------

@pytest.fixture
def twice(make_customer, make_dossier, file_doc):
    """One person registered twice, in two departments, each record with a dossier."""
    kept = make_customer(name="张伟", department="KF")
    kept_dossier = make_dossier(kept, room="0801")
    merged = make_customer(name="张伟", department="XS", phone="13800138000")
    merged_dossier = make_dossier(merged, room="1201")
    document = file_doc(merged_dossier, title="认购书", files=[("认购书.pdf", _pdf())])
    return kept, kept_dossier, merged, merged_dossier, document


def _pdf():
    from archive import samples

    return samples.make_pdf("合并测试", ["张伟认购翠湖苑3栋2单元1201。"])


def test_the_archive_room_merges_two_records_of_one_person(call, twice, login_as):
    kept, kept_dossier, merged, merged_dossier, document = twice
    assert [h["document_id"] for h in call("staff", "GET", "/api/v1/search?q=认购书")
            .json["hits"]] == [document.id]
    response = call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                    json={"into": kept.code, "reason": "同一人登记两次"})
    assert response.status_code == 200, response.json
    assert sorted(d["id"] for d in response.json["dossiers"]) == sorted(
        [kept_dossier.id, merged_dossier.id])
    db.session.expire_all()
    assert db.session.get(Dossier, merged_dossier.id).customer_id == kept.id
    assert db.session.get(Customer, merged.id).merged_into_id == kept.id
    assert db.session.get(Document, document.id).department_id == kept.department_id
    refs = {(r.from_dossier_id, r.to_dossier_id) for r in
            db.session.query(DossierReference).filter_by(kind="same_customer")}
    assert {(kept_dossier.id, merged_dossier.id), (merged_dossier.id, kept_dossier.id)} <= refs
    [event] = _events("customer.merged")
    assert event["into"] == kept.code and event["reason"] == "同一人登记两次"
    assert _events("customer.merged_into")[0]["merged"] == merged.code
    # Search follows the department: 客服中心 now finds it, 销售经营部 no longer.
    assert [h["document_id"] for h in call("service", "GET", "/api/v1/search?q=认购书")
            .json["hits"]] == [document.id]
    assert call("staff", "GET", "/api/v1/search?q=认购书").json["hits"] == []
    # The merged record leaves the lists but keeps its page and history.
    listed = [c["id"] for c in call("officer", "GET", "/api/v1/customers").json["customers"]]
    assert merged.id not in listed and kept.id in listed
    page = login_as("officer").get(f"/customers/{merged.id}").get_data(as_text=True)
    history = page[page.index("更正记录"):]
    assert "已并入其他客户" in page and "并入其他客户" in history and kept.code in history
    # And a customer like it is registered no more as a duplicate of the merged record.
    again = _register(call, "officer", department="销售经营部", name="张伟",
                      phone="13800138000")
    assert again.status_code == 201, again.json


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "missing_field"),
    ({"into": "KH-NONE"}, 422, "missing_field"),
    ({"reason": "同一人"}, 422, "missing_field"),
    ({"into": "KH-NONE", "reason": "同一人"}, 422, "invalid"),
    ({"into": "self", "reason": "同一人"}, 422, "invalid"),
], ids=str)
def test_wrong_merges_change_nothing(app, call, twice, body, status, code):
    kept, _kd, merged, _md, _doc = twice
    if body.get("into") == "self":
        body = {**body, "into": merged.code}
    state = archive_state(app)
    response = call("officer", "POST", f"/api/v1/customers/{merged.id}/merge", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    db.session.expire_all()
    assert db.session.get(Customer, merged.id).merged_into_id is None
    assert archive_state(app) == state and _events("customer.merged") == []


def test_two_dossiers_of_one_unit_are_not_merged(app, call, make_customer, make_dossier):
    kept = make_customer(name="张伟")
    make_dossier(kept, room="1201")
    merged = make_customer(name="张伟", department="KF")
    make_dossier(merged, room="1201")
    state = archive_state(app)
    response = call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                    json={"into": kept.code, "reason": "同一人"})
    assert response.status_code == 409 and response.json["error"]["code"] == "duplicate_dossier"
    assert archive_state(app) == state


def test_a_merged_record_is_merged_once_and_takes_no_new_dossier(call, twice,
                                                                 make_dossier):
    kept, _kd, merged, _md, _doc = twice
    assert call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                json={"into": kept.code, "reason": "同一人"}).status_code == 200
    again = call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                 json={"into": kept.code, "reason": "同一人"})
    assert again.status_code == 409 and again.json["error"]["code"] == "merged_customer"
    dossiers = _count(Dossier)
    opened = call("officer", "POST", "/api/v1/dossiers", json={
        "customer_id": merged.id, "unit": {"project": "翠湖苑", "building": "3", "unit": "2",
                                           "room": "1501"}})
    assert opened.status_code == 409 and _count(Dossier) == dossiers


def test_only_the_archive_room_merges(call, twice):
    kept, _kd, merged, _md, _doc = twice
    for username in ("staff", "head", "auditor", "gm"):
        response = call(username, "POST", f"/api/v1/customers/{merged.id}/merge",
                        json={"into": kept.code, "reason": "同一人"})
        assert response.status_code in (403, 404), username
    db.session.expire_all()
    assert db.session.get(Customer, merged.id).merged_into_id is None


# -- the same file twice -----------------------------------------------------------------

def _upload(call, user, dossier, data, **fields):
    import io

    return call(user, "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                data={"title": "认购书", "category": "销售",
                      "file": (io.BytesIO(data), "认购书.pdf"), **fields})


def test_a_file_filed_twice_is_refused_naming_where(app, call, make_customer, make_dossier):
    first_dossier = make_dossier(make_customer(name="张伟"), room="1201")
    second_dossier = make_dossier(make_customer(name="李娜"), room="1202")
    pdf = _pdf()
    first = _upload(call, "staff", first_dossier, pdf)
    assert first.status_code == 201, first.json
    state = archive_state(app)
    again = _upload(call, "staff", second_dossier, pdf, title="李娜 认购书")
    assert again.status_code == 409
    error = again.json["error"]
    assert error["code"] == "duplicate_file"
    assert first_dossier.number in error["message"] and "《认购书》" in error["message"]
    assert error["details"]["existing"] == [{
        "document_id": first.json["id"], "dossier_id": first_dossier.id,
        "dossier_number": first_dossier.number, "group": "a", "title": "认购书"}]
    assert archive_state(app) == state
    confirmed = _upload(call, "staff", second_dossier, pdf, title="李娜 认购书",
                        confirm_duplicate="1")
    assert confirmed.status_code == 201, confirmed.json
    [event] = [e for e in _events("document.uploaded") if e.get("duplicate_of")]
    assert event["duplicate_of"] == [first.json["id"]]


def test_a_copy_the_user_may_not_see_is_neither_named_nor_warned(app, call, make_customer,
                                                                 make_dossier):
    """客服中心's staff file bytes 销售经营部 holds: filed without a word about the other."""
    pdf = _pdf()
    xs = make_dossier(make_customer(name="张伟", department="XS"), room="1201")
    kf = make_dossier(make_customer(name="李娜", department="KF"), room="0801")
    assert _upload(call, "staff", xs, pdf).status_code == 201
    response = _upload(call, "service", kf, pdf, title="李娜 认购书")
    assert response.status_code == 201, response.json
    assert xs.number not in response.get_data(as_text=True)


def test_a_withdrawn_copy_is_no_duplicate(call, make_customer, make_dossier):
    pdf = _pdf()
    dossier = make_dossier(make_customer(name="张伟"))
    first = _upload(call, "officer", dossier, pdf)
    assert call("officer", "POST", f"/api/v1/documents/{first.json['id']}/withdraw",
                json={"reason": "归错客户"}).status_code == 200
    assert _upload(call, "officer", dossier, pdf).status_code == 201


def test_a_merged_record_takes_no_correction(call, twice):
    kept, _kd, merged, _md, _doc = twice
    assert call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                json={"into": kept.code, "reason": "同一人"}).status_code == 200
    response = call("officer", "PATCH", f"/api/v1/customers/{merged.id}",
                    json={"address": "翠湖苑"})
    assert response.status_code == 409 and response.json["error"]["code"] == "merged_customer"
    db.session.expire_all()
    assert db.session.get(Customer, merged.id).address == ""


@pytest.mark.parametrize("answer", ["maybe", "2", ["yes"]])
def test_a_confirmation_that_is_neither_yes_nor_no_is_refused(app, call, answer):
    """`confirm_different: "maybe"` was read as no (and `"2"` as no, a list as no): a
    confirmation is yes or no, and anything else is refused with nothing changed."""
    _register(call, "officer", name="张伟", department="销售经营部", id_number=ID)
    state = archive_state(app)
    refused = _register(call, "officer", name="张玮", department="销售经营部", id_number=ID,
                        confirm_different=answer)
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["details"] == {"field": "confirm_different"}
    assert archive_state(app) == state
