"""ID numbers and telephones are checked when a customer is registered or corrected
(issue 18): an 18-digit 身份证 by its birth date and check digit (GB 11643), a company's
统一社会信用代码 by its check character (GB 32100), phones by their form; each refusal says
what is wrong, and nothing is stored."""

import pytest

from archive.extensions import db
from archive.services import customers, personal_data, work
from archive.services.errors import Invalid
from tests.conftest import archive_state

# A real-form 身份证 number (check digit 4) and a 统一社会信用代码 whose check is computed.
GOOD_ID = "440301199001011234"
GOOD_CODE = "91440300MA5" + "G1B2C3" + personal_data.uscc_check_character("91440300MA5G1B2C3")


@pytest.mark.parametrize("kind, typed, stored", [
    ("person", GOOD_ID, GOOD_ID),
    ("person", " 4403 0119 9001 0112 34 ", GOOD_ID),
    ("person", "11010519491231002x", "11010519491231002X"),
    ("person", "E12345678", "E12345678"),  # a passport
    ("company", GOOD_CODE.lower(), GOOD_CODE),
    ("person", "", ""),
])
def test_good_numbers_are_stored_compact(make_customer, kind, typed, stored):
    assert make_customer(kind=kind, id_number=typed).id_number == stored


@pytest.mark.parametrize("kind, typed, message", [
    ("person", "440301199001011235", "校验码不符：按前 17 位第 18 位应为 4"),
    ("person", "44030119900101123", "应为 18 位"),
    ("person", "440301199013011234", "不是有效日期"),
    ("person", "4403011990010112345", "应为 18 位"),
    ("person", "张三的证件", "只能由字母、数字组成"),
    ("company", GOOD_CODE[:17] + ("0" if GOOD_CODE[17] != "0" else "1"), "统一社会信用代码校验码不符"),
    ("company", "91440300MA5G1B2C", "应为 18 位"),
    ("company", "91440300MA5G1B2CO" + "1", "不使用字母"),
])
def test_bad_numbers_are_refused_and_nothing_changes(app, users, departments, kind, typed,
                                                     message):
    before = archive_state(app)
    with pytest.raises(Invalid) as error, work.unit(db.session):
        customers.create_customer(db.session, users["officer"], {
            "name": "张伟", "kind": kind, "department": departments["XS"].id, "id_number": typed})
    assert message in error.value.message and error.value.code == "invalid_id_number"
    assert archive_state(app) == before


@pytest.mark.parametrize("typed", [
    "13800138000", "+86 138 0013 8000", "0755-26000000", "0755-26000000转123", "26000000",
    "400-800-1234", "13800138000、0755-26000000", "（0755）26000000",
])
def test_good_phones_are_kept_as_typed(make_customer, typed):
    assert make_customer(phone=typed).phone == typed


@pytest.mark.parametrize("typed", ["139", "1", "12345678901", "1380013800", "电话",
                                   "13800138000、139", "、"])
def test_bad_phones_are_refused_and_nothing_changes(app, users, departments, typed):
    before = archive_state(app)
    with pytest.raises(Invalid) as error, work.unit(db.session):
        customers.create_customer(db.session, users["officer"], {
            "name": "张伟", "department": departments["XS"].id, "phone": typed})
    assert "联系电话格式不正确" in error.value.message and "11 位" in error.value.message
    assert archive_state(app) == before


def test_the_form_and_the_api_say_why(login_as, call, departments):
    page = login_as("officer").post("/customers/new", data={
        "name": "张伟", "department": departments["XS"].id, "id_number": "440301199001011235"})
    assert page.status_code == 422 and "第 18 位应为 4" in page.get_data(as_text=True)
    api = call("officer", "POST", "/api/v1/customers", json={
        "name": "张伟", "department": departments["XS"].id, "phone": "139"})
    assert api.status_code == 422 and api.get_json()["error"]["code"] == "invalid_phone"


def test_a_correction_is_checked_too(call, make_customer):
    customer = make_customer(name="张伟", phone="13800000000")
    response = call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
                    json={"id_number": "440301199001011235"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(type(customer), customer.id).id_number == ""
