"""Corrections of the catalogue through PATCH (issue 18): each one audited with the old and
new values, re-indexed where the index holds what changed, and every wrong input refused
with nothing changed."""

import json

import pytest
from sqlalchemy import select

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
                                        "grade", "scale", "department_id", "notes")}


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
    ({"grade": "大"}, 422, "invalid"),
    ({"scale": "巨"}, 422, "invalid"),
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


# -- documents ---------------------------------------------------------------------------

def _document_row(document_id: int) -> dict:
    from archive.models import Group

    db.session.expire_all()
    d = db.session.get(Document, document_id)
    row = {k: getattr(d, k) for k in ("title", "doc_date", "category", "carrier", "pages",
                                       "originator", "remarks", "dossier_id", "group_id",
                                       "seq", "classification", "retention", "status",
                                       "department_id")}
    row["counters"] = sorted((g.id, g.last_seq) for g in db.session.query(Group).all())
    row["dossier_remarks"] = d.dossier.remarks
    return row


@pytest.fixture
def filed(make_customer, make_dossier, file_doc):
    """A customer of 销售经营部 with one dossier holding two documents in group a."""
    dossier = make_dossier(make_customer(name="张伟", department="XS"))
    first = file_doc(dossier, title="认购书", category="销售", files=[("认购书.pdf", PDF)])
    second = file_doc(dossier, title="买卖合同", category="签约")
    return dossier, first, second


def test_officer_corrects_a_documents_catalogue_data(call, filed):
    _dossier, document, _other = filed
    response = call("officer", "PATCH", f"/api/v1/documents/{document.id}", json={
        "title": "商品房认购书", "date": "2024-03-01", "carrier": "纸质", "pages": 3,
        "originator": "销售经营部", "remarks": "原件一份", "reason": "按原件著录"})
    assert response.status_code == 200, response.json
    changes = response.json["changes"]
    assert changes["title"] == ["认购书", "商品房认购书"]
    assert changes["date"] == [None, "2024-03-01"]
    assert changes["pages"] == [1, 3] and changes["originator"] == ["", "销售经营部"]
    [event] = _events("document.corrected")
    assert event["changes"]["title"] == ["认购书", "商品房认购书"]
    assert _hits(call, "officer", "商品房认购书") == [document.id]


def test_a_move_to_another_group_takes_a_new_number_and_leaves_a_note(call, file_doc, filed):
    dossier, first, second = filed
    response = call("officer", "PATCH", f"/api/v1/documents/{first.id}",
                    json={"group": "c", "category": "其他", "reason": "分组错误"})
    assert response.status_code == 200, response.json
    assert response.json["group"] == "c" and response.json["seq"] == 1
    assert response.json["changes"]["place"] == [f"{dossier.number} a 组",
                                                 f"{dossier.number} c 组"]
    row = _document_row(first.id)
    assert "a 组第 1 号文件移至c 组第 1 号（李档案）" in row["dossier_remarks"]
    [event] = _events("document.moved")
    assert event["from_seq"] == 1 and event["to_seq"] == 1
    # Number 1 of group a is never given again: the next filing there is number 3.
    third = file_doc(dossier, title="补充协议", category="签约")
    assert third.seq == 3 and second.seq == 2


def test_a_move_to_another_customer_moves_its_readers_and_search(
        call, make_customer, make_dossier, file_doc, departments):
    """Filed under the wrong customer: moved to the right one, of 客服中心, the document
    leaves the search of 销售经营部's staff and enters 客服中心's."""
    wrong = make_dossier(make_customer(name="张伟", department="XS"))
    right = make_dossier(make_customer(name="李娜", department="KF"), room="0801")
    document = file_doc(wrong, title="维修申请单", category="维修", files=[("维修.pdf", PDF)])
    assert _hits(call, "staff", "维修申请单") == [document.id]
    assert _hits(call, "service", "维修申请单") == []
    response = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                    json={"dossier": right.number, "reason": "归错客户"})
    assert response.status_code == 200, response.json
    assert response.json["dossier_id"] == right.id and response.json["seq"] == 1
    assert response.json["department"]["id"] == departments["KF"].id
    assert _hits(call, "staff", "维修申请单") == []
    assert _hits(call, "service", "维修申请单") == [document.id]
    assert call("staff", "GET", f"/api/v1/documents/{document.id}").status_code == 404
    assert f"b 组第 1 号文件移至{right.number} b 组第 1 号" in _dossier_row(wrong.id)["remarks"]


