"""四性检测 in storage (DA/T 70): `flask check-archive` finds a corrupted blob, a gap in
the sequence numbers, an orphan blob and an index that disagrees with the database; the
report is kept (page, CSV) and its failure stays on the officer's dashboard until a run
passes. A clean demo archive passes."""

import os
import time

from sqlalchemy import delete, update

from archive import demo, samples
from archive.extensions import db
from archive.models import (
    Department,
    Document,
    Group,
    PreservationCheck,
    PreservationRun,
    StoredFile,
    User,
)
from archive.services import corrections, indexing, withdrawal, work
from tests.conftest import login

PDF = samples.make_pdf("买卖合同", ["房地产买卖合同，合同编号HT-2024-0032。"])


def _check(app):
    result = app.test_cli_runner().invoke(args=["check-archive"])
    db.session.expire_all()
    run = db.session.query(PreservationRun).order_by(PreservationRun.id.desc()).first()
    return result, run


def _failing(run) -> dict:
    """item -> [(subject, reason)] of the run's failing rows (the summaries left out)."""
    found = {}
    for check in run.checks:
        if check.outcome == "fail" and check.subject != "全部":
            found.setdefault(check.item, []).append((check.subject, check.reason))
    return found


def _dashboard(client, username="officer") -> str:
    client.post("/logout")
    login(client, username)
    return client.get("/").get_data(as_text=True)


def test_a_clean_archive_passes_and_the_run_is_kept(app, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, files=[("合同.pdf", PDF)], date="2024-03-01")
    file_doc(dossier, "客户来函", "其他")
    result, run = _check(app)
    assert result.exit_code == 0, result.output
    assert run.outcome == "pass" and run.failures == 0
    assert {c.item for c in run.checks} == {"fixity", "format", "continuity", "orphans",
                                            "metadata", "index"}
    assert "全部通过" in result.output


