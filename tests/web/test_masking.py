"""ID and telephone numbers are masked (4403**********1234, 138****8000) for everyone
outside the archive room and the customer's own department (issue 18): on the customer's
page and in the API, in search hits, and in audit details and their export."""

import csv
import io
from datetime import timedelta

import pytest

from archive import samples
from archive.clock import now
from archive.extensions import db
from archive.models import AccessGrant
from archive.services import indexing, personal_data

ID = "440301199001011234"
MASKED_ID = "4403**********1234"
PHONE = "13800138000"
MASKED_PHONE = "138****8000"


def test_the_masks():
    assert personal_data.mask_id(ID) == MASKED_ID
    assert personal_data.mask_phone(PHONE) == MASKED_PHONE
    assert personal_data.mask_phone("0755-26000000") == "075*-****0000"
    assert personal_data.mask_text(f"买受人身份证{ID}，电话{PHONE}。") == (
        f"买受人身份证{MASKED_ID}，电话{MASKED_PHONE}。")
    assert personal_data.mask_snippet("身份证4403011<mark>990</mark>01011234") == (
        f"身份证{MASKED_ID}")


@pytest.fixture
def customer(make_customer):
    return make_customer("张伟", department="XS", id_number=ID, phone=PHONE)


@pytest.fixture
def granted(users, departments):
    """The customer-service staff member, granted the sales department's files."""
    db.session.add(AccessGrant(user_id=users["service"].id, department_id=departments["XS"].id,
                               valid_from=now() - timedelta(days=1),
                               valid_until=now() + timedelta(days=5),
                               approved_by_id=users["gm"].id))
    db.session.commit()
    return "service"


@pytest.mark.parametrize("who, full", [("officer", True), ("gmoffice", True), ("gm", True),
                                       ("staff", True), ("head", True), ("auditor", False)])
def test_the_customer_page_and_api(login_as, call, customer, who, full):
    page = login_as(who).get(f"/customers/{customer.id}").get_data(as_text=True)
    body = call(who, "GET", f"/api/v1/customers/{customer.id}").get_json()
    listing = call(who, "GET", "/api/v1/customers").get_json()["customers"]
    expected = (ID, PHONE) if full else (MASKED_ID, MASKED_PHONE)
    assert all(value in page for value in expected)
    assert (body["id_number"], body["phone"]) == expected
    assert {(c["id_number"], c["phone"]) for c in listing if c["id"] == customer.id} == {expected}
    if not full:
        assert ID not in page and PHONE not in page


def test_another_department_with_a_grant_sees_them_masked(login_as, call, customer, granted):
    page = login_as(granted).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert MASKED_ID in page and ID not in page and PHONE not in page
    body = call(granted, "GET", f"/api/v1/customers/{customer.id}").get_json()
    assert (body["id_number"], body["phone"]) == (MASKED_ID, MASKED_PHONE)


def test_search_hits(app, login_as, call, customer, make_dossier, file_doc, granted):
    dossier = make_dossier(customer)
    document = file_doc(dossier, "认购书", "销售", files=[("认购书.pdf", samples.make_pdf(
        "认购书", [f"买受人张伟，身份证号码{ID}，联系电话{PHONE}。"]))])
    indexing.index_after_commit(db.session, [document.id])
    own = login_as("staff").get("/search?q=身份证号码").get_data(as_text=True)
    assert ID in own.replace("<mark>", "").replace("</mark>", "")
    other = login_as(granted).get("/search?q=身份证号码").get_data(as_text=True)
    assert "认购书" in other and MASKED_ID in other and "19900101" not in other
    hits = call(granted, "GET", "/api/v1/search?q=身份证号码").get_json()["hits"]
    assert hits and all(ID not in h["highlight"] and MASKED_ID in h["highlight"] for h in hits)


def test_audit_details_and_their_export(login_as, call, customer):
    call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
         json={"phone": "13900139000", "reason": "客户来电更正"})
    auditor = login_as("auditor")
    page = auditor.get("/audit?action=customer.corrected").get_data(as_text=True)
    assert "139****9000" in page and "13900139000" not in page
    export = auditor.get("/audit/export.csv?action=customer.corrected").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(export.lstrip("\ufeff"))))
    assert "13900139000" not in export and "139****9000" in rows[1][8]
    api = call("auditor", "GET", "/api/v1/audit?action=customer.corrected").get_json()
    assert "13900139000" not in str(api)
    gm = login_as("gm").get("/audit?action=customer.corrected").get_data(as_text=True)
    assert "13900139000" in gm
