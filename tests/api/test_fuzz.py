"""The API fuzzed from its own OpenAPI document (issue 21): schemathesis generates requests
for every operation — valid ones and ones that break the schema — and sends them in
process (WSGI, nothing leaves the machine) with a token of every role in turn. No answer
may be a 500, and every error body must be the documented {"error": {"code", "message"}}.

A bounded number of examples per operation, fixed by a seed, keeps the run reproducible
and under two minutes on a loaded two-core machine; FUZZ_EXAMPLES raises it for a longer
hunt (`FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz.py`) and FUZZ_SEED draws others."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from archive import samples
from archive.extensions import db
from archive.services import work

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ROLES = ("officer", "staff", "head", "gmoffice", "legal", "gm", "auditor", "admin")
# Answers the API documents for conditions of the machine, not of the request.
DOCUMENTED_5XX = {503, 507}


@schemathesis.serializer("application/zip")
def _zip(ctx, value) -> dict:
    """A ZIP part is sent as the bytes generated for it (mostly not a ZIP at all)."""
    return {"data": value if isinstance(value, bytes) else str(value).encode("utf-8")}


def _error_shape(response) -> str:
    """What is wrong with an error response's body ('' when it is the documented shape)."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"no error object: {body!r:.200}"
    if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return f"error without code and message: {error!r:.200}"
    return ""


@pytest.fixture
def seeded(app, users, call, make_customer, make_dossier, file_doc):
    """Something for the ids the fuzzer tries (1 to 3): customers, dossiers, documents
    with a file and on paper, a loan waiting for approval, a legal hold."""
    dossier = make_dossier(make_customer("模糊测试"))
    make_dossier(make_customer("模糊测试二", department="KF"), room="1202")
    filed = file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf(
        "认购书", ["客户认购翠湖苑一套住宅。"]))])
    file_doc(dossier, "纸质来函", "其他", pages="2")
    db.session.commit()
    loan = call("officer", "POST", "/api/v1/loans", json={
        "dossier_id": dossier.id, "document_ids": [filed.id], "kind": "read",
        "purpose": "核对", "borrower": "staff", "days": 3})
    assert loan.status_code == 201, loan.json
    hold = call("officer", "POST", "/api/v1/holds", {"document_id": filed.id, "reason": "诉讼"})
    assert hold.status_code == 201, hold.json
    db.session.commit()


def test_the_api_survives_fuzzing_from_its_own_document(app, client, api, seeded):
    spec = client.get("/api/v1/openapi.json").json
    schema = schemathesis.openapi.from_dict(_near_the_seeded_ids(spec))
    with work.unit(db.session):
        tokens = [api(role)["Authorization"] for role in ROLES]
    db.session.commit()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(app, operation, mode, tokens, failures)
    assert not failures, "\n".join(sorted(set(failures))[:40])


def _near_the_seeded_ids(spec: dict) -> dict:
    """The document with every id in a path kept to 1-3, so that valid requests mostly
    find an object and reach the rules behind the look-up (invalid ones still try the
    rest: 0, negative numbers, text)."""
    for item in spec["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "path" and schema.get("type") == "integer":
                    schema["maximum"] = 3
    return spec


def _fuzz(app, operation, mode, tokens, failures) -> None:
    @seed(int(os.environ.get("FUZZ_SEED", "21")))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), token=st.sampled_from(tokens))
    def fuzz(case, token):
        # A request leaves no transaction open for the next (the fixture's app context
        # keeps one session across requests).
        db.session.remove()
        headers = {**(case.headers or {}), "Authorization": token}
        response = case.call(app=app, headers=headers)
        where = f"{case.method} {case.formatted_path}"
        if response.status_code >= 500 and response.status_code not in DOCUMENTED_5XX:
            failures.append(f"{response.status_code} from {where}: {case.as_curl_command()}")
        elif response.status_code >= 400:
            problem = _error_shape(response)
            if problem:
                failures.append(f"{response.status_code} from {where}: {problem}")

    try:
        fuzz()
    except Unsatisfiable:
        pass  # an operation with nothing to send wrong (no parameters, no body)
