"""The storage checks (四性检测 in storage) through the API: the runs the pages and the CSV
show, listed a page at a time and read item by item, for the archive room, the GM and the
auditors only; a 绝密 document's title and file names never reach the answer."""

import os

from archive import samples
from archive.extensions import db
from archive.models import PreservationRun
from tests.test_preservation_storage import file_a_failing_secret

PDF = samples.make_pdf("买卖合同", ["房地产买卖合同，合同编号HT-2024-0032。"])


def _check(app) -> int:
    result = app.test_cli_runner().invoke(args=["check-archive"])
    assert result.exit_code in (0, 1), result.output
    db.session.expire_all()
    return db.session.query(PreservationRun).order_by(PreservationRun.id.desc()).first().id


def test_a_run_reads_as_its_page_does_item_by_item(app, call, make_customer, make_dossier,
                                                   file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    document_id, file_id = document.id, document.files[0].id
    passed = _check(app)
    blob = app.extensions["blob_store"].path_for(document.files[0].sha256)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"%PDF-1.4 rotten")
    failed = _check(app)

    for username in ("officer", "auditor", "gm", "gmoffice"):
        listing = call(username, "GET", "/api/v1/storage-checks")
        assert listing.status_code == 200, listing.json
        assert listing.json["total"] == 2 and listing.json["page"] == 1
        assert [(r["id"], r["outcome"]["key"]) for r in listing.json["runs"]] == [
            (failed, "fail"), (passed, "pass")]
        assert "items" not in listing.json["runs"][0]

        run = call(username, "GET", f"/api/v1/storage-checks/{failed}")
        assert run.status_code == 200, run.json
        body = run.json
        assert body["failures"] == 1 and body["outcome"]["label"] == "未通过"
        assert body["report_csv"] == f"/preservation/runs/{failed}/report.csv"
        items = {i["item"]: i for i in body["items"]}
        assert set(items) == {"fixity", "format", "continuity", "orphans", "metadata", "index"}
        assert items["fixity"]["property"] == "真实性"
        assert items["fixity"]["outcome"]["key"] == "fail"
        [rotten] = items["fixity"]["failing"]
        assert rotten["subject"] == f"文件 {document_id} 的电子文件 #{file_id}"
        assert "已损坏" in rotten["reason"]
        assert (rotten["document_id"], rotten["file_id"]) == (document_id, file_id)
        assert items["continuity"]["outcome"]["key"] == "pass"
        assert items["continuity"]["failing"] == []


def test_runs_come_a_page_at_a_time_newest_first(app, call):
    for _ in range(23):
        db.session.add(PreservationRun(trigger="queue", outcome="pass", failures=0, summary="{}"))
    db.session.commit()
    ids = sorted((r.id for r in db.session.query(PreservationRun)), reverse=True)
    first = call("auditor", "GET", "/api/v1/storage-checks").json
    second = call("auditor", "GET", "/api/v1/storage-checks?page=2").json
    beyond = call("auditor", "GET", "/api/v1/storage-checks?page=9").json
    assert (first["total"], first["per_page"], second["page"]) == (23, 20, 2)
    assert [r["id"] for r in first["runs"] + second["runs"]] == ids
    assert beyond["runs"] == [] and beyond["total"] == 23


def test_other_roles_are_refused_and_a_missing_run_is_404(app, call, make_customer,
                                                          make_dossier, file_doc):
    file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    run = _check(app)
    for username in ("staff", "head", "service", "legal", "admin"):
        for url in ("/api/v1/storage-checks", f"/api/v1/storage-checks/{run}",
                    "/api/v1/storage-checks/987654"):
            answer = call(username, "GET", url)
            assert answer.status_code == 403, (username, url)
            assert set(answer.json["error"]) >= {"code", "message"}
    missing = call("officer", "GET", "/api/v1/storage-checks/987654")
    assert missing.status_code == 404 and missing.json["error"]["message"] == "检测报告不存在"
    assert db.session.query(PreservationRun).count() == 1


def test_the_answer_names_no_title_or_file_name_of_a_secret_document(
        app, call, make_customer, make_dossier, file_doc):
    """The auditors read the run whatever a document's level: a 绝密 document failing two
    checks is named by its number only."""
    secret_id = file_a_failing_secret(app, make_customer, make_dossier, file_doc)
    run = _check(app)
    for username in ("auditor", "officer"):
        answer = call(username, "GET", f"/api/v1/storage-checks/{run}")
        items = {i["item"]: i for i in answer.json["items"]}
        assert items["metadata"]["failing"] and items["fixity"]["failing"]
        assert f"文件 {secret_id}" in answer.text
        assert "ZZTOP" not in answer.text
        assert "ZZTOP" not in call(username, "GET", "/api/v1/storage-checks").text
