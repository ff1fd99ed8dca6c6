"""Bad input from a black-box test (issue 14, findings 9, 10 and 12): numbers past SQLite's
integers, lone surrogates and JSON nested 100 000 deep, `true` and direction controls in
text. Each gets a clear error, never a 500, and leaves the archive as it was."""

from datetime import date, timedelta

import pytest

from archive.services import validation
from archive.services.errors import Invalid
from tests.conftest import archive_state, login

BIG = "99999999999999999999"  # past 2**63-1, the largest integer a row can hold
UNIT = {"project": "翠湖苑", "building": "3", "unit": "2", "room": "1201"}


@pytest.fixture
def filed(app, make_customer, make_dossier, file_doc):
    """One customer, dossier and document, so that every list below has something in it."""
    customer = make_customer("张伟")
    dossier = make_dossier(customer)
    document = file_doc(dossier, "认购书")
    return customer, dossier, document


# -- 9. ids and page numbers past the database's integers --------------------------------

PATH_IDS = [f"/documents/{BIG}", f"/dossiers/{BIG}", f"/customers/{BIG}",
            f"/api/v1/documents/{BIG}", f"/api/v1/dossiers/{BIG}", f"/api/v1/customers/{BIG}"]
QUERY_NUMBERS = [
    # (path, user, statuses that answer it): a page past the end is the last page (web
    # customers redirect there) or an empty one; a search filter is a 422 like any other.
    (f"/customers?page={BIG}", "officer", {302}),
    (f"/api/v1/customers?page={BIG}", "officer", {200}),
    (f"/audit?page={BIG}", "auditor", {200}),
    *[(f"{base}?q=认购书&{key}={BIG}", "officer", {422})
      for base in ("/search", "/api/v1/search") for key in ("department", "customer", "dossier")],
]


def _get(client, api, path: str, user: str):
    if path.startswith("/api/"):
        return client.get(path, headers=api(user))
    login(client, user)
    return client.get(path)


@pytest.mark.parametrize("path", PATH_IDS)
def test_an_id_past_the_largest_integer_is_404(app, client, api, filed, path):
    before = archive_state(app)
    response = _get(client, api, path, "officer")
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json["error"]["code"] == "not_found"
    else:
        assert "页面或对象不存在" in response.get_data(as_text=True)
    assert archive_state(app) == before


@pytest.mark.parametrize(("path", "user", "statuses"), QUERY_NUMBERS)
def test_a_query_number_past_the_largest_integer_is_a_clear_answer(app, client, api, filed,
                                                                   path, user, statuses):
    before = archive_state(app)
    response = _get(client, api, path, user)
    assert response.status_code in statuses, response.get_data(as_text=True)[:300]
    if response.status_code == 422:
        body = response.get_data(as_text=True)
        assert "超出范围" in (response.json["error"]["message"] if response.is_json else body)
    assert archive_state(app) == before


def test_approving_a_change_past_the_largest_id_is_404(app, client, api):
    before = archive_state(app)
    response = client.post(f"/api/v1/classification-changes/{BIG}/approve",
                           headers=api("gmoffice"))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert archive_state(app) == before


def test_the_largest_integer_itself_is_looked_up_and_not_found(client, api):
    headers = api("officer")
    for number in (validation.MAX_INTEGER, validation.MAX_INTEGER + 1, 2**63 - 1, 2**63):
        assert client.get(f"/api/v1/documents/{number}", headers=headers).status_code == 404


def test_every_int_route_refuses_ids_past_the_largest_integer(app):
    # The converter is swapped app-wide: a route added later is covered without saying so.
    from werkzeug.routing import IntegerConverter

    converters = [c for rule in app.url_map.iter_rules()
                  for c in rule._converters.values() if isinstance(c, IntegerConverter)]
    assert len(converters) > 20
    assert validation.MAX_INTEGER == 2**31 - 1  # PostgreSQL's integer, the narrowest engine
    assert all(c.max == validation.MAX_INTEGER for c in converters)


def _spellings(number: int) -> list[str]:
    """`number` as no id is written: full-width, Arabic-Indic, Devanagari digits, a zero in front."""
    digits = str(number)
    return [digits.translate({ord("0") + d: base + d for d in range(10)})
            for base in (0xFF10, 0x0660, 0x0966)] + [f"0{digits}", f"00{digits}"]