def test_a_move_that_would_lower_the_level_is_refused(app, call, make_customer, make_dossier,
                                                      file_doc):
    customer = make_customer(name="张伟")
    secret = make_dossier(customer, room="1201", classification="秘密")
    internal = make_dossier(customer, room="1202")
    document = file_doc(secret, title="诉讼材料", category="诉讼", classification="内部")
    before, state = _document_row(document.id), archive_state(app)
    response = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                    json={"dossier_id": internal.id})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "level_would_drop"
    assert "密级变更" in response.json["error"]["message"]
    assert _document_row(document.id) == before and archive_state(app) == state


def test_no_move_while_the_original_is_out_on_loan(app, call, make_customer, make_dossier,
                                                   file_doc):
    """Its place in the 卷内目录 is where the borrower brings it back to; it was moved
    away while out."""
    customer = make_customer(name="张伟")
    source = make_dossier(customer, room="1201")
    other = make_dossier(customer, room="1202")
    document = file_doc(source, title="认购书", pages="2")
    loan = call("staff", "POST", "/api/v1/loans", {"dossier_id": source.id, "kind": "out",
                                                   "purpose": "核对", "days": 3}).json
    request_id = loan["approvals"][-1]["id"]
    for decider in ("head", "gmoffice"):
        assert call(decider, "POST", f"/api/v1/approvals/{request_id}/approve").status_code == 200
    out = call("officer", "POST", f"/api/v1/loans/{loan['id']}/checkout", {"items": 1, "pages": 2})
    assert out.status_code == 200, out.json
    before, state = _document_row(document.id), archive_state(app)
    for move in ({"dossier_id": other.id}, {"group": "c", "category": "其他"}):
        response = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                        json={**move, "reason": "归错档案"})
        assert response.status_code == 409 and response.json["error"]["code"] == "on_loan"
        assert loan["number"] in response.json["error"]["message"]
        assert "归还后方可移动" in response.json["error"]["message"]
    assert _document_row(document.id) == before and archive_state(app) == state
    # The catalogue may still be corrected while it is out; and once back, it moves.
    assert call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                json={"title": "商品房认购书", "reason": "题名录错"}).status_code == 200
    call("officer", "POST", f"/api/v1/loans/{loan['id']}/return",
         {"items": 1, "pages": 2, "condition": "完好"})
    moved = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                 json={"dossier_id": other.id, "reason": "归错档案"})
    assert moved.status_code == 200 and moved.json["dossier_id"] == other.id


def test_no_move_into_a_closed_dossier(app, call, make_customer, make_dossier, file_doc):
    customer = make_customer(name="张伟")
    source = make_dossier(customer, room="1201")
    closed = make_dossier(customer, room="1202")
    document = file_doc(source, title="认购书")
    from archive.models import Dossier

    db.session.get(Dossier, closed.id).status = "closed"
    db.session.commit()
    before = _document_row(document.id)
    response = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                    json={"dossier_id": closed.id})
    assert response.status_code == 409 and response.json["error"]["code"] == "dossier_closed"
    assert _document_row(document.id) == before


