"""An auditor reads every event but not the details of those about what is above their
clearance (issue 14, finding 16): a 机密 auditor sees that a 绝密 document was filed and
viewed, by whom and when, but not its title, file names or dossier number."""

import pytest
from flask import g

from archive import clock, samples
from archive.extensions import db
from archive.models import AuditEvent
from archive.services import audit, work

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
    # The GM office decides a lowering: one of it must be designated for a 绝密 document,
    # or nobody could decide the request and it is refused (approvals._require_routable).
    designated = client.post("/api/v1/designations", headers=api("gm"),
                             json={"user": "gmoffice", "document_id": document.id})
    assert designated.status_code == 201, designated.get_json()
    g.pop("_login_user", None)
    asked = client.post(f"/api/v1/documents/{document.id}/classification",
                        headers=api("gm"), json={"to": "secret", "reason": f"降为秘密：{SECRET_TITLE}"})
    assert asked.status_code == 201, asked.get_json()
    g.pop("_login_user", None)
    events = client.get("/api/v1/audit", headers=api("auditor")).get_json()["events"]
    change = [e for e in events if e["action"] == "approval.requested"]
    assert change and change[0]["details_withheld"] is True
    assert SECRET_TITLE not in str(events)


def _audit(client, api, user="auditor", **query):
    g.pop("_login_user", None)
    return client.get("/api/v1/audit", query_string=query, headers=api(user)).get_json()["events"]


def test_a_reference_to_a_hidden_dossier_does_not_name_it(app, client, api, make_customer,
                                                         make_dossier):
    # Two customers: one customer's dossiers already refer to each other (000:738).
    low = make_dossier(make_customer("钱参照"), room="0101", actor="gm")
    secret = make_dossier(make_customer("钱参照二"), room="0102", actor="gm",
                          classification="绝密")
    db.session.commit()
    g.pop("_login_user", None)
    made = client.post(f"/api/v1/dossiers/{low.id}/references", headers=api("gm"),
                       json={"to_dossier_id": secret.id})
    assert made.status_code == 201, made.get_json()
    events = _audit(client, api)
    assert [e for e in events if e["action"] == "dossier.referenced"][0]["details_withheld"]
    assert secret.number not in str(events)


def test_withheld_details_cannot_be_guessed_from_the_event_hash(app, client, api,
                                                                make_customer, make_dossier):
    """Dossier numbers follow a pattern: without a secret salt in the hash, an auditor
    could hash every candidate number and find the withheld one."""
    import hashlib
    import json
    from datetime import datetime

    secret = make_dossier(make_customer("孙绝密"), building="7", unit_no="2", room="1203",
                          actor="gm", classification="绝密")
    db.session.commit()
    events = _audit(client, api)
    by_seq = {e["seq"]: e for e in events}
    shown = next(e for e in events if e["action"] == "dossier.created"
                 and e["object_id"] == str(secret.id))
    assert shown["details_withheld"]
    stored = db.session.query(AuditEvent).filter_by(seq=shown["seq"]).one()
    assert len(stored.salt) == 32 and stored.salt not in str(events)
    # Even the right guess, with every shown field and the true actor id, does not give
    # the hash: the salt is missing.
    canonical = json.dumps({
        "seq": shown["seq"],
        # The API shows the time in the archive's zone; the chain hashes it as stored (UTC).
        "at": clock.to_utc(datetime.fromisoformat(shown["at"])).isoformat(timespec="microseconds"),
        "actor_id": stored.actor_id, "actor_name": shown["actor"], "action": shown["action"],
        "object_type": shown["object_type"], "object_id": shown["object_id"], "ip": shown["ip"],
        "outcome": shown["outcome"], "details": json.loads(stored.details),
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    prev = by_seq[shown["seq"] - 1]["hash"]
    assert hashlib.sha256((prev + canonical).encode()).hexdigest() != shown["hash"]
    assert audit.chain_hash(prev, stored) == shown["hash"]
    assert audit.verify(db.session).ok


def test_events_from_before_the_salt_still_verify(app, top_secret):
    old = db.session.query(AuditEvent).order_by(AuditEvent.seq).first()
    old.salt = ""
    previous = audit.GENESIS
    old.hash = audit.chain_hash(previous, old)
    # Re-chain the rest as a trail written before salts would be.
    for event in db.session.query(AuditEvent).order_by(AuditEvent.seq):
        event.prev_hash = previous
        event.hash = audit.chain_hash(previous, event)
        previous = event.hash
    head = db.session.get(audit.AuditHead, 1)
    head.hash = previous
    db.session.commit()
    assert audit.verify(db.session).ok
    old.details = old.details.replace("}", ', "x": 1}') if old.details != "{}" else '{"x": 1}'
    db.session.commit()
    assert not audit.verify(db.session).ok


def test_a_search_by_someone_who_reaches_further_does_not_count_hidden_matches(
        app, client, api, top_secret):
    g.pop("_login_user", None)
    assert client.get("/api/v1/search", query_string={"q": "董事会决议"},
                      headers=api("gm")).get_json()["total"] == 1
    g.pop("_login_user", None)
    assert client.get("/api/v1/search", query_string={"q": "董事会决议"},
                      headers=api("auditor")).get_json()["total"] == 0
    searches = [e for e in _audit(client, api, action="search") if e["action"] == "search"]
    by_actor = {e["actor"]: e for e in searches}
    assert by_actor["gm"]["details_withheld"] and by_actor["gm"]["details"] is None
    assert not by_actor["auditor"]["details_withheld"]  # one's own searches stay readable


def test_a_revoked_designation_keeps_its_target_withheld(app, client, api, users, top_secret):
    from archive.services import grants

    _, document, _ = top_secret
    with work.unit(db.session):
        designation = grants.designate(db.session, users["gm"],
                                       {"user": "staff_secret", "document_id": document.id})
    with work.unit(db.session):
        grants.revoke_designation(db.session, users["gm"], designation.id)
    events = [e for e in _audit(client, api) if e["action"].startswith("designation.")]
    assert len(events) == 2 and all(e["details_withheld"] for e in events)