def test_an_id_in_other_digits_names_nothing(app, client, api, filed):
    """Werkzeug's `\\d+` took `１`, `١` and `01` as 1: the log named one id, the request
    acted on another. Only the ASCII digits the archive writes name an object."""
    document = filed[2]
    headers = api("officer")
    assert client.get(f"/api/v1/documents/{document.id}", headers=headers).status_code == 200
    login(client, "officer")
    assert client.get(f"/documents/{document.id}").status_code == 200
    for spelling in _spellings(document.id):
        for path in (f"/api/v1/documents/{spelling}", f"/documents/{spelling}"):
            response = client.get(path, headers=headers if "/api/" in path else {})
            assert response.status_code == 404, (path, response.status_code)


def test_a_change_by_an_id_in_other_digits_changes_nothing(app, client, api, users):
    from archive.extensions import db
    from archive.models import AccessGrant

    def ends():
        db.session.expire_all()
        return db.session.get(AccessGrant, grant["id"]).valid_until

    headers = api("gm")
    grant = client.post("/api/v1/grants", headers=headers, json={
        "user": "staff", "department": "KF", "valid_until": str(date.today() + timedelta(days=5)),
        "reason": "盘点"})
    assert grant.status_code == 201, grant.json
    grant = grant.json
    before, granted_until = archive_state(app), ends()
    for spelling in _spellings(grant["id"]):
        response = client.post(f"/api/v1/grants/{spelling}/revoke", headers=headers)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert archive_state(app) == before and ends() == granted_until
    assert client.post(f"/api/v1/grants/{grant['id']}/revoke", headers=headers).status_code == 200
    assert ends() < granted_until


def test_a_web_page_past_the_end_goes_to_the_last_page(client, filed):
    login(client, "officer")
    response = client.get(f"/customers?page={BIG}")
    assert response.status_code == 302 and response.headers["Location"].endswith("page=1")


@pytest.mark.parametrize(("url", "body", "status"), [
    ("/api/v1/dossiers", {"customer_id": int(BIG), "unit": UNIT}, 422),
    ("/api/v1/customers", {"name": "李娜", "department": BIG}, 422),
    ("/api/v1/copy-approvals", {"user": "staff", "document_id": int(BIG), "reason": "x"}, 404),
    ("/api/v1/designations", {"user": "staff", "dossier_id": int(BIG)}, 404),
    ("/api/v1/grants", {"user": BIG, "department": "KF", "valid_until": "2099-01-01",
                        "reason": "x"}, 422),
])
def test_an_id_past_the_largest_integer_in_a_body_is_refused(app, client, api, url, body,
                                                             status):
    before = archive_state(app)
    response = client.post(url, headers=api("gm"), json=body)
    assert response.status_code == status, response.json
    assert archive_state(app) == before


def test_the_integer_parser_bounds_what_it_reads():
    largest = validation.MAX_INTEGER
    assert validation.integer({"n": str(largest)}, "n", "数") == largest
    for value in (BIG, f"-{BIG}", str(largest + 1), float("inf"), float("nan"), True):
        with pytest.raises(Invalid):
            validation.integer({"n": value}, "n", "数")
    assert [validation.page({"page": v}) for v in ("3", "0", "-2", "x", "²", BIG, None)] == [
        3, 1, 1, 1, 1, validation.MAX_PAGE, 1]


# -- 10. lone surrogates and deep nesting in JSON -----------------------------------------

SURROGATE_BODIES = [
    # (url, user, JSON text): the escape \ud800 as a client would send it.
    ("/api/v1/customers", "officer", '{"name": "张\\ud800伟", "department": "销售经营部"}'),
    ("/api/v1/customers", "officer", '{"name": "张伟", "department": "销售经营部", '
                                     '"notes": ["a", {"b": "\\udfff"}]}'),
    ("/api/v1/customers", "officer", '{"name": "张伟", "\\ud800": 1}'),
    ("/api/v1/dossiers", "officer", '{"customer_id": 1, "unit": {"project": "翠湖\\ud800苑", '
                                    '"building": "3", "unit": "2", "room": "1201"}}'),
    ("/api/v1/dossiers", "officer", '{"customer_id": 1, "kind": "case", '
                                    '"number": "（2024）\\udc00号", "title": "诉讼"}'),
    ("/api/v1/dossiers/1/references", "officer", '{"to_dossier_id": 1, "note": "\\ud800"}'),
    ("/api/v1/documents/1/classification", "officer", '{"to": "秘密", "reason": "\\ud83d"}'),
    ("/api/v1/grants", "gm", '{"user": "staff", "department": "KF", '
                             '"valid_until": "2099-01-01", "reason": "\\ud800"}'),
]


