"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document that lists every /api/v1 route
and describes the bodies the API really sends."""

import io
import re

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from archive import samples

PDF = samples.make_pdf("认购书", ["客户张伟认购翠湖苑3栋2单元1201。"])
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _spec(client, headers: dict | None = None) -> dict:
    response = client.get("/api/v1/openapi.json", headers=headers or {})
    assert response.status_code == 200 and response.is_json
    return response.json


def _api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every /api/v1 rule the app serves."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method.lower()) for method in rule.methods - IGNORED_METHODS}
    return routes


def _documented(spec: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec["paths"].items() for method in item
            if method in ("get", "put", "post", "delete", "patch")}


def test_the_document_is_public_and_valid_openapi_3_1(client):
    spec = _spec(client)
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_api_route_is_documented(app, client):
    missing = _api_routes(app) - _documented(_spec(client))
    assert not missing, f"describe these in archive/api/openapi.py: {sorted(missing)}"


def test_nothing_is_documented_that_the_app_does_not_serve(app, client):
    assert not _documented(_spec(client)) - _api_routes(app)


def test_path_parameters_match_the_routes(client):
    for path, item in _spec(client)["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


def test_bearer_auth_everywhere_but_on_the_document_itself(client):
    spec = _spec(client)
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    for path, item in spec["paths"].items():
        for operation in item.values():
            if path == "/api/v1/openapi.json":
                assert operation["security"] == []
            else:
                assert "security" not in operation and "401" in operation["responses"], path


def test_error_responses_share_the_error_shape(client):
    spec = _spec(client)
    responses = spec["components"]["responses"]
    for status in ("400", "401", "403", "404", "409", "413", "415", "422"):
        assert any(status in op["responses"] for item in spec["paths"].values()
                   for op in item.values()), status
    for response in responses.values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]


class Conformance:
    """Checks real responses against the schema the document gives for them."""

    def __init__(self, spec: dict):
        self.spec = spec

    def check(self, response, path: str, method: str = "get", status: int = 200) -> None:
        assert response.status_code == status, response.json
        described = self.spec["paths"][path][method]["responses"][str(status)]
        if "$ref" in described:
            described = self.spec["components"]["responses"][described["$ref"].split("/")[-1]]
        schema = described["content"]["application/json"]["schema"]
        root = {**schema, "components": self.spec["components"]}
        OAS31Validator(root).validate(response.json)


def test_real_responses_match_the_document(client, api):
    # One identity per test: the fixtures' app context keeps Flask-Login's user on `g`.
    headers = api("officer")
    conform = Conformance(_spec(client, headers))

    created = client.post("/api/v1/customers", headers=headers, json={
        "name": "张伟", "kind": "person", "department": "销售经营部", "phone": "13800000000"})
    conform.check(created, "/api/v1/customers", "post", 201)
    customer_id = created.json["id"]
    unit = {"project": "翠湖苑", "building": "3", "unit": "2", "room": "1201"}
    dossier = client.post("/api/v1/dossiers", headers=headers,
                          json={"customer_id": customer_id, "unit": unit})
    conform.check(dossier, "/api/v1/dossiers", "post", 201)
    dossier_id = dossier.json["id"]
    case = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer_id, "kind": "case", "number": "（2024）粤0305民初123号",
        "title": "张伟诉讼案"})
    upload = client.post(f"/api/v1/dossiers/{dossier_id}/documents", headers=headers,
                         data={"title": "认购书", "category": "销售", "date": "2024-05-01",
                               "file": (io.BytesIO(PDF), "认购书.pdf")},
                         content_type="multipart/form-data")
    conform.check(upload, "/api/v1/dossiers/{dossier_id}/documents", "post", 201)
    reference = client.post(f"/api/v1/dossiers/{dossier_id}/references", headers=headers,
                            json={"to_dossier_id": case.json["id"],
                                  "document_id": upload.json["id"], "note": "判决书"})
    conform.check(reference, "/api/v1/dossiers/{dossier_id}/references", "post", 201)

    conform.check(client.get("/api/v1/customers", headers=headers), "/api/v1/customers")
    conform.check(client.get(f"/api/v1/customers/{customer_id}", headers=headers),
                  "/api/v1/customers/{customer_id}")
    conform.check(client.get(f"/api/v1/dossiers/{dossier_id}", headers=headers),
                  "/api/v1/dossiers/{dossier_id}")
    conform.check(client.get(f"/api/v1/documents/{upload.json['id']}", headers=headers),
                  "/api/v1/documents/{document_id}")
    found = client.get("/api/v1/search?q=认购书", headers=headers)
    assert found.json["total"] == 1
    conform.check(found, "/api/v1/search")

    for response, path, method, status in (
        (client.post("/api/v1/customers", headers=headers, data="[]",
                     content_type="application/json"), "/api/v1/customers", "post", 400),
        (client.get("/api/v1/audit", headers=headers), "/api/v1/audit", "get", 403),
        (client.get("/api/v1/dossiers/99999", headers=headers), "/api/v1/dossiers/{dossier_id}",
         "get", 404),
        (client.post("/api/v1/dossiers", headers=headers,
                     json={"customer_id": customer_id, "unit": unit}),
         "/api/v1/dossiers", "post", 409),
        (client.get("/api/v1/search?per_page=1000", headers=headers), "/api/v1/search", "get",
         422),
    ):
        conform.check(response, path, method, status)


def test_a_refused_token_gets_the_documented_error(client):
    conform = Conformance(_spec(client))
    refused = client.get("/api/v1/customers", headers={"Authorization": "Bearer nope"})
    conform.check(refused, "/api/v1/customers", status=401)


def test_audit_events_match_the_document(client, api):
    headers = api("auditor")
    conform = Conformance(_spec(client, headers))
    conform.check(client.get("/api/v1/audit", headers=headers), "/api/v1/audit")
