"""Retention and destruction through the pages: the review queue lists what is due, a
batch is proposed from it, the GM-office director approves naming two supervisors in the
inbox form, both confirm with their passwords on the execution page (a wrong one changes
nothing), and the tombstone, the 卷内目录 and 备考表, and the register show the destruction."""

import pytest
from sqlalchemy import select

from archive import clock, samples
from archive.extensions import db
from archive.models import ApprovalRequest, Document
from archive.models.retention import Destruction
from tests.conftest import PASSWORDS


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def due(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("韩投诉"))
    pdf = samples.make_pdf("投诉记录", ["业主投诉电梯噪音，已于当月处理。"])
    old = file_doc(dossier, "电梯噪音投诉", "投诉", files=[("ts.pdf", pdf)], date="2023-03-01")
    kept = file_doc(dossier, "认购书", "销售", date="2023-03-01")
    return dossier, old, kept


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_from_the_review_queue_to_a_witnessed_destruction(client, login_as, due):
    dossier, old, kept = due
    login_as("officer")
    queue = _page(client, "/retention/due")
    assert "电梯噪音投诉" in queue and "认购书" not in queue  # 销售 is permanent (000:850)
    assert "2024-03-01" in queue  # one year from the complaint's date (002:19)
    proposed = client.post("/destructions", data={"items": [str(old.id)],
                                                  "reason": "投诉记录保管一年期满"})
    assert proposed.status_code == 302
    batch = db.session.execute(select(Destruction)).scalar_one()
    request = db.session.execute(select(ApprovalRequest).where(
        ApprovalRequest.destruction_id == batch.id)).scalar_one()

    login_as("gmoffice")
    inbox = _page(client, "/approvals")
    assert batch.number in inbox and 'name="supervisor1"' in inbox
    assert '<option value="auditor">' in inbox and '<option value="gmoffice">' not in inbox
    approved = client.post(f"/approvals/{request.id}/approve",
                           data={"supervisor1": "auditor", "supervisor2": "legal", "note": "同意"})
    assert approved.status_code == 302

    login_as("officer")
    page = _page(client, f"/destructions/{batch.id}")
    assert "执行销毁" in page and 'value="auditor"' in page
    wrong = client.post(f"/destructions/{batch.id}/execute", data={
        "supervisor1_username": "auditor", "supervisor1_password": "wrong-password",
        "supervisor2_username": "legal", "supervisor2_password": PASSWORDS["legal"]})
    assert wrong.status_code == 403 and "密码不正确" in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Document, old.id).status == "active"
    done = client.post(f"/destructions/{batch.id}/execute", data={
        "supervisor1_username": "auditor", "supervisor1_password": PASSWORDS["auditor"],
        "supervisor2_username": "legal", "supervisor2_password": PASSWORDS["legal"]})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Document, old.id).status == "destroyed"

    tomb = _page(client, f"/documents/{old.id}")
    assert f"销毁清单 {batch.number}" in tomb and "郑审计、孙法务" in tomb
    assert "已销毁（" + batch.number in _page(client, f"/dossiers/{dossier.id}/index")
    assert batch.number in _page(client, f"/dossiers/{dossier.id}/remarks")
    register = _page(client, "/destructions/register")
    assert "电梯噪音投诉" in register and old.files[0].sha256 in register
    certificate = client.get(f"/destructions/{batch.id}/certificate.pdf")
    assert certificate.status_code == 200 and certificate.data.startswith(b"%PDF")


def test_schedule_page_is_read_by_all_and_changed_by_the_administrator(client, login_as, due):
    _dossier, old, _kept = due
    login_as("staff")
    assert "投诉" in _page(client, "/retention/schedule")
    assert client.post("/retention/schedule", data={"category": "投诉",
                                                    "retention": "3年"}).status_code == 403
    login_as("admin")
    assert 'name="retention"' in _page(client, "/retention/schedule")
    changed = client.post("/retention/schedule", data={
        "category": "投诉", "retention": "3年", "counts_from": "document_date",
        "important_retention": "长期"})
    assert changed.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Document, old.id).retention,
            str(db.session.get(Document, old.id).disposal_on)) == ("3年", "2026-03-01")


def test_closing_a_dossier_stops_filing_into_it(client, login_as, due, file_doc):
    dossier, _old, _kept = due
    login_as("officer")
    assert client.post(f"/dossiers/{dossier.id}/close", data={}).status_code == 302
    assert "不再归入新文件" in _page(client, f"/dossiers/{dossier.id}")
    refused = client.post(f"/dossiers/{dossier.id}/upload", data={"title": "迟到的文件",
                                                                  "category": "其他"})
    assert refused.status_code in (409, 422) and "已于" in refused.get_data(as_text=True)
