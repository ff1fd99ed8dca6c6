"""Destruction through the API: a due batch proposed, approved by the GM-office director
who names two supervisors, executed before both; the content gone from storage, the
database file and the index; the register and certificate left; and every wrong step
refused with nothing changed."""

import io
import json
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from archive import clock, samples
from archive.extensions import db
from archive.models import AuditEvent, Document, RegisterEntry
from archive.models.retention import Destruction
from archive.services import destruction, indexing
from archive.services.search import SearchQuery, Visibility
from tests import databases
from tests.conftest import PASSWORDS

TOKEN = "销毁测试暗号甲乙丙"


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("冯投诉"))


@pytest.fixture
def complaint(dossier, file_doc):
    """A complaint record of 2024 (1 year, 002:19): due since 2025-01-10. Its text is long
    enough to fill overflow pages of the database (what a plain delete leaves behind)."""
    pdf = samples.make_pdf("投诉处理记录", [TOKEN] + [f"第{n}次回访：客户反映漏水，已处理完毕。"
                                                   for n in range(150)])
    return file_doc(dossier, "投诉处理记录 2024-01", "投诉", files=[("complaint.pdf", pdf)],
                    date="2024-01-10")


def _hits(text: str) -> int:
    """Hits for `text` in the index, seen by everyone (asked of the index itself: a search
    through the API would put the words into the audit log)."""
    return indexing.search_service().search(
        SearchQuery(text=text), Visibility(unrestricted=True)).total


def _files(root, pattern="*"):
    return [p for p in root.rglob(pattern) if p.is_file()]


def _propose(call, *ids, user="officer", reason="保管期满，经鉴定无保存价值"):
    return call(user, "POST", "/api/v1/destructions", {"items": list(ids), "reason": reason})


def _approve(call, batch, user="gmoffice", supervisors=("auditor", "legal")):
    request_id = batch["approvals"][-1]["id"]
    return call(user, "POST", f"/api/v1/approvals/{request_id}/approve",
                {"supervisors": list(supervisors), "note": "同意销毁"})


def _confirmations(*names, password=None):
    return {"supervisors": [{"username": n, "password": password or PASSWORDS[n]}
                            for n in names],
            "paper_method": "粉碎", "paper_place": "档案室"}


def _execute(call, batch, *names, user="officer", **kw):
    return call(user, "POST", f"/api/v1/destructions/{batch['id']}/execute",
                _confirmations(*(names or ("auditor", "legal")), **kw))


def _state(app):
    db.session.expire_all()
    storage = app.config["STORAGE_DIR"]
    return {
        "statuses": dict(db.session.execute(select(Document.id, Document.status)).all()),
        "register": db.session.execute(select(func.count()).select_from(RegisterEntry)).scalar(),
        "batches": dict(db.session.execute(select(Destruction.id, Destruction.status)).all()),
        "blobs": sorted(p.name for p in storage.rglob("*") if p.is_file()),
    }


