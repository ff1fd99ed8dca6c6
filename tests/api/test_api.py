"""The JSON API: contract shapes, bearer auth, and a clear JSON error for each bad input."""

import io

import pytest

from archive import samples
from tests import hostile_files
from tests.conftest import archive_state

PDF = samples.make_pdf("房地产买卖合同", ["买受人张伟购买翠湖苑3栋2单元1201，合同编号HT-2024-0031。"])


def _customer(client, headers, **extra):
    body = {"name": "张伟", "kind": "person", "department": "销售经营部", **extra}
    response = client.post("/api/v1/customers", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _dossier(client, headers, customer_id, room="1201"):
    response = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer_id,
        "unit": {"project": "翠湖苑", "building": "3", "unit": "2", "room": room}})
    assert response.status_code == 201, response.json
    return response.json


def _upload(client, headers, dossier_id, name="合同.pdf", data=PDF, **fields):
    form = {"title": "房地产买卖合同", "category": "签约", "date": "2024-05-01", **fields}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post(f"/api/v1/dossiers/{dossier_id}/documents", headers=headers, data=form,
                       content_type="multipart/form-data")


def test_create_customer_dossier_upload_and_read_back(client, api):
    headers = api("officer")
    customer = _customer(client, headers, code="KH-T-1")
    dossier = _dossier(client, headers, customer["id"])
    assert dossier["number"] == "翠湖苑-3栋2单元1201"
    response = _upload(client, headers, dossier["id"])
    assert response.status_code == 201, response.json
    document = response.json
    assert document["group"] == "a" and document["seq"] == 1
    assert document["classification"]["label"] == "内部" and document["retention"] == "永久"
    assert document["pages"] == 1 and len(document["sha256"]) == 64

    got = client.get(f"/api/v1/customers/{customer['id']}", headers=headers).json
    assert [d["number"] for d in got["dossiers"]] == ["翠湖苑-3栋2单元1201"]
    full = client.get(f"/api/v1/dossiers/{dossier['id']}", headers=headers).json
    group_a = next(g for g in full["groups"] if g["code"] == "a")
    assert [d["title"] for d in group_a["documents"]] == ["房地产买卖合同"]
    meta = client.get(f"/api/v1/documents/{document['id']}", headers=headers).json
    assert meta["sha256"] == document["sha256"]
    content = client.get(f"/api/v1/documents/{document['id']}/content", headers=headers)
    assert content.status_code == 200 and content.data == PDF


def test_no_token_is_401_json(client):
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_browser_session_does_not_open_the_api(client, departments):
    # /api/v1 is exempt from CSRF: were the session cookie accepted there, any page could
    # make a signed-in browser post to it (e.g. a multipart upload form).
    from tests.conftest import login

    login(client, "officer")
    assert client.get("/customers").status_code == 200
    response = client.post("/api/v1/customers", json={"name": "跨站客户",
                                                      "department": departments["XS"].id})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/customers").status_code == 401


def test_a_wrong_token_is_401(client):
    response = client.get("/api/v1/customers", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/customers/999999", "/api/v1/dossiers/999999",
                                  "/api/v1/documents/999999", "/api/v1/documents/999999/content"])
def test_unknown_ids_are_404_json(client, api, path):
    response = client.get(path, headers=api("officer"))
    assert response.status_code == 404 and response.json["error"]["message"]


def test_duplicate_dossier_is_409(client, api):
    headers = api("officer")
    customer = _customer(client, headers)
    _dossier(client, headers, customer["id"])
    response = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer["id"],
        "unit": {"project": "翠湖苑", "building": "3", "unit": "2", "room": "1201"}})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate_dossier"


def test_duplicate_customer_code_is_409(client, api):
    headers = api("officer")
    _customer(client, headers, code="KH-DUP")
    response = client.post("/api/v1/customers", headers=headers,
                           json={"name": "李娜", "code": "KH-DUP", "department": "销售经营部"})
    assert response.status_code == 409


@pytest.mark.parametrize("body,field", [({"kind": "person"}, "name"),
                                        ({"name": "张伟", "kind": "robot"}, "kind")])
def test_missing_or_invalid_fields_are_422(client, api, body, field):
    response = client.post("/api/v1/customers", headers=api("officer"), json=body)
    assert response.status_code == 422
    assert response.json["error"]["details"]["field"] == field


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_malformed_json_is_400(client, api, raw):
    response = client.post("/api/v1/customers", headers={**api("officer"),
                           "Content-Type": "application/json"}, data=raw)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"


