"""What a review of the destruction and transfer work found, each with its test: a late
OCR result, a hold on a merged customer, a loan waiting at the counter, department
custody, a deleted register row, an extension decided at appraisal, a batch's titles,
the supervisors' view and the approver who would execute."""

import pytest
from sqlalchemy import select

from archive import clock, samples
from archive.extensions import db
from archive.models import Document, Job
from archive.models.retention import LegalHold
from archive.services import destruction, jobs, ocr, work
from tests.api.test_destruction_api import _approve, _confirmations, _execute, _propose


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("审查客户"))


def _destroyed(call, document):
    batch = _propose(call, document.id).json
    _approve(call, batch)
    assert _execute(call, batch).status_code == 200
    return batch


def test_an_ocr_result_arriving_after_the_destruction_is_dropped(call, dossier, file_doc):
    scan = file_doc(dossier, "投诉扫描件", "投诉", files=[("scan.png", samples.make_png(["投诉"]))],
                    date="2024-01-10")
    job_id = db.session.execute(select(Job.id)).scalars().first()
    with work.unit(db.session):
        jobs.claim(db.session, job_id, "w1", 600)
    _destroyed(call, scan)
    with work.unit(db.session):
        kept = jobs.complete_ocr(db.session, job_id, "w1",
                                 ocr.Result(text="销毁后仍可读的文字", pages=1, confidence=0.9))
    assert kept is None
    db.session.expire_all()
    assert db.session.get(Document, scan.id).files[0].text == ""


def test_a_hold_on_a_customer_merged_away_still_covers_its_files(call, make_customer,
                                                                 make_dossier, file_doc):
    kept = make_customer("合并后客户", id_number="")
    merged = make_customer("被合并客户", id_number="")
    old = file_doc(make_dossier(merged, room="901"), "投诉", "投诉", date="2020-01-01")
    call("officer", "POST", "/api/v1/holds", {"customer_id": merged.id, "reason": "诉讼保全"})
    done = call("officer", "POST", f"/api/v1/customers/{merged.id}/merge",
                {"into": kept.code, "reason": "同一人"})
    assert done.status_code == 200, done.json
    refused = _propose(call, old.id)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "held"


def test_what_may_not_leave_the_counter_or_the_department_is_not_destroyed(call, dossier,
                                                                          file_doc):
    paper = file_doc(dossier, "投诉原件", "投诉", date="2020-01-01", pages="2")
    loan = call("staff", "POST", "/api/v1/loans", {"dossier_id": dossier.id, "kind": "out",
                                                   "purpose": "核对", "days": 3,
                                                   "document_ids": [paper.id]}).json
    for user in ("head", "gmoffice"):
        call(user, "POST", f"/api/v1/approvals/{loan['approvals'][-1]['id']}/approve")
    waiting = _propose(call, paper.id)
    assert waiting.status_code == 409 and waiting.json["error"]["code"] == "on_loan"
    held = file_doc(dossier, "部门投诉记录", "投诉", actor="staff", date="2020-01-01")
    outside = _propose(call, held.id)
    assert outside.status_code == 409 and outside.json["error"]["code"] == "not_in_archive"


def test_a_deleted_register_row_is_reported(call, dossier, file_doc):
    a = file_doc(dossier, "投诉甲", "投诉", date="2020-01-01")
    _destroyed(call, a)
    assert destruction.verify_register(db.session) == []
    # Someone with the database's keys removes the append-only guard first.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ALTER TABLE destruction_register "
                                   "DISABLE TRIGGER destruction_register_append_only"))
    else:
        db.session.execute(db.text("DROP TRIGGER destruction_register_no_delete"))
    db.session.execute(db.text("DELETE FROM destruction_register"))
    db.session.commit()
    problems = destruction.verify_register(db.session)
    assert any("已不存在" in p for p in problems) and any("没有记录" in p for p in problems)


def test_an_extension_decided_at_appraisal_stands(call, dossier, file_doc):
    old = file_doc(dossier, "投诉记录", "投诉", date="2024-01-10")
    call("officer", "POST", f"/api/v1/documents/{old.id}/appraisals",
         {"decision": "extend", "until": "2030-01-01", "opinion": "涉诉，延期"})
    call("admin", "PUT", "/api/v1/retention/schedule", {"category": "投诉", "retention": "2年"})
    body = call("officer", "GET", f"/api/v1/documents/{old.id}").json
    assert (body["disposal_on"], body["disposal_unconfirmed"]) == ("2030-01-01", False)


def test_a_batch_shows_its_titles_only_to_who_may_read_every_item(call, dossier, file_doc):
    secret = file_doc(dossier, "秘密协议（待移交）", "其他", actor="head", classification="2")
    batch = call("head", "POST", "/api/v1/transfers", {"items": [secret.id]}).json
    assert call("staff_public", "GET", f"/api/v1/transfers/{batch['id']}").status_code == 404
    listed = call("staff_public", "GET", "/api/v1/transfers").json["transfers"]
    assert batch["id"] not in [b["id"] for b in listed]


def test_supervisors_see_their_batch_and_the_approver_does_not_execute(call, dossier,
                                                                       file_doc):
    old = file_doc(dossier, "投诉", "投诉", date="2020-01-01")
    batch = _propose(call, old.id).json
    _approve(call, batch)
    assert call("legal", "GET", f"/api/v1/destructions/{batch['id']}").status_code == 200
    own = call("gmoffice", "POST", f"/api/v1/destructions/{batch['id']}/execute",
               _confirmations("auditor", "legal"))
    assert own.status_code == 403 and own.json["error"]["code"] == "executor_is_approver"


def test_an_approver_not_cleared_for_an_item_is_refused(call, dossier, file_doc, users):
    from archive.models import ApprovalStep, User

    confidential = file_doc(dossier, "机密投诉记录", "投诉", date="2020-01-01",
                            classification="3")
    batch = _propose(call, confidential.id).json
    with work.unit(db.session):
        db.session.get(User, users["gmoffice"].id).clearance = 2  # 秘密 only
    refused = _approve(call, batch)
    assert refused.status_code == 403 and "密级" in refused.json["error"]["message"]
    db.session.expire_all()
    assert db.session.execute(select(ApprovalStep.decision)).scalars().all() == [None]
    assert _approve(call, batch, user="gm",
                    supervisors=("auditor", "service_head")).status_code == 200


def test_a_destroyed_document_cannot_be_put_on_hold(call, dossier, file_doc):
    """Only its tombstone is left: a hold on it would protect nothing (it was accepted)."""
    complaint = file_doc(dossier, "投诉记录", "投诉", date="2020-01-01")
    _destroyed(call, complaint)
    before = db.session.execute(select(LegalHold.id)).scalars().all()
    refused = call("officer", "POST", "/api/v1/holds",
                   {"document_id": complaint.id, "reason": "诉讼"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "destroyed"
    assert "已销毁" in refused.json["error"]["message"]
    db.session.expire_all()
    assert db.session.execute(select(LegalHold.id)).scalars().all() == before
    # Its dossier still may be held: what is filed there later is kept.
    assert call("officer", "POST", "/api/v1/holds",
                {"dossier_id": dossier.id, "reason": "诉讼"}).status_code == 201