@pytest.mark.parametrize(("url", "user", "raw"), SURROGATE_BODIES)
def test_a_lone_surrogate_anywhere_in_a_json_body_is_400(app, client, api, filed, url, user,
                                                         raw):
    before = archive_state(app)
    response = client.post(url, headers=api(user), data=raw.encode(),
                           content_type="application/json")
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_unicode"
    assert "\\ud800" in response.json["error"]["message"]
    assert archive_state(app) == before


def test_a_surrogate_encoded_as_utf8_bytes_is_400_too(app, client, api):
    # Python's JSON decoder reads bytes with 'surrogatepass': ED A0 80 becomes \ud800.
    before = archive_state(app)
    response = client.post("/api/v1/customers", headers=api("officer"),
                           data=b'{"name": "\xed\xa0\x80", "department": "XS"}',
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_unicode"
    assert archive_state(app) == before


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"name": "x", "notes": ' + b"[" * 30 + b"]" * 30 + b"}",  # decodes, but too deep
])
def test_json_nested_too_deep_is_400(app, client, api, raw):
    before = archive_state(app)
    response = client.post("/api/v1/customers", headers=api("officer"), data=raw,
                           content_type="application/json")
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "json_too_deep"
    assert archive_state(app) == before


def test_a_reasonably_nested_body_still_works(client, api):
    response = client.post("/api/v1/customers", headers=api("officer"), data=(
        b'{"name": "\xe5\xbc\xa0\xe4\xbc\x9f", "department": "XS", "extra": '
        + b"[" * 18 + b"]" * 18 + b"}"), content_type="application/json")
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("raw", [b'{"name": "x", "department": "XS", "n": NaN}',
                                 b'{"name": "x", "department": "XS", "n": -Infinity}'])
def test_nan_and_infinity_are_not_json(app, client, api, raw):
    before = archive_state(app)
    response = client.post("/api/v1/customers", headers=api("officer"), data=raw,
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed_json"
    assert archive_state(app) == before


def test_rejecting_a_change_with_a_surrogate_note_is_400(client, api, session, users, filed):
    from archive.services import classification

    _, _, document = filed
    change_id = classification.request_change(session, users["officer"], document, "秘密",
                                              "合同涉及价格").id
    session.commit()
    response = client.post(f"/api/v1/classification-changes/{change_id}/reject",
                           headers=api("gmoffice"), data='{"note": "\\ud800"}',
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_unicode"
    ok = client.post(f"/api/v1/classification-changes/{change_id}/reject",
                     headers=api("gmoffice"))
    assert ok.status_code == 200 and ok.json["status"] == "rejected"


def test_a_surrogate_in_a_web_form_or_query_cannot_500(client, session, departments):
    # Werkzeug decodes URLs and form bodies with errors='replace': the bytes of a lone
    # surrogate arrive as U+FFFD and never reach the database as a surrogate.
    login(client, "officer")
    assert client.get("/search?q=%ED%A0%80").status_code == 200
    assert client.get("/customers?q=%ED%A0%80").status_code == 200
    response = client.post("/customers/new", data=b"kind=person&name=%ED%A0%80&department="
                           + str(departments["XS"].id).encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code in (302, 422)
    from archive.models import Customer

    names = [c.name for c in session.query(Customer).all()]
    assert not any("\ud800" <= ch <= "\udfff" for name in names for ch in name)


def test_text_refuses_a_lone_surrogate_given_by_any_caller():
    with pytest.raises(Invalid):
        validation.text({"name": "张\ud800伟"}, "name", "客户名称")


# -- 12. JSON true and direction controls in text -----------------------------------------

@pytest.mark.parametrize("value", [True, False, 1.5, ["张伟"], {"n": 1}])
def test_a_customer_name_must_be_text(app, client, api, value):
    before = archive_state(app)
    response = client.post("/api/v1/customers", headers=api("officer"),
                           json={"name": value, "department": "销售经营部"})
    assert response.status_code == 422 and response.json["error"]["details"]["field"] == "name"
    assert archive_state(app) == before


def test_a_room_may_be_sent_as_a_number_but_not_as_true(app, client, api, filed):
    customer, _, _ = filed
    headers = api("officer")
    before = archive_state(app)
    response = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer.id, "unit": {**UNIT, "room": True}})
    assert response.status_code == 422 and response.json["error"]["details"]["field"] == "room"
    assert archive_state(app) == before
    response = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer.id, "unit": {**UNIT, "room": 1502}})
    assert response.status_code == 201 and response.json["number"] == "翠湖苑-3栋2单元1502"


