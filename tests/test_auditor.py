"""The auditors' view of the trail: the /audit page, its CSV export and GET /api/v1/audit.
Auditors and the GM read it, nobody else does, and reading it is itself recorded."""

import csv
import io
import re
from datetime import timedelta

import pytest

from archive import clock
from archive.extensions import db
from archive.models import AuditEvent

AUDIT_ROUTES = ("/audit", "/audit/export.csv")
READERS = ("auditor", "gm")
OTHERS = ("officer", "staff", "head", "gmoffice", "legal", "admin", "service_head")


def _last(action):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(action=action).order_by(
        AuditEvent.seq.desc()).first()


@pytest.mark.parametrize("username", READERS)
def test_auditors_and_the_gm_read_the_trail(app, login_as, api, username):
    client = login_as(username)
    page = client.get("/audit")
    assert page.status_code == 200 and "login.succeeded" in page.get_data(as_text=True)
    export = client.get("/audit/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert export.get_data(as_text=True).lstrip("\ufeff").startswith("seq,time,actor,action")
    response = app.test_client().get("/api/v1/audit", headers=api(username))
    assert response.status_code == 200 and response.get_json()["events"]


@pytest.mark.parametrize("username", OTHERS)
def test_everyone_else_is_refused(app, login_as, api, username):
    client = login_as(username)
    for path in AUDIT_ROUTES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "login.succeeded" not in response.get_data(as_text=True)
    response = app.test_client().get("/api/v1/audit", headers=api(username))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    denied = _last("access.denied")
    assert (denied.actor_name, denied.outcome) == (username, "denied")
    assert '"permission": "audit.view"' in denied.details


def test_the_auditors_own_reads_are_audited(app, login_as, api):
    client = login_as("auditor")
    client.get("/audit?actor=staff")
    viewed = _last("audit.viewed")
    assert viewed.actor_name == "auditor" and '"actor": "staff"' in viewed.details
    client.get("/audit/export.csv?action=login")
    exported = _last("audit.exported")
    assert exported.actor_name == "auditor" and '"action": "login"' in exported.details
    app.test_client().get("/api/v1/audit?object=5", headers=api("auditor"))
    assert '"object": "5"' in _last("audit.viewed").details


def test_filters_by_actor_action_object_and_time(app, login_as, api, make_customer,
                                                make_dossier):
    dossier = make_dossier(make_customer())
    staff = login_as("staff")
    staff.get(f"/dossiers/{dossier.id}")
    headers = api("auditor")
    client = app.test_client()

    def events(query):
        response = client.get(f"/api/v1/audit?{query}", headers=headers)
        assert response.status_code == 200, response.data
        return response.get_json()["events"]

    by_actor = events("actor=staff")
    assert by_actor and {e["actor"] for e in by_actor} == {"staff"}
    by_action = events("action=dossier.")
    assert {e["action"] for e in by_action} >= {"dossier.created", "dossier.viewed"}
    assert all(e["action"].startswith("dossier.") for e in by_action)
    by_object = events(f"object_type=dossier&object={dossier.id}")
    assert {(e["object_type"], e["object_id"]) for e in by_object} == {("dossier", str(dossier.id))}
    assert [e["action"] for e in events(f"actor=staff&action=dossier.viewed&object={dossier.id}")
            ] == ["dossier.viewed"]
    today = clock.today()
    assert events(f"from={today}&to={today}&actor=staff")
    assert events(f"to={today - timedelta(days=1)}") == []
    assert events(f"from={today + timedelta(days=1)}") == []
    bad = client.get("/api/v1/audit?from=yesterday", headers=headers)
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_json()["error"]["message"]

    page = login_as("auditor").get(f"/audit?actor=staff&object={dossier.id}")
    body = page.get_data(as_text=True)
    assert 'data-action="dossier.viewed"' in body and 'data-action="login.succeeded"' not in body


@pytest.mark.parametrize("bound", ["from=0001-01-01", "to=9999-12-31T23:00:00-05:00",
                                   "to=9999-12-31T23:00:00%2B00:00", "from=1899-12-31"])
def test_a_date_outside_the_calendar_is_refused_not_a_crash(app, login_as, api, bound):
    """A zone shift would carry these past the years a time can hold (it was a 500)."""
    response = app.test_client().get(f"/api/v1/audit?{bound}", headers=api("auditor"))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "out_of_range"
    client = login_as("auditor")
    for path in AUDIT_ROUTES:
        page = client.get(f"{path}?{bound}")
        assert page.status_code == 422 and "日期超出范围" in page.get_data(as_text=True)


def test_csv_export_follows_the_filters(app, login_as):
    login_as("staff")
    client = login_as("auditor")
    rows = list(csv.reader(io.StringIO(
        client.get("/audit/export.csv?action=login.succeeded").get_data(as_text=True)
        .lstrip("\ufeff"))))
    assert rows[0][:4] == ["seq", "time", "actor", "action"]
    assert rows[1:] and {r[3] for r in rows[1:]} == {"login.succeeded"}
    assert {"staff", "auditor"} <= {r[2] for r in rows[1:]}
    assert all(len(r[9]) == 64 for r in rows[1:])  # each row carries its chain hash


def test_auditor_cannot_change_anything(app, login_as, api, make_customer, make_dossier,
                                        departments):
    """Read-only: every write the API and the forms offer is refused (the route matrix
    checks every POST route; these are the main ones, with nothing changed)."""
    from tests.conftest import archive_state

    customer = make_customer()
    dossier = make_dossier(customer)
    before = archive_state(app)
    client = login_as("auditor")
    headers = api("auditor")
    responses = [
        client.post("/customers/new", data={"name": "审计员客户", "department": departments["XS"].id}),
        client.post(f"/customers/{customer.id}/dossiers/new", data={
            "project": "翠湖苑", "building": "1", "unit_no": "1", "room": "1"}),
        client.post(f"/dossiers/{dossier.id}/upload", data={"title": "x", "category": "其他"}),
        client.post(f"/dossiers/{dossier.id}/references", data={"to_dossier_id": dossier.id}),
        app.test_client().post("/api/v1/customers", headers=headers, json={
            "name": "审计员客户", "department": departments["XS"].id}),
        app.test_client().post("/api/v1/dossiers", headers=headers, json={
            "customer_id": customer.id, "project": "翠湖苑", "building": "1", "unit_no": "1",
            "room": "1"}),
        app.test_client().post(f"/api/v1/dossiers/{dossier.id}/documents", headers=headers,
                               data={"title": "x", "category": "其他"}),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    assert archive_state(app) == before


def test_audit_page_pages_through_every_event(app, session, users, login_as):
    from archive.models import AuditEvent
    from archive.services import audit as audit_service

    for i in range(230):
        audit_service.record(session, users["staff"], "document.viewed", ("document", i))
    session.commit()
    client = login_as("auditor")
    first = client.get("/audit").get_data(as_text=True)
    total = int(re.search(r"<small>(\d+)</small>", first).group(1))
    assert total >= session.query(AuditEvent).count() - 1 >= 230
    pages = -(-total // 100)
    assert f"1 / {pages}" in first and first.count("<tr") == 101
    last = client.get(f"/audit?page={pages}").get_data(as_text=True)
    # The first view was itself recorded: one event more than it counted.
    assert f"{pages} / {pages}" in last and last.count("<tr") == 1 + total + 1 - 100 * (pages - 1)