def test_a_due_complaint_goes_from_proposal_to_a_certified_witnessed_destruction(
        app, call, complaint, dossier, file_doc):
    assert complaint.disposal_on == date(2025, 1, 10) and complaint.retention == "1年"
    kept = file_doc(dossier, "认购书", "销售", files=[(
        "kept.pdf", samples.make_pdf("认购书", ["另一份保留的文件，永久保存。"]))])
    assert _hits(TOKEN) == 1
    # The database, its write-ahead log, the index and storage, as a test run keeps them.
    root = app.config["STORAGE_DIR"].parent
    if not databases.ON_POSTGRES:  # only SQLite keeps the database under the test's root
        assert any(TOKEN.encode("utf-8") in p.read_bytes() for p in _files(root, "archive.db*"))
    assert any(TOKEN.encode("utf-8") in p.read_bytes() for p in _files(root / "index"))

    proposed = _propose(call, complaint.id)
    assert proposed.status_code == 201, proposed.json
    batch = proposed.json
    assert batch["status"]["key"] == "pending" and batch["number"].startswith("XH")
    approved = _approve(call, batch)
    assert approved.status_code == 200, approved.json
    assert approved.json["status"]["key"] == "approved"
    batch = call("officer", "GET", f"/api/v1/destructions/{batch['id']}").json
    assert batch["status"]["key"] == "approved"
    assert [s["username"] for s in batch["supervisors"]] == ["auditor", "legal"]

    done = _execute(call, batch)
    assert done.status_code == 200, done.json
    assert done.json["status"]["key"] == "done"
    assert [i["state"]["key"] for i in done.json["items"]] == ["destroyed"]
    entry = done.json["register"][0]
    sha = entry["files"][0]["sha256"]
    assert entry["title"] == "投诉处理记录 2024-01" and entry["retention"] == "1年"
    assert entry["supervisors"] == "郑审计、孙法务" and entry["executed_by"] == "李档案"

    # Gone: the blob, the text, every index hit, the download; the kept document is not.
    storage = app.config["STORAGE_DIR"]
    assert not any(p.name == sha for p in storage.rglob("*"))
    assert _hits(TOKEN) == 0
    db.session.expire_all()
    tomb = db.session.get(Document, complaint.id)
    assert tomb.status == "destroyed" and tomb.files[0].text == ""
    assert tomb.files[0].sha256 == sha  # the metadata stays
    assert db.session.get(Document, kept.id).status == "active"
    assert app.extensions["blob_store"].exists(kept.files[0].sha256)
    assert db.session.get(Document, complaint.id).dossier.status == "open"  # one is kept
    download = call("officer", "GET", f"/api/v1/documents/{complaint.id}/content")
    assert download.status_code == 409 and download.json["error"]["code"] == "destroyed"
    shown = call("officer", "GET", f"/api/v1/documents/{complaint.id}").json
    assert shown["status"] == "destroyed" and shown["files"][0]["sha256"] == sha

    # Unrecoverable from the live system: neither the database files nor the index.
    for path in _files(root):
        assert TOKEN.encode("utf-8") not in path.read_bytes(), path

    certificate = call("auditor", "GET", f"/api/v1/destructions/{batch['id']}/certificate.pdf")
    assert certificate.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(certificate.data)).pages)
    assert batch["number"] in text and sha in text.replace("\n", "")
    assert destruction.verify_register(db.session) == []
    events = db.session.execute(select(AuditEvent.action).where(
        AuditEvent.action.like("destruction.%"))).scalars().all()
    assert {"destruction.proposed", "destruction.approved", "destruction.started",
            "destruction.registered", "destruction.executed"} <= set(events)
    assert not any("Jz2026" in (e.details or "") for e in db.session.execute(
        select(AuditEvent)).scalars())  # passwords are never logged


def test_executing_a_finished_batch_is_refused(app, call, complaint):
    batch = _propose(call, complaint.id).json
    _approve(call, batch)
    assert _execute(call, batch).status_code == 200
    before = _state(app)
    again = _execute(call, batch)
    assert again.status_code == 409 and again.json["error"]["code"] == "finished"
    # Dropping an item of it is refused as finished too (it said 未批准: a black-box probe).
    drop = call("officer", "POST", f"/api/v1/destructions/{batch['id']}/items/{complaint.id}/drop",
                {"reason": "补撤"})
    assert drop.status_code == 409 and drop.json["error"]["code"] == "finished"
    assert "已执行完毕" in drop.json["error"]["message"]
    refused = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "destruction.drop_item")).scalars().all()
    assert [e.outcome for e in refused] == ["denied"]
    assert _state(app) == before


def test_what_may_not_be_destroyed_is_refused_when_proposed(app, call, dossier, file_doc,
                                                            complaint):
    permanent = file_doc(dossier, "购房合同", "签约", date="2001-01-01")
    not_due = file_doc(dossier, "投诉 2026", "投诉", date="2026-11-01")
    before = _state(app)
    for document, code in ((permanent, "permanent"), (not_due, "not_due")):
        refused = _propose(call, document.id)
        assert refused.status_code == 409 and refused.json["error"]["code"] == code
    hold = {"document_id": complaint.id, "reason": "诉讼保全（2026）粤0304民初1号"}
    # The legal office holds what it may read; another department's files are not found.
    assert call("legal", "POST", "/api/v1/holds", hold).status_code == 404
    held = call("officer", "POST", "/api/v1/holds", hold)
    assert held.status_code == 201, held.json
    refused = _propose(call, complaint.id)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "held"
    assert call("staff", "POST", "/api/v1/destructions",
                {"items": [complaint.id], "reason": "x"}).status_code == 403
    after = _state(app)
    assert after == before