@pytest.mark.parametrize("body, status, code, words", [
    ({}, 422, "nothing_to_correct", "没有要更正"),
    ({"classification": "秘密"}, 422, "not_correctable", "密级变更审批"),
    ({"retention": "短期"}, 422, "not_correctable", "保管期限表"),
    ({"status": "withdrawn"}, 422, "not_correctable", "撤销归档"),
    ({"files": []}, 422, "not_correctable", "永不改变"),
    ({"seq": 9}, 422, "not_correctable", "顺序号"),
    ({"colour": "red"}, 422, "unknown_field", "colour"),
    ({"title": ""}, 422, "missing_field", "题名"),
    ({"date": "2024-13-01"}, 422, "invalid", "YYYY-MM-DD"),
    ({"pages": -1}, 422, "invalid", "负数"),
    ({"pages": "三"}, 422, "invalid", "整数"),
    ({"category": "杂项"}, 422, "invalid", "类别"),
    ({"carrier": "胶片"}, 422, "invalid", "载体"),
    ({"group": "z"}, 422, "invalid", "分组"),
    ({"dossier": "没有这个档案"}, 422, "invalid", "档案不存在"),
    ({"dossier_id": 987654}, 422, "invalid", "档案不存在"),
    ({"dossier_id": "x"}, 422, "invalid", "整数"),
], ids=lambda v: str(v)[:30])
def test_wrong_document_corrections_are_refused_and_change_nothing(
        app, call, filed, body, status, code, words):
    _dossier, document, _other = filed
    before, state = _document_row(document.id), archive_state(app)
    response = call("officer", "PATCH", f"/api/v1/documents/{document.id}", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert words in response.json["error"]["message"]
    assert _document_row(document.id) == before and archive_state(app) == state
    assert _events("document.corrected") == [] and _events("document.moved") == []


def test_a_dossier_the_officer_may_not_see_reads_as_missing(call, make_customer, make_dossier,
                                                            file_doc, filed):
    """The officer's clearance is 机密: a 绝密 dossier is no destination, and the answer
    does not tell it exists."""
    _dossier, document, _other = filed
    top = make_dossier(make_customer(name="王五"), room="0101", classification="绝密",
                       actor="gm")
    hidden = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                  json={"dossier": top.number})
    missing = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                   json={"dossier": "翠湖苑-0栋0单元0000"})
    assert hidden.status_code == missing.status_code == 422
    assert hidden.json["error"]["message"].replace(top.number, "N") == \
        missing.json["error"]["message"].replace("翠湖苑-0栋0单元0000", "N")


def test_only_the_archive_room_corrects_documents(call, filed):
    _dossier, document, _other = filed
    before = _document_row(document.id)
    for username in ("staff", "head", "auditor", "gm"):
        response = call(username, "PATCH", f"/api/v1/documents/{document.id}",
                        json={"title": "改"})
        assert response.status_code == 403, username
    assert _document_row(document.id) == before


def test_a_documents_number_is_filed_and_corrected(call, make_customer, make_dossier):
    """文号 is a field of the 卷内目录: given on filing, correctable, audited."""
    dossier = make_dossier(make_customer(name="张伟"))
    filed = call("officer", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                 data={"title": "律师函", "category": "诉讼", "document_number": "粤律函〔2024〕12号"})
    assert filed.status_code == 201, filed.json
    assert filed.json["document_number"] == "粤律函〔2024〕12号"
    response = call("officer", "PATCH", f"/api/v1/documents/{filed.json['id']}",
                    json={"document_number": "粤律函〔2024〕21号"})
    assert response.status_code == 200, response.json
    assert response.json["changes"] == {"document_number": ["粤律函〔2024〕12号",
                                                            "粤律函〔2024〕21号"]}
    too_long = call("officer", "PATCH", f"/api/v1/documents/{filed.json['id']}",
                    json={"document_number": "号" * 101})
    assert too_long.status_code == 422
    db.session.expire_all()
    assert db.session.get(Document, filed.json["id"]).document_number == "粤律函〔2024〕21号"


def test_corrections_match_the_openapi_document(client, api, make_customer, make_dossier,
                                                file_doc):
    from tests.api.test_openapi import Conformance, _spec

    headers = api("officer")
    conform = Conformance(_spec(client, headers))
    customer = make_customer(name="张伟")
    dossier = make_dossier(customer)
    document = file_doc(dossier, title="认购书")
    conform.check(client.patch(f"/api/v1/customers/{customer.id}", headers=headers,
                               json={"address": "翠湖苑3栋"}), "/api/v1/customers/{customer_id}",
                  "patch")
    conform.check(client.patch(f"/api/v1/dossiers/{dossier.id}", headers=headers,
                               json={"location": "A-1"}), "/api/v1/dossiers/{dossier_id}",
                  "patch")
    conform.check(client.patch(f"/api/v1/documents/{document.id}", headers=headers,
                               json={"group": "e", "date": "2024-01-02"}),
                  "/api/v1/documents/{document_id}", "patch")
    conform.check(client.patch(f"/api/v1/documents/{document.id}", headers=headers,
                               json={"retention": "短期"}), "/api/v1/documents/{document_id}",
                  "patch", 422)
    conform.check(client.post(f"/api/v1/documents/{document.id}/withdraw", headers=headers,
                              json={"reason": "重复"}),
                  "/api/v1/documents/{document_id}/withdraw", "post")


