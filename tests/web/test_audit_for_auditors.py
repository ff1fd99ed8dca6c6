"""The audit log read by a Chinese auditor (issue 18): actions and object types by their
Chinese names, objects named within the auditor's clearance, details as labelled fields,
filters by action, outcome and person, a button running the same chain check as
`flask verify-audit`, and refused uploads and writes on the record."""

import csv
import io
import json

from sqlalchemy import select, text

from archive import samples
from archive.extensions import db
from archive.models import AuditEvent
from tests.conftest import archive_state

PDF = samples.make_pdf("认购书", ["认购书正文。"])


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    found = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.seq)).scalars().all()
    db.session.commit()
    return found


def _rows(page: str) -> list[str]:
    return page.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]


def test_actions_objects_and_details_read_in_chinese(login_as, make_customer, make_dossier,
                                                     file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, "认购书", "销售", files=[("认购书.pdf", PDF)])
    file_doc(dossier, "和解协议", "其他", classification="绝密", actor="gm")
    page = login_as("auditor").get("/audit?action=document.uploaded").get_data(as_text=True)
    rows = _rows(page)
    assert len(rows) == 2
    seen = next(r for r in rows if "认购书" in r)
    assert "归档文件" in seen and "文件 翠湖苑-3栋2单元1201 a-1《认购书》" in seen
    assert "<b>顺序号</b>：1" in seen and "<b>档案</b>：翠湖苑-3栋2单元1201" in seen
    # The 绝密 document is beyond the auditor's clearance: not named, details withheld.
    hidden = next(r for r in rows if r is not seen)
    assert "和解协议" not in page and "隐去" in hidden
    assert "<option value=\"document.uploaded\" selected>归档文件</option>" in page


def test_filters_by_outcome_and_person(app, login_as):
    client = app.test_client()
    client.post("/login", data={"username": "staff", "password": "wrong-password-1"})
    login_as("staff")
    auditor = login_as("auditor")
    failed = auditor.get("/audit?outcome=denied").get_data(as_text=True)
    assert _rows(failed) and all("被拒" in r for r in _rows(failed))
    assert "登录失败" in failed
    mine = auditor.get("/audit?person=王销售").get_data(as_text=True)
    assert _rows(mine) and all(">staff<" in r for r in _rows(mine))
    before = archive_state(app)
    bad = auditor.get("/audit?outcome=maybe")
    assert bad.status_code == 422 and "结果只能是" in bad.get_data(as_text=True)
    assert archive_state(app) == before


def test_the_csv_keeps_the_codes(login_as):
    client = login_as("auditor")
    rows = list(csv.reader(io.StringIO(client.get("/audit/export.csv").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert "login.succeeded" in {r[3] for r in rows[1:]}


def test_the_verify_button_runs_the_chain_check(app, login_as):
    client = login_as("auditor")
    assert 'href="/audit/verify"' in client.get("/audit").get_data(as_text=True)
    ok = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-chain="ok"' in ok and "审计链完整" in ok
    assert json.loads(_events("audit.verified")[-1].details)["ok"] is True
    victim = _events("login.succeeded")[0]
    db.session.execute(text("UPDATE audit_events SET actor_name = 'nobody' WHERE id = :id"),
                       {"id": victim.id})
    db.session.commit()
    # An event before the last signed checkpoint is re-hashed by the full check (the
    # default walks from that checkpoint: docs/audit.md).
    broken = client.get("/audit/verify?full=1").get_data(as_text=True)
    assert 'data-chain="broken"' in broken and f"事件 #{victim.seq} 的内容被篡改" in broken
    cli = app.test_cli_runner().invoke(args=["verify-audit", "--full"])
    assert cli.exit_code == 1 and f"事件 #{victim.seq} 的内容被篡改" in cli.output
    assert login_as("staff").get("/audit/verify").status_code == 403


def test_a_refused_upload_is_on_the_record(app, login_as, make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    client = login_as("officer")
    before = archive_state(app)
    response = client.post(f"/dossiers/{dossier.id}/upload", data={
        "title": "", "category": "销售", "file": (io.BytesIO(PDF), "认购书.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert archive_state(app) == before
    event = _events("request.refused")[-1]
    details = json.loads(event.details)
    assert event.actor_name == "officer" and event.outcome == "denied"
    assert details["path"] == f"/dossiers/{dossier.id}/upload" and details["status"] == 422
    assert details["message"] == "请填写题名" and details["files"] == ["认购书.pdf"]


def test_refused_writes_on_the_api_and_on_pages_are_on_the_record(app, call, login_as,
                                                                  departments):
    response = call("officer", "POST", "/api/v1/customers", json={
        "name": "张伟", "department": departments["XS"].id, "phone": "139"})
    assert response.status_code == 422
    details = json.loads(_events("request.refused")[-1].details)
    assert details["path"] == "/api/v1/customers" and "联系电话格式不正确" in details["message"]
    # A page that flashes the reason and sends the browser back.
    admin = login_as("admin")
    assert admin.post("/admin/calendar", data={"date": "not-a-day", "kind": "holiday",
                                               "name": "假日"}).status_code == 302
    details = json.loads(_events("request.refused")[-1].details)
    assert details["path"] == "/admin/calendar" and details["status"] == 302


def test_a_refusal_recorded_already_is_not_recorded_twice(login_as, make_customer,
                                                          make_dossier):
    dossier = make_dossier(make_customer(department="KF"))
    before = len(_events("request.refused"))
    response = login_as("staff").post(f"/dossiers/{dossier.id}/upload", data={"title": "x"})
    assert response.status_code == 404
    assert _events("access.denied")[-1].actor_name == "staff"
    assert len(_events("request.refused")) == before