def test_a_hold_placed_after_approval_stops_execution_until_lifted(app, call, complaint,
                                                                   dossier):
    batch = _propose(call, complaint.id).json
    _approve(call, batch)
    first = call("gmoffice", "POST", "/api/v1/holds", {"dossier_id": dossier.id, "reason": "诉讼"})
    second = call("officer", "POST", "/api/v1/holds",
                  {"customer_id": dossier.customer_id, "reason": "审计调阅"})
    before = _state(app)
    refused = _execute(call, batch)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "held"
    assert _state(app) == before
    call("gmoffice", "POST", f"/api/v1/holds/{first.json['id']}/lift", {"reason": "已结案"})
    # Free only when the last hold is lifted.
    assert _execute(call, batch).json["error"]["code"] == "held"
    call("officer", "POST", f"/api/v1/holds/{second.json['id']}/lift", {"reason": "审计结束"})
    assert _execute(call, batch).status_code == 200


def test_wrong_executions_are_refused_and_change_nothing(app, call, complaint):
    batch = _propose(call, complaint.id).json
    before = _state(app)
    unapproved = _execute(call, batch)
    assert unapproved.status_code == 409 and unapproved.json["error"]["code"] == "not_approved"
    _approve(call, batch)
    before = _state(app)
    cases = [
        (_confirmations("auditor", "legal", password="wrong-password"), 403,
         "bad_supervisor_password"),
        ({"supervisors": [{"username": "auditor", "password": PASSWORDS["auditor"]}]}, 422,
         "two_supervisors"),
        (_confirmations("auditor", "head"), 403, "not_designated"),
        (_confirmations("auditor", "officer"), 403, "supervisor_is_executor"),
        (_confirmations("auditor", "auditor"), 403, "two_supervisors"),
    ]
    for body, status, code in cases:
        response = call("officer", "POST", f"/api/v1/destructions/{batch['id']}/execute", body)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), body
    assert call("staff", "POST", f"/api/v1/destructions/{batch['id']}/execute",
                _confirmations("auditor", "legal")).status_code == 404
    assert _state(app) == before


def test_the_approver_must_name_two_proper_supervisors(app, call, complaint):
    batch = _propose(call, complaint.id).json
    before = _state(app)
    for supervisors, code in ((["auditor"], "two_supervisors"),
                              (["auditor", "auditor"], "two_supervisors"),
                              (["gmoffice", "legal"], "supervisor_is_approver"),
                              (["officer", "legal"], "supervisor_is_executor"),
                              (["auditor", "nobody"], "supervisor_unknown"),
                              (["auditor", "staff_public"], "supervisor_not_cleared")):
        refused = _approve(call, batch, supervisors=supervisors)
        assert refused.status_code == 422 and refused.json["error"]["code"] == code, supervisors
    assert _state(app) == before
    # Only the GM, a deputy GM or the GM-office director approves (002:946).
    assert _approve(call, batch, user="head").status_code in (403, 404)
    assert _approve(call, batch, user="gm").status_code == 200


def test_a_blob_shared_with_a_kept_document_survives(app, call, dossier, file_doc):
    pdf = samples.make_pdf("投诉回访", ["回访记录，内容相同的两份文件。"])
    old = file_doc(dossier, "投诉回访", "投诉", files=[("a.pdf", pdf)], date="2023-05-01")
    kept = file_doc(dossier, "回访存档", "其他", files=[("b.pdf", pdf)])
    batch = _propose(call, old.id).json
    _approve(call, batch)
    assert _execute(call, batch).status_code == 200
    db.session.expire_all()
    assert app.extensions["blob_store"].exists(kept.files[0].sha256)
    assert call("officer", "GET", f"/api/v1/documents/{kept.id}/content").status_code == 200
    assert db.session.get(Document, old.id).status == "destroyed"


def test_the_register_refuses_changes(app, call, complaint):
    batch = _propose(call, complaint.id).json
    _approve(call, batch)
    _execute(call, batch)
    with pytest.raises(Exception, match="销毁清册"):
        db.session.execute(db.text("UPDATE destruction_register SET title = 'x'"))
    db.session.rollback()
    with pytest.raises(Exception, match="销毁清册"):
        db.session.execute(db.text("DELETE FROM destruction_register"))
    db.session.rollback()
    assert json.loads(db.session.execute(db.text(
        "SELECT files_json FROM destruction_register")).scalar())[0]["name"] == "complaint.pdf"


