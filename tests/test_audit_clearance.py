"""An auditor reads every event but not the details of those about what is above their
clearance (issue 14, finding 16): a 机密 auditor sees that a 绝密 document was filed and
viewed, by whom and when, but not its title, file names or dossier number."""

import pytest
from flask import g

from archive import samples
from archive.extensions import db
from archive.models import AuditEvent
from archive.services import audit

SECRET_TITLE = "绝密收购意向书"
PDF = samples.make_pdf(SECRET_TITLE, ["董事会决议"])


@pytest.fixture
def top_secret(users, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("郑绝密"), room="9901")
    document = file_doc(dossier, SECRET_TITLE, "其他", files=[("收购意向.pdf", PDF)],
                        classification="绝密", actor="gm")
    low = file_doc(dossier, "普通维修记录", "维修", actor="officer")
    db.session.commit()
    return dossier, document, low


def _about(events, document):
    return [e for e in events if e["object_type"] == "document"
            and e["object_id"] == str(document.id)]


def test_the_auditor_sees_the_event_but_not_the_details_above_their_clearance(
        client, api, top_secret):
    dossier, document, low = top_secret
    g.pop("_login_user", None)
    events = client.get("/api/v1/audit", headers=api("auditor")).get_json()["events"]
    secret = _about(events, document)
    assert [e["action"] for e in secret] == ["document.uploaded"]
    assert secret[0]["actor"] == "gm" and secret[0]["details_withheld"] is True
    assert secret[0]["details"] is None and secret[0]["hash"]
    body = str(events)
    assert SECRET_TITLE not in body and "收购意向.pdf" not in body
    # What the auditor may open keeps its details, dossier number included.
    shown = _about(events, low)[0]
    assert shown["details_withheld"] is False and dossier.number in shown["details"]


def test_the_gm_reads_every_detail(client, api, top_secret):
    _, document, _ = top_secret
    g.pop("_login_user", None)
    events = client.get("/api/v1/audit", headers=api("gm")).get_json()["events"]
    uploaded = _about(events, document)[0]
    assert uploaded["details_withheld"] is False and "收购意向.pdf" in uploaded["details"]


def test_the_audit_page_and_export_withhold_the_same(app, login_as, top_secret):
    _, document, _ = top_secret
    client = login_as("auditor")
    page = client.get("/audit").get_data(as_text=True)
    assert audit.WITHHELD in page and "收购意向.pdf" not in page
    export = client.get("/audit/export.csv").get_data(as_text=True)
    assert audit.WITHHELD in export and "收购意向.pdf" not in export
    # Withholding hides nothing from the chain: it is complete and verifies.
    assert audit.verify(db.session).ok
    stored = db.session.query(AuditEvent).filter_by(object_id=str(document.id),
                                                    action="document.uploaded").one()
    assert "收购意向.pdf" in stored.details


def test_withheld_covers_level_changes_about_hidden_documents(app, client, api, top_secret):
    _, document, _ = top_secret
    g.pop("_login_user", None)
    asked = client.post(f"/api/v1/documents/{document.id}/classification",
                        headers=api("gm"), json={"to": "secret", "reason": f"降为秘密：{SECRET_TITLE}"})
    assert asked.status_code == 201, asked.get_json()
    g.pop("_login_user", None)
    events = client.get("/api/v1/audit", headers=api("auditor")).get_json()["events"]
    change = [e for e in events if e["action"] == "classification.requested"]
    assert change and change[0]["details_withheld"] is True
    assert SECRET_TITLE not in str(events)