def test_dossier_missing_unit_is_422(client, api):
    headers = api("officer")
    customer = _customer(client, headers)
    response = client.post("/api/v1/dossiers", headers=headers, json={"customer_id": customer["id"]})
    assert response.status_code == 422


def test_dossier_for_unknown_customer_is_404(client, api):
    response = client.post("/api/v1/dossiers", headers=api("officer"), json={
        "customer_id": 424242, "unit": {"project": "翠湖苑", "building": "1", "unit": "1", "room": "101"}})
    assert response.status_code == 404


@pytest.mark.parametrize("name,data,status,code", [
    ("empty.pdf", b"", 422, "empty_file"),
    ("photo.pdf", samples.make_png(), 415, "extension_mismatch"),
    ("../secret.pdf", PDF, 422, "bad_filename"),
    ("locked.pdf", hostile_files.make_encrypted_pdf(), 422, "encrypted_pdf"),
    ("bomb.docx", hostile_files.make_zip_bomb_docx(), 413, "zip_bomb"),
])
def test_bad_uploads_get_a_clear_json_error_and_store_nothing(app, client, api, name, data,
                                                                status, code):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    before = archive_state(app)
    response = _upload(client, headers, dossier["id"], name=name, data=data)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert archive_state(app) == before


def test_upload_over_the_size_limit_is_413(app, client, api):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    before = archive_state(app)
    big = b"%PDF-1.4\n" + b"0" * (app.config["MAX_UPLOAD_MB"] * 2**20 + 100_000)
    response = _upload(client, headers, dossier["id"], name="big.pdf", data=big)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    assert archive_state(app) == before


def test_upload_missing_title_is_422(app, client, api):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    response = _upload(client, headers, dossier["id"], title="")
    assert response.status_code == 422 and response.json["error"]["details"]["field"] == "title"


@pytest.mark.parametrize(("name", "data", "extracted", "status"), [
    ("合同.pdf", PDF, True, "ok"),
    ("扫描件.pdf", hostile_files.make_scan_pdf(1), False, "empty"),
    ("残缺.pdf", hostile_files.truncate(PDF, 0.5), False, "failed"),
])
def test_text_extracted_says_whether_the_files_gave_searchable_text(client, api, name, data,
                                                                     extracted, status):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    response = _upload(client, headers, dossier["id"], name=name, data=data)
    assert response.status_code == 201, response.json
    assert response.json["text_extracted"] is extracted
    assert [f["text_status"] for f in response.json["files"]] == [status]


def test_paper_only_document_via_api(client, api):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    response = _upload(client, headers, dossier["id"], data=None, pages="3", carrier="纸质")
    assert response.status_code == 201
    assert response.json["files"] == [] and response.json["pages"] == 3
    assert response.json["text_extracted"] is False
    content = client.get(f"/api/v1/documents/{response.json['id']}/content", headers=headers)
    assert content.status_code == 422 and content.json["error"]["code"] == "paper_only"


def test_superscript_digits_are_not_numbers_here(client, login_as, api):
    # "²".isdigit() is True but int("²") raises: each of these answered 500.
    headers = api("officer")
    assert client.get("/api/v1/customers?page=²", headers=headers).status_code == 200
    assert client.get("/api/v1/search?customer=²", headers=headers).status_code == 200
    response = client.post("/api/v1/customers", headers=headers,
                           json={"name": "上标客户", "department": "²"})
    assert response.status_code == 422
    response = client.post("/api/v1/grants", headers=api("gm"),
                           json={"user": "²", "department": "KF", "valid_until": "2099-01-01",
                                 "reason": "x"})
    assert response.status_code == 422
    assert login_as("officer").get("/customers?page=²").status_code == 200


def test_upload_as_json_says_multipart_is_needed(app, client, api):
    headers = api("officer")
    dossier = _dossier(client, headers, _customer(client, headers)["id"])
    before = archive_state(app)
    response = client.post(f"/api/v1/dossiers/{dossier['id']}/documents", headers=headers,
                           json={"title": "纸质", "category": "销售", "pages": 2})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "multipart_required"
    assert archive_state(app) == before