def test_the_api_gives_each_objects_history(client, api, call, make_customer, make_dossier,
                                            file_doc):
    from tests.api.test_openapi import Conformance, _spec

    customer = make_customer(name="张伟", department="XS")
    dossier = make_dossier(customer)
    document = file_doc(dossier, title="认购书")
    call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
         json={"name": "张玮", "reason": "错字"})
    call("officer", "PATCH", f"/api/v1/dossiers/{dossier.id}", json={"location": "A-1"})
    call("officer", "PATCH", f"/api/v1/documents/{document.id}", json={"group": "e"})
    customer_history = call("staff", "GET", f"/api/v1/customers/{customer.id}/history").json
    assert [(h["action"], h["changes"], h["reason"]) for h in customer_history["history"]] == [
        ("customer.created", {}, ""), ("customer.corrected", {"name": ["张伟", "张玮"]}, "错字")]
    dossier_history = call("staff", "GET", f"/api/v1/dossiers/{dossier.id}/history").json
    assert dossier_history["history"][-1]["changes"] == {"location": ["", "A-1"]}
    # A move's place names dossiers and numbers: the archive room's to see.
    moved = call("staff", "GET", f"/api/v1/documents/{document.id}/history").json["history"]
    assert moved[-1]["action"] == "document.moved" and moved[-1]["changes"] == {}
    moved = call("officer", "GET", f"/api/v1/documents/{document.id}/history").json["history"]
    assert moved[-1]["changes"] == {"place": [f"{dossier.number} a 组", f"{dossier.number} e 组"]}
    assert call("service", "GET", f"/api/v1/documents/{document.id}/history").status_code == 404
    headers = api("officer")
    Conformance(_spec(client, headers)).check(
        client.get(f"/api/v1/documents/{document.id}/history", headers=headers),
        "/api/v1/documents/{document_id}/history")


def _case_file(make_customer, users, number="(2024)粤0305民初1234号"):
    from archive.services import customers, work

    with work.unit(db.session):
        return customers.create_dossier(db.session, users["officer"], {
            "customer_id": make_customer(name="张伟").id, "kind": "case",
            "number": number, "title": "张伟诉讼案"}, number_format="")


def _group_codes(dossier_id: int) -> set[str]:
    from archive.models import Group

    return set(db.session.execute(select(Group.code).where(Group.dossier_id == dossier_id))
               .scalars())


def test_moves_between_a_case_file_and_a_customer_dossier_keep_each_ones_groups(
        call, make_customer, make_dossier, file_doc, users):
    """A case file is one volume (k); a customer dossier has a–e. Found by a probe of the
    running app: a document moved out of a case file took k with it (a k group appeared
    in the customer dossier); one moved in with a group named recorded that group as its
    place though it went to k; asking a case file's document for another group wrote a
    move and used up a number though it never left k."""
    case = _case_file(make_customer, users)
    dossier = make_dossier(make_customer(name="张伟"), room="1201")
    document = file_doc(case, title="起诉状", category="诉讼")
    groups_before = _group_codes(dossier.id)
    out = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
               json={"dossier_id": dossier.id, "reason": "归错案卷"})
    assert out.status_code == 200, out.json
    assert out.json["group"] == "c"  # 诉讼's group in a customer dossier
    assert _group_codes(dossier.id) == groups_before
    back = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                json={"dossier_id": case.id, "group": "b", "reason": "移回案卷"})
    assert back.status_code == 200, back.json
    assert back.json["group"] == "k"
    assert back.json["changes"]["place"][1].endswith(" k 组")
    before = _document_row(document.id)
    again = call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                 json={"group": "a", "reason": "换组"})
    assert again.status_code == 200 and not again.json.get("changes")
    assert _document_row(document.id) == before


def test_no_renumbering_inside_a_closed_dossier(call, filed):
    """Found by a probe of the running app: a closed dossier refused documents moved in,
    but took a move between its own groups, which gives a document a new number."""
    from archive.models import Dossier

    dossier, first, _ = filed
    db.session.get(Dossier, dossier.id).status = "closed"
    db.session.commit()
    before = _document_row(first.id)
    response = call("officer", "PATCH", f"/api/v1/documents/{first.id}",
                    json={"group": "c", "reason": "换组"})
    assert response.status_code == 409 and response.json["error"]["code"] == "dossier_closed"
    assert _document_row(first.id) == before