# The bidirectional controls: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("control", BIDI)
def test_a_direction_control_in_a_name_is_refused(app, client, api, control):
    before = archive_state(app)
    response = client.post("/api/v1/customers", headers=api("officer"),
                           json={"name": f"张伟{control}fdp.exe", "department": "销售经营部"})
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "bidi_control"
    assert "U+202E" in response.json["error"]["message"]
    assert archive_state(app) == before


def test_a_direction_control_in_a_web_form_is_refused_in_chinese(app, login_as, filed):
    _, dossier, _ = filed
    client = login_as("officer")
    before = archive_state(app)
    response = client.post(f"/dossiers/{dossier.id}/upload", data={
        "title": "合同\u202efdp.exe", "category": "销售"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "文字方向控制符" in response.get_data(as_text=True)
    assert archive_state(app) == before


def test_zero_days_of_access_is_refused_not_read_as_the_default(app, call):
    """An access request of 0 days was filed as one of 30 (the default when none is given)."""
    before = archive_state(app)
    answer = call("staff", "POST", "/api/v1/access-requests",
                  {"customer": "某客户", "reason": "核对", "days": 0})
    assert answer.status_code == 422 and answer.json["error"]["details"]["field"] == "days"
    assert archive_state(app) == before


def test_json_true_is_not_a_level(app, call, make_customer, make_dossier, file_doc):
    """Level.parse read JSON true as the integer 1 (内部): a change request to `true`."""
    document = file_doc(make_dossier(make_customer("布尔客户")), "布尔文件",
                        classification="公开")
    before = archive_state(app)
    answer = call("officer", "POST", f"/api/v1/documents/{document.id}/classification",
                  {"to": True, "reason": "核对"})
    assert answer.status_code == 422 and answer.json["error"]["details"]["field"] == "to"
    assert archive_state(app) == before


def test_a_route_changes_time_limit_is_named_in_its_refusal(app, call):
    """A time limit too large to read was refused naming the field "h"."""
    from sqlalchemy import select

    from archive.extensions import db
    from archive.models import ApprovalRoute

    route = db.session.execute(select(ApprovalRoute).filter_by(kind="level_raise")).scalar_one()
    before = archive_state(app)
    for hours in (10**30, "很多", 0):
        answer = call("admin", "POST", f"/api/v1/approval-routes/{route.id}/changes",
                      {"steps": [[1, "customer_dept_head"], [2, "legal"]], "time_limit_hours": hours,
                       "reason": "调整"})
        assert answer.status_code == 422, answer.json
        assert answer.json["error"]["details"]["field"] == "time_limit_hours", hours
    assert archive_state(app) == before


@pytest.mark.parametrize(("user", "path"), [
    ("officer", "/api/v1/loans?overdue=abc"), ("staff", "/api/v1/approvals?mine=maybe"),
    ("officer", "/api/v1/holds?all=2")])
def test_a_yes_or_no_in_a_query_is_yes_or_no(client, api, user, path):
    """`?overdue=abc` was read as no: a typo listed every loan as if asked for all."""
    refused = client.get(path, headers=api(user))
    assert refused.status_code == 422 and refused.json["error"]["details"]["field"] == (
        path.split("?")[1].split("=")[0])
    for value in ("1", "true", "0", "false", ""):
        assert client.get(path.split("=")[0] + "=" + value, headers=api(user)).status_code == 200


def test_may_download_must_be_yes_or_no(app, call, filed):
    """"maybe" was read as no without a word; "yes" and true stay yes."""
    from archive.extensions import db
    from archive.models import Loan

    before = archive_state(app)
    refused = call("staff", "POST", "/api/v1/loans", {
        "dossier_id": filed[1].id, "kind": "electronic", "purpose": "核对", "days": 3,
        "may_download": "maybe"})
    assert refused.status_code == 422 and refused.json["error"]["details"]["field"] == (
        "may_download")
    assert archive_state(app) == before and db.session.query(Loan).count() == 0


@pytest.mark.parametrize("digits", ["３", "١", "1_0", "१"])
def test_an_id_in_a_body_in_other_digits_is_refused_as_in_a_path(app, call, filed, digits):
    """A path's id in other digits names nothing (404); in a body it was read as the id
    ("３" moved a document to dossier 3)."""
    before = archive_state(app)
    answer = call("officer", "POST", "/api/v1/holds", {"document_id": digits, "reason": "诉讼"})
    assert answer.status_code in (404, 422), answer.json
    assert validation.row_id(digits) is None and validation._whole_number(digits) is None
    assert archive_state(app) == before
    assert validation.row_id(" 12 ") == 12 and validation.row_id("+7") == 7
