"""四性检测 (DA/T 70) results where the API answers for a document, a transfer receipt and
an import: the same per-file checks, their counts and failing items."""

import io
import json

from archive import samples
from archive.extensions import db
from archive.models import AuditEvent, PreservationCheck
from tests import hostile_files
from tests.import_folders import row, write_manifest, zip_folder

PDF = samples.make_pdf("认购书", ["认购书正文：翠湖苑三栋二单元一二零一。"])


def test_the_document_answer_carries_its_checks(call, make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("认购书.pdf", PDF)])
    body = call("officer", "GET", f"/api/v1/documents/{document.id}").get_json()
    checks = {(c["file_id"], c["item"]): c for c in body["preservation"]}
    file_id = document.files[0].id
    assert checks[(file_id, "fixity")]["outcome"] == "pass"
    assert checks[(file_id, "fixity")]["property"] == "真实性"
    assert checks[(file_id, "virus")]["outcome"] == "not_run"
    assert checks[(None, "metadata")]["stage"] == "filing"


def test_a_transfer_receipt_checks_what_it_receives_and_carries_the_result(
        call, login_as, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("魏移交"))
    good = file_doc(dossier, "认购书", "销售", actor="staff", files=[("认购书.pdf", PDF)])
    locked = file_doc(dossier, "合同", "签约", actor="staff",
                      files=[("合同.pdf", hostile_files.make_owner_only_encrypted_pdf())])
    batch = call("staff", "POST", "/api/v1/transfers",
                 {"items": [good.id, locked.id], "submit": True}).get_json()
    assert batch["preservation"] is None  # nothing received yet
    before = db.session.query(PreservationCheck).filter_by(stage="transfer").count()
    assert before == 0
    received = call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": i["document_id"], "count": i["count"], "pages": i["pages"]}
                  for i in batch["items"]]})
    assert received.status_code == 200, received.get_json()
    result = received.get_json()["preservation"]
    assert result["counts"]["fail"] == 1
    assert result["counts"]["pass"] >= 8
    [failing] = result["failing"]
    assert (failing["document_id"], failing["item"]) == (locked.id, "encryption")
    event = db.session.query(AuditEvent).filter_by(action="transfer.received").one()
    assert json.loads(event.details)["preservation"] == result["counts"]
    page = login_as("officer").get(f"/transfers/{batch['id']}").get_data(as_text=True)
    assert "接收时的四性检测" in page


def test_an_import_reports_the_checks_of_what_it_filed(app, call, login_as, tmp_path):
    folder = tmp_path / "archive"
    (folder / "张伟").mkdir(parents=True)
    (folder / "张伟" / "认购书.pdf").write_bytes(PDF)
    (folder / "张伟" / "合同.pdf").write_bytes(hostile_files.make_owner_only_encrypted_pdf())
    write_manifest(folder, [row("认购书", "张伟/认购书.pdf"),
                            row("买卖合同", "张伟/合同.pdf", category="签约")])
    queued = call("officer", "POST", "/api/v1/imports",
                  data={"file": (io.BytesIO(zip_folder(folder)), "档案.zip")}).get_json()
    assert queued.get("preservation") is None
    huey = app.extensions["job_queue"].huey
    db.session.commit()
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    db.session.commit()
    done = call("officer", "GET", f"/api/v1/imports/{queued['id']}").get_json()
    assert done["counts"]["filed"] == 2
    result = done["preservation"]
    assert result["counts"]["fail"] == 1
    assert [f["item"] for f in result["failing"]] == ["encryption"]
    page = login_as("officer").get(f"/imports/{queued['id']}").get_data(as_text=True)
    assert "导入时的四性检测" in page
