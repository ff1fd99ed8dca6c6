"""Manual references between dossiers (issue 18): shown with what they are, removable by
the archive room (both directions, audited), never a second one beside the references the
archive makes between one customer's dossiers (000:738, 000:824)."""

import json

import pytest

from archive.extensions import db
from archive.models import AuditEvent, DossierReference
from archive.services import customers, work
from tests.conftest import NUMBER_FORMAT


def _refs() -> set[tuple]:
    db.session.expire_all()
    return {(r.from_dossier_id, r.to_dossier_id, r.kind)
            for r in db.session.query(DossierReference)}


@pytest.fixture
def world(make_customer, make_dossier, users):
    customer = make_customer(name="张伟")
    home = make_dossier(customer, room="1201")
    shop = make_dossier(customer, room="0101")
    other = make_dossier(make_customer(name="李娜"), room="1202")
    with work.unit(db.session):
        case = customers.create_dossier(db.session, users["officer"], {
            "customer_id": customer.id, "kind": "case", "number": "(2024)粤0305民初7号",
            "title": "房屋质量纠纷案"}, number_format=NUMBER_FORMAT)
    return home, shop, other, case


def test_references_say_what_they_refer_to_and_manual_ones_are_removed(call, world):
    home, shop, other, case = world
    to_case = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                   json={"to_dossier_id": case.id, "note": "判决书"})
    assert to_case.status_code == 201, to_case.json
    assert to_case.json["kind"] == "case_file" and to_case.json["to_kind"] == "case"
    related = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                   json={"to_dossier_id": other.id, "note": "同一套房的前业主"})
    assert related.status_code == 201 and related.json["kind"] == "related"
    listed = {r["to_number"]: (r["kind"], r["manual"]) for r in
              call("officer", "GET", f"/api/v1/dossiers/{home.id}").json["references"]}
    assert listed == {shop.number: ("same_customer", False), case.number: ("case_file", True),
                      other.number: ("related", True)}

    before = _refs()
    removed = call("officer", "DELETE",
                   f"/api/v1/dossiers/{home.id}/references/{to_case.json['id']}")
    assert removed.status_code == 204
    assert before - _refs() == {(home.id, case.id, "case_file"), (case.id, home.id, "case_file")}
    [event] = [json.loads(e.details) for e in
               db.session.query(AuditEvent).filter_by(action="dossier.reference_removed")]
    assert event == {"to": case.number, "kind": "case_file", "note": "判决书"}
    again = call("officer", "DELETE",
                 f"/api/v1/dossiers/{home.id}/references/{to_case.json['id']}")
    assert again.status_code == 404


def test_the_archives_own_references_stay(call, world):
    home, shop, _other, _case = world
    automatic = next(r for r in call("officer", "GET", f"/api/v1/dossiers/{home.id}")
                     .json["references"] if r["to_dossier_id"] == shop.id)
    before = _refs()
    response = call("officer", "DELETE",
                    f"/api/v1/dossiers/{home.id}/references/{automatic['id']}")
    assert response.status_code == 409 and response.json["error"]["code"] == "automatic_reference"
    assert _refs() == before


def test_no_manual_reference_beside_an_automatic_one(call, world):
    home, shop, _other, _case = world
    before = _refs()
    response = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                    json={"to_dossier_id": shop.id, "kind": "related"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate_reference"
    assert "同一客户" in response.json["error"]["message"]
    assert _refs() == before


def test_a_customer_dossier_is_no_case_file(call, world):
    home, _shop, other, _case = world
    before = _refs()
    response = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                    json={"to_dossier_id": other.id, "kind": "case_file"})
    assert response.status_code == 422 and "不是诉讼案卷" in response.json["error"]["message"]
    assert _refs() == before


def test_only_the_archive_room_removes_references(call, world):
    home, _shop, other, _case = world
    made = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                json={"to_dossier_id": other.id})
    before = _refs()
    url = f"/api/v1/dossiers/{home.id}/references/{made.json['id']}"
    assert call("staff", "DELETE", url).status_code == 403
    assert call("service", "DELETE", url).status_code == 404
    assert call("auditor", "DELETE", url).status_code == 403
    assert call("officer", "DELETE",
                f"/api/v1/dossiers/{other.id}/references/{made.json['id']}").status_code == 404
    assert _refs() == before


def test_the_dossier_page_names_and_removes_references(login_as, call, world):
    home, _shop, other, case = world
    call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
         json={"to_dossier_id": case.id})
    made = call("officer", "POST", f"/api/v1/dossiers/{home.id}/references",
                json={"to_dossier_id": other.id})
    client = login_as("officer")
    page = client.get(f"/dossiers/{home.id}").get_data(as_text=True)
    refs = page[page.index('class="refs"'):]
    assert "同一客户的其他档案（自动建立）" in refs and "诉讼案卷" in refs and "相关档案" in refs
    assert refs.count("删除参照") == 2
    response = client.post(f"/dossiers/{home.id}/references/{made.json['id']}/remove")
    assert response.status_code == 302
    page = client.get(f"/dossiers/{home.id}").get_data(as_text=True)
    assert "已删除到" in page and other.number not in page[page.index('class="refs"'):]
    staff_page = login_as("staff").get(f"/dossiers/{home.id}").get_data(as_text=True)
    assert "/remove" not in staff_page


def test_a_taken_case_number_is_refused_naming_nothing_of_the_case_file(
        call, make_customer, users):
    """One court case, one case file: a number taken by a case file the user may not see
    is still refused, and the answer names nothing of it but the number the user typed
    (docs/hardening.md, "case numbers"; the probe that asked found it said only
    "档案编号已存在")."""
    hidden = make_customer(name="欧阳秘", department="XS")
    with work.unit(db.session):
        case = customers.create_dossier(db.session, users["officer"], {
            "customer_id": hidden.id, "kind": "case", "number": "(2024)粤0305民初99号",
            "title": "欧阳秘房屋纠纷案", "classification": "秘密"}, number_format=NUMBER_FORMAT)
    own = make_customer(name="客服客户", department="KF", actor="officer")
    assert call("service", "GET", f"/api/v1/dossiers/{case.id}").status_code == 404
    answer = call("service", "POST", "/api/v1/dossiers", json={
        "customer_id": own.id, "kind": "case", "number": "(2024)粤0305民初99号", "title": "x"})
    assert answer.status_code == 409 and answer.json["error"]["code"] == "duplicate_number"
    text = json.dumps(answer.json, ensure_ascii=False)
    assert "(2024)粤0305民初99号" in text and "联系档案室" in text
    assert set(answer.json["error"]) <= {"code", "message", "details"}
    for secret in ("欧阳秘", "房屋纠纷", "秘密", "XS", "销售"):
        assert secret not in text, secret