def test_a_corrupted_blob_fails_fixity_and_the_alarm_shows_until_a_run_passes(
        app, client, make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    document_id, file_id = document.id, document.files[0].id
    blob = app.extensions["blob_store"].path_for(document.files[0].sha256)
    original = blob.read_bytes()
    os.chmod(blob, 0o644)
    blob.write_bytes(original[:-10] + b"0123456789")  # bit rot, after filing
    assert "preservation-alarm" not in _dashboard(client)

    result, run = _check(app)
    assert result.exit_code == 1
    assert run.outcome == "fail"
    failed = run.id
    [(subject, reason)] = _failing(run)["fixity"]
    assert subject == f"文件 {document_id} 的电子文件 #{file_id}"
    assert "已损坏" in reason
    page = _dashboard(client)
    assert "preservation-alarm" in page and f"/preservation/runs/{run.id}" in page
    assert "preservation-alarm" not in _dashboard(client, "staff")

    blob.write_bytes(original)  # restored from the backup
    result, later = _check(app)
    assert result.exit_code == 0 and later.outcome == "pass"
    assert "preservation-alarm" not in _dashboard(client)
    # The failing run is still on record.
    assert db.session.get(PreservationRun, failed).outcome == "fail"


def test_a_gap_in_sequence_numbers_is_reported_but_not_a_withdrawal_or_a_move(
        app, users, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    first = file_doc(dossier, "认购书", "销售")
    file_doc(dossier, "买卖合同", "签约")
    moved = file_doc(dossier, "维修记录", "签约")
    with work.unit(db.session):
        withdrawal.withdraw_document(db.session, users["officer"], first.id,
                                     {"reason": "归错客户"})
        corrections.correct_document(db.session, users["officer"], moved.id,
                                     {"group": "b", "reason": "分组错误"})
    result, run = _check(app)
    assert result.exit_code == 0, result.output

    # Two numbers taken without any document (made directly in the database).
    group = db.session.query(Group).filter_by(dossier_id=dossier.id, code="a").one()
    db.session.execute(update(Group).where(Group.id == group.id).values(last_seq=5))
    db.session.commit()
    result, run = _check(app)
    assert result.exit_code == 1
    assert _failing(run) == {"continuity": [(f"档案 {dossier.id} 的 a 组",
                                             "顺序号缺号：4、5（没有文件、撤销、销毁或移出的记录）")]}


def test_index_disagreement_and_orphan_blobs_are_reported(app, users, make_customer,
                                                          make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    lost = file_doc(dossier, "认购书", "销售")
    withdrawn = file_doc(dossier, "买卖合同", "签约")
    with work.unit(db.session):
        withdrawal.withdraw_document(db.session, users["officer"], withdrawn.id,
                                     {"reason": "重复归档"})
    search = app.extensions["search"]
    search.remove_document(lost.id)
    search.index_document(indexing.to_index_doc(withdrawn, []))
    store = app.extensions["blob_store"]
    digest, _ = store.put(b"a blob no record names")
    old = time.time() - 3 * 86400
    os.utime(store.path_for(digest), (old, old))
    fresh, _ = store.put(b"an upload still being written")

    result, run = _check(app)
    assert result.exit_code == 1
    failing = _failing(run)
    assert sorted(failing["index"]) == sorted([
        (f"文件 {lost.id}", "在档文件不在检索索引中，检索不到"),
        (f"文件 {withdrawn.id}", "检索索引中仍有已撤销归档的文件")])
    assert failing["orphans"] == [(digest, "存储对象没有任何档案记录引用（无主文件）")]
    assert fresh not in str(failing)


def test_report_pages_and_csv_are_the_archive_rooms_and_auditors(app, client, make_customer,
                                                                 make_dossier, file_doc):
    file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    _result, run = _check(app)
    for username in ("officer", "auditor"):
        client.post("/logout")
        login(client, username)
        listing = client.get("/preservation")
        assert listing.status_code == 200 and f"/preservation/runs/{run.id}" in listing.text
        page = client.get(f"/preservation/runs/{run.id}")
        assert page.status_code == 200 and "固化信息有效性检测" in page.text
        csv = client.get(f"/preservation/runs/{run.id}/report.csv")
        assert csv.status_code == 200 and "真实性" in csv.get_data(as_text=True)
    for username in ("staff", "head", "admin"):
        client.post("/logout")
        login(client, username)
        assert client.get("/preservation").status_code == 403
        assert client.get(f"/preservation/runs/{run.id}").status_code == 403
        assert client.get(f"/preservation/runs/{run.id}/report.csv").status_code == 403
    rows = db.session.query(PreservationCheck).count()
    client.post("/logout")
    login(client, "officer")
    assert client.get("/preservation/runs/987654").status_code == 404
    assert db.session.query(PreservationCheck).count() == rows


def test_a_docx_access_copy_is_checked_like_the_original(app, make_customer, make_dossier,
                                                         file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    file_id = document.files[0].id
    store = app.extensions["blob_store"]
    copy, _ = store.put(samples.make_pdf("副本", ["访问副本"]))
    db.session.execute(update(StoredFile).where(StoredFile.id == file_id)
                       .values(access_copy_sha256=copy, access_copy_status="ok"))
    db.session.commit()
    result, run = _check(app)
    assert result.exit_code == 0, result.output
    path = store.path_for(copy)
    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF-1.4 not the copy that was stored")
    result, run = _check(app)
    assert result.exit_code == 1
    [(subject, reason)] = _failing(run)["fixity"]
    assert subject.endswith("的 PDF 副本") and copy in reason and "已损坏" in reason


def file_a_failing_secret(app, make_customer, make_dossier, file_doc) -> int:
    """A 绝密 document named ZZTOP (title and file) that fails two checks of a storage run:
    its metadata (a carrier no check accepts, as legacy data) and its blob's fixity. Its id."""
    dossier = make_dossier(make_customer())
    secret = file_doc(dossier, "绝密收购计划ZZTOP", "其他", actor="gm", classification="绝密",
                      files=[("ZZTOP机密.pdf", PDF)])
    secret_id, digest = secret.id, secret.files[0].sha256
    db.session.execute(update(Document).where(Document.id == secret_id)
                       .values(carrier="羊皮纸"))  # legacy data a check refuses
    db.session.commit()
    blob = app.extensions["blob_store"].path_for(digest)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"%PDF-1.4 rotten")
    return secret_id


def test_the_report_names_no_title_or_file_name(app, client, users, make_customer,
                                                make_dossier, file_doc):
    """The report is read by the whole archive room and the auditors, whatever a
    document's level: a 绝密 document's title and file names never reach it."""
    secret_id = file_a_failing_secret(app, make_customer, make_dossier, file_doc)
    result, run = _check(app)
    failing = _failing(run)
    assert failing["metadata"] and failing["fixity"]
    for username in ("auditor", "officer"):
        client.post("/logout")
        login(client, username)
        page = client.get(f"/preservation/runs/{run.id}").get_data(as_text=True)
        report = client.get(f"/preservation/runs/{run.id}/report.csv").get_data(as_text=True)
        assert f"文件 {secret_id}" in page
        assert "ZZTOP" not in page and "ZZTOP" not in report


def test_check_archive_on_the_demo_archive_passes(app):
    db.session.execute(delete(User))  # demo.load fills an empty archive
    db.session.execute(delete(Department))
    db.session.commit()
    demo.load(db.session, echo=lambda *args, **kwargs: None)
    result, run = _check(app)
    assert result.exit_code == 0, result.output
    assert run.outcome == "pass"


def test_the_worker_runs_the_check_every_night(app, make_customer, make_dossier, file_doc):
    from tests.test_nightly_check import at_local

    file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    queue = app.extensions["job_queue"]
    db.session.commit()
    # The periodic task fires every minute in every worker; it checks once, in the night's
    # window (tests/test_nightly_check.py).
    with at_local(2026, 12, 3, 2, 31):
        queue._check_archive()  # what the consumer runs for the periodic task
    db.session.expire_all()
    run = db.session.query(PreservationRun).order_by(PreservationRun.id.desc()).one()
    assert (run.trigger, run.outcome) == ("queue", "pass")


def test_a_page_count_that_contradicts_the_files_fails_the_nightly_check_too(
        app, make_customer, make_dossier, file_doc):
    """The check at filing compares the catalogued page count with the files'; the night's
    check did not, so a document that failed it at filing passed every night (found by a
    probe of the running app)."""
    dossier = make_dossier(make_customer())
    document = file_doc(dossier, files=[("合同.pdf", PDF)], date="2024-03-01", pages="9")
    agreed = file_doc(dossier, "补充协议", files=[("补充协议.pdf", PDF)], date="2024-03-01")
    result, run = _check(app)
    assert run.outcome == "fail"
    assert _failing(run) == {"format": [(f"文件 {document.id}",
                                         "著录页数 9 与电子文件页数 1 不符")]}
    assert agreed.id != document.id