def test_a_dossier_whose_last_document_is_destroyed_counts_as_destroyed(app, call, dossier,
                                                                       complaint):
    batch = _propose(call, complaint.id).json
    _approve(call, batch)
    assert _execute(call, batch).status_code == 200
    shown = call("officer", "GET", f"/api/v1/dossiers/{dossier.id}").json
    assert shown["status"] == "destroyed"
    late = call("officer", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                data={"title": "迟到", "category": "其他"})
    assert late.status_code == 409 and late.json["error"]["code"] == "destroyed"


@pytest.fixture
def limited_app(template_root, tmp_path):
    """Rate limiting on, as in production, with a small per-address limit."""
    from archive import create_app
    from config import TestConfig

    databases.copy(template_root, tmp_path)
    config = TestConfig(tmp_path)
    config.RATELIMIT_ENABLED = True
    config.LOGIN_LIMIT_PER_IP = "3 per 15 minutes"
    application = create_app(config)
    with application.app_context():
        yield application
    application.extensions["search"].close()


def test_supervisor_passwords_are_rate_limited_like_logins(limited_app):
    from archive.models import User
    from archive.services import accounts, approvals, customers, filing, work
    from tests.conftest import NUMBER_FORMAT

    users = {u.username: u for u in db.session.query(User).all()}
    with work.unit(db.session):
        customer = customers.create_customer(db.session, users["officer"], {
            "name": "限流客户", "department": users["staff"].department_id})
        dossier = customers.create_dossier(db.session, users["officer"], {
            "customer_id": customer.id, "project": "翠湖苑", "building": "1", "unit_no": "1",
            "room": "101"}, number_format=NUMBER_FORMAT)
        old = filing.file_document(db.session, users["officer"], dossier.id, {
            "title": "投诉", "category": "投诉", "date": "2020-01-01"}, [],
            store=limited_app.extensions["blob_store"],
            limits=filing.Limits.from_config(limited_app.config))
        batch = destruction.propose(db.session, users["officer"],
                                    {"items": [old.id], "reason": "期满"})
        approvals.approve(db.session, users["gmoffice"], destruction.requests_of(batch)[0].id,
                          "", {"supervisors": ["auditor", "legal"]})
        token = accounts.create_token(db.session, users["officer"])
        batch_id = batch.id
    client = limited_app.test_client()
    url = f"/api/v1/destructions/{batch_id}/execute"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        wrong = client.post(url, json=_confirmations("auditor", "legal", password="guess-1"),
                            headers=headers)
        assert wrong.status_code == 403
    blocked = client.post(url, json=_confirmations("auditor", "legal"), headers=headers)
    assert blocked.status_code == 429
    db.session.expire_all()
    assert db.session.get(Document, old.id).status == "active"
    refusals = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "destruction.execute")).scalars().all()
    assert len(refusals) == 3 and not any("guess-1" in e.details for e in refusals)


def test_a_batch_whose_every_item_was_dropped_is_not_executed(app, call, complaint):
    """Dropping every item of an approved batch left nothing to destroy; executing it
    marked it 已销毁 all the same (found by a probe of the running app)."""
    batch = _propose(call, complaint.id).json
    _approve(call, batch)
    dropped = call("officer", "POST",
                   f"/api/v1/destructions/{batch['id']}/items/{complaint.id}/drop",
                   {"reason": "发现仍在诉讼中"})
    assert dropped.status_code == 200, dropped.json
    # It ends there, not 已批准 for good (a design question from a black-box probe).
    assert dropped.json["status"]["key"] == "emptied"
    assert dropped.json["finished_at"] is not None
    [event] = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "destruction.emptied")).scalars().all()
    assert event.object_id == str(batch["id"])
    before = _state(app)
    answer = _execute(call, batch)
    assert answer.status_code == 409 and answer.json["error"]["code"] == "empty"
    again = call("officer", "POST", f"/api/v1/destructions/{batch['id']}/items/{complaint.id}/drop",
                 {"reason": "再撤一次"})
    assert again.status_code == 409 and again.json["error"]["code"] == "empty"
    assert _state(app) == before
    # Its document is free for a new batch.
    assert _propose(call, complaint.id).status_code == 201


def test_dropping_some_items_keeps_the_batch_approved(app, call, complaint, dossier, file_doc):
    other = file_doc(dossier, "投诉记录 2", "投诉", date="2020-01-01")
    batch = _propose(call, complaint.id, other.id).json
    _approve(call, batch)
    dropped = call("officer", "POST",
                   f"/api/v1/destructions/{batch['id']}/items/{complaint.id}/drop",
                   {"reason": "发现仍在诉讼中"})
    assert dropped.json["status"]["key"] == "approved"
