"""Bulk import (issue 19): `flask import DIR` files every good row through the upload's
steps, reports each row, never half-files, and files nothing twice when run again."""

import csv
import io

import pytest
import sqlalchemy

from archive import samples
from archive.extensions import db
from archive.models import Customer, Document, Dossier, Import, ImportRow, StoredFile
from tests.conftest import archive_state
from tests.databases import ON_POSTGRES
from tests.import_folders import mixed_folder, row, write_manifest


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(args=["import", *map(str, args)])
    return _run


def _report(path) -> dict[int, list[str]]:
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert lines[0] == ["行号", "结果", "客户", "档案号", "题名", "文件ID", "原因"]
    return {int(line[0]): line for line in lines[1:]}


def test_an_import_files_good_rows_and_reports_every_other_one_with_its_reason(
        app, cli, tmp_path):
    expected = mixed_folder(tmp_path / "archive")
    report = tmp_path / "report.csv"
    result = cli(tmp_path / "archive", "--user", "officer", "--report", report)
    assert result.exit_code == 0, result.output
    assert "归档 3 行，跳过（已归档）1 行，拒收 5 行" in result.output
    rows = _report(report)
    assert {n: line[1] for n, line in rows.items()} == {
        n: {"filed": "已归档", "skipped": "已跳过（已归档）", "refused": "拒收"}[s]
        for n, s in expected.items()}
    assert "同一档案中已有相同文件" in rows[4][6] and "《认购书》" in rows[4][6]
    assert "坏文件.docx" in rows[5][6]
    assert "加密" in rows[6][6]
    assert "照片.pdf" in rows[7][6] and "PNG" in rows[7][6]
    assert "类别只能是" in rows[8][6]
    # The customer and dossier row 8 opened went with its savepoint: the report names the
    # manifest's customer and no dossier (it named a code a later customer then took).
    assert (rows[8][2], rows[8][3]) == ("钱七", "")
    assert "不存在.pdf" in rows[10][6] and "不存在" in rows[10][6]

    # What was filed went through the upload's steps: typed by content, numbered, text read.
    customer = db.session.query(Customer).filter_by(name="张伟").one()
    dossier = db.session.query(Dossier).filter_by(customer_id=customer.id).one()
    assert dossier.number == "翠湖苑-3栋2单元1201"
    documents = db.session.query(Document).filter_by(dossier_id=dossier.id).order_by(Document.id).all()
    assert [d.title for d in documents] == ["认购书", "买卖合同", "入伙通知（纸质）"]
    first = documents[0]
    assert first.files[0].kind == "pdf" and "翠湖苑" in first.files[0].text
    assert (first.document_number, first.originator, str(first.doc_date)) == (
        "认字001号", "销售经营部", "2024-03-01")
    assert documents[2].files == [] and documents[2].carrier == "纸质"
    # Importing is the archive room's: what it files is in the archive's custody at once.
    assert {d.custody for d in documents} == {"archive"}
    assert rows[2][3] == dossier.number and rows[2][5] == str(first.id)
    # Nothing half-filed: the refused rows left no document, file, blob or customer.
    assert db.session.query(Document).count() == 3
    assert db.session.query(StoredFile).count() == 2
    blobs = [p for p in app.config["STORAGE_DIR"].rglob("*") if p.is_file()]
    assert len(blobs) == 2
    assert db.session.query(Customer).filter_by(name="钱七").count() == 0
    # Searchable once the import has ended.
    assert set(app.extensions["search"].document_ids()) == {d.id for d in documents}
    assert not any(d.needs_index for d in documents)


def test_running_the_same_manifest_again_files_nothing_twice(app, cli, tmp_path):
    mixed_folder(tmp_path / "archive")
    assert cli(tmp_path / "archive", "--user", "officer").exit_code == 0
    before = archive_state(app)
    again = cli(tmp_path / "archive", "--user", "officer")
    assert again.exit_code == 0, again.output
    assert "归档 3 行，跳过（已归档）1 行，拒收 5 行" in again.output  # the same report
    assert archive_state(app) == before
    assert db.session.query(Import).count() == 1
    assert db.session.query(ImportRow).count() == 9


def test_a_refused_row_put_right_is_filed_by_the_rerun(app, cli, tmp_path):
    folder = tmp_path / "archive"
    mixed_folder(folder)
    assert cli(folder, "--user", "officer").exit_code == 0
    (folder / "张伟" / "不存在.pdf").write_bytes(samples.make_pdf("补交", ["补交的文件。"]))
    rerun = cli(folder, "--user", "officer")
    assert "归档 4 行" in rerun.output, rerun.output
    assert db.session.query(Document).filter_by(title="缺失的文件").count() == 1


def test_an_xlsx_manifest_with_date_cells_and_a_gbk_csv_are_read(app, cli, tmp_path):
    import datetime

    import openpyxl

    folder = tmp_path / "xlsx"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(samples.make_pdf("交房通知", ["交房通知正文。"]))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户名称", "项目", "栋号", "单元", "房号", "类别", "题名", "日期", "文件"])
    sheet.append(["李娜", "锦绣花园", 6, 1, 1402, "入伙", "交房通知", datetime.datetime(2023, 5, 6),
                  "a.pdf"])
    book.save(folder / "清单.xlsx")
    assert cli(folder, "--user", "officer").exit_code == 0
    document = db.session.query(Document).filter_by(title="交房通知").one()
    assert str(document.doc_date) == "2023-05-06"
    assert document.dossier.number == "锦绣花园-6栋1单元1402"

    gbk = tmp_path / "gbk"
    gbk.mkdir()
    write_manifest(gbk, [row("纸质收据", customer="王芳", room="301", category="其他")],
                   encoding="gbk")
    result = cli(gbk, "--user", "officer")
    assert "归档 1 行" in result.output, result.output
    assert db.session.query(Customer).filter_by(name="王芳").count() == 1


@pytest.mark.parametrize("header, message", [
    (["客户名称", "题名", "文件"], "清单缺少列：类别"),
    (["客户名称", "题名", "类别", "文件", "备 注x"], "无法识别的列：“备 注x”"),
])
def test_a_manifest_without_its_columns_is_refused_and_nothing_recorded(app, cli, tmp_path,
                                                                        header, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    write_manifest(folder, [{"客户名称": "张伟", "题名": "x", "类别": "销售", "文件": ""}],
                   header=header)
    before = archive_state(app)
    result = cli(folder, "--user", "officer")
    assert result.exit_code == 1 and message in result.output
    assert archive_state(app) == before and db.session.query(Import).count() == 0


def test_only_the_archive_room_imports(app, cli, tmp_path):
    mixed_folder(tmp_path / "archive")
    before = archive_state(app)
    result = cli(tmp_path / "archive", "--user", "staff")
    assert result.exit_code == 1 and "错误" in result.output
    assert archive_state(app) == before and db.session.query(Import).count() == 0


def test_an_existing_customer_is_found_by_code_and_a_wrong_name_refuses_the_row(
        app, cli, tmp_path, make_customer):
    known = make_customer("赵敏", code="KH-OLD-1")
    folder = tmp_path / "known"
    folder.mkdir()
    write_manifest(folder, [row("认购书", code="KH-OLD-1", customer="赵敏"),
                            row("错名", code="KH-OLD-1", customer="赵明", room="2")])
    result = cli(folder, "--user", "officer")
    assert "归档 1 行" in result.output and "拒收 1 行" in result.output, result.output
    assert "与清单中的“赵明”不符" in result.output
    assert db.session.query(Customer).count() == 1
    assert db.session.query(Document).one().dossier.customer_id == known.id


def test_a_unit_of_rows_whose_commit_fails_is_written_again_row_by_row(app, cli, tmp_path):
    """Rows commit several at a time; a unit that fails as a whole (here its commit, as a
    full disk or a lost connection would) is rolled back and its rows written again one
    unit each: every row ends as it would have, nothing is filed twice."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    expected = mixed_folder(tmp_path / "archive")
    pending, failed = [], []

    def count_rows(session, context):  # the row states are written as one INSERT
        pending.extend(o for o in session.new if isinstance(o, Document))

    def fail_once(session):
        if session.in_nested_transaction():
            return  # a row's savepoint
        rows = len(pending)
        pending.clear()
        if rows > 1 and not failed:  # the first unit filing several rows
            failed.append(rows)
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    listeners = [("after_flush", count_rows), ("before_commit", fail_once)]
    for name, fn in listeners:
        event.listen(Session, name, fn)
    try:
        result = cli(tmp_path / "archive", "--user", "officer")
    finally:
        for name, fn in listeners:
            event.remove(Session, name, fn)
    assert failed, "no unit of several rows reached its commit"
    assert result.exit_code == 0, result.output
    assert "归档 3 行，跳过（已归档）1 行，拒收 5 行" in result.output
    states = dict(db.session.query(ImportRow.row_number, ImportRow.state))
    assert states == expected
    assert db.session.query(Document).count() == 3
    assert db.session.query(Customer).filter_by(name="钱七").count() == 0
    assert len([p for p in app.config["STORAGE_DIR"].rglob("*") if p.is_file()]) == 2


def test_a_filed_row_costs_a_bounded_number_of_statements(app, cli, tmp_path):
    """The writer is the import's bottleneck (docs/import.md): a filed row's statements
    are counted, so that a step of filing that starts flushing row by row again (the
    seven 四性 records of a file were seven INSERTs, 25 statements a row in all) is seen
    here rather than in the benchmark. 11.0 a row now, counted with the import's own (the
    rows' states in one INSERT a unit, the duplicate check one query a unit, the audit
    head and each group read under their lock once a unit, a DOCX's conversion state and
    job written with its file; the index's reads run in the indexing process)."""
    from sqlalchemy import event

    folder = tmp_path / "archive"
    _contracts(folder, 30, "合同")
    statements = []

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = cli(folder, "--user", "officer")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.exit_code == 0, result.output
    assert db.session.query(Document).count() == 30
    per_row = len(statements) / 30
    # PostgreSQL locks the audit head before the group's counter (one lock order against
    # uploads: audit.hold_head), a statement a unit more than SQLite, whose write lock
    # already serialises them.
    assert per_row <= (12 if ON_POSTGRES else 11.5), f"{per_row:.1f} statements a row"


def test_a_unit_hands_its_conversion_jobs_to_the_queue_in_one_commit(app, cli, tmp_path):
    """Each DOCX row queues its access copy's job; the unit's jobs reach huey's file in
    one transaction (a commit each cost the writer a wait for the disk), each still a
    task of its own that names its job, and none of a refused row's."""
    from archive.models import Job

    folder = tmp_path / "archive"
    folder.mkdir()
    rows = []
    for i in range(6):
        (folder / f"合同{i}.docx").write_bytes(samples.make_docx(f"合同{i}", [f"正文{i}"]))
        rows.append(row(f"合同{i}", f"合同{i}.docx", category="签约"))
    rows.append(row("类别错误", f"合同{0}.docx", category="不存在"))
    write_manifest(folder, rows)
    huey = app.extensions["job_queue"].huey
    commits = []
    storage = huey.storage
    storage.conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    try:
        result = cli(folder, "--user", "officer")
    finally:
        storage.conn.set_trace_callback(None)
    assert result.exit_code == 0, result.output
    jobs = {job.id for job in db.session.query(Job).filter_by(kind="docx_pdf")}
    assert len(jobs) == 6
    assert len(commits) == 1  # the import's one unit of rows
    queued = []
    while (task := huey.dequeue()) is not None:
        assert task.name == "run_job"
        queued.append(task.args[0])
    assert sorted(queued) == sorted(jobs)


def _check_callers(monkeypatch) -> list[str]:
    """Who runs each file's 四性 checks (preservation.check_file, still run as it is)."""
    import traceback

    from archive.services import preservation

    callers, real = [], preservation.check_file

    def spy(*args, **kwargs):
        callers.append(traceback.extract_stack(limit=2)[0].name)
        return real(*args, **kwargs)
    monkeypatch.setattr(preservation, "check_file", spy)
    return callers


def _filing_checks(file_id: int) -> dict[str, str]:
    from archive.models import PreservationCheck

    return dict(db.session.query(PreservationCheck.item, PreservationCheck.outcome)
                .filter_by(stage="filing", file_id=file_id))


def test_the_filing_checks_of_an_imported_file_run_where_it_was_read(
        app, cli, tmp_path, monkeypatch):
    """The checks at filing re-read and hash each stored copy: an import's reading step,
    which stores the files, runs them there, off the writer (docs/import.md); every filed
    file still has each of them recorded with its document."""
    from archive.services import preservation

    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "认购书.pdf").write_bytes(samples.make_pdf("认购书", ["认购书正文。"]))
    (folder / "合同.docx").write_bytes(samples.make_docx("买卖合同", ["买卖合同正文。"]))
    write_manifest(folder, [row("认购书", "认购书.pdf"), row("买卖合同", "合同.docx", category="签约")])
    callers = _check_callers(monkeypatch)
    result = cli(folder, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert callers == ["read_row", "read_row"]
    files = db.session.query(StoredFile).all()
    assert len(files) == 2
    for stored in files:
        checks = _filing_checks(stored.id)
        assert set(checks) == set(preservation.FILE_ITEMS) and checks["fixity"] == "pass"


def test_a_file_stored_again_after_its_read_is_checked_again_by_the_writer(
        app, cli, tmp_path, monkeypatch):
    """Two rows with the same bytes: the first stores the blob, the second finds it there;
    the first is refused and its blob removed, so the writer stores it again for the
    second and checks that copy itself. (PostgreSQL leaves a refused row's blobs to the
    orphan sweep, orphans.discards_now: the copy the reader checked is the one filed.)"""
    folder = tmp_path / "archive"
    folder.mkdir()
    data = samples.make_pdf("认购书", ["认购书正文。"])
    (folder / "a.pdf").write_bytes(data)
    (folder / "b.pdf").write_bytes(data)
    write_manifest(folder, [row("类别错误", "a.pdf", category="不存在"), row("认购书", "b.pdf")])
    callers = _check_callers(monkeypatch)
    result = cli(folder, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert callers == ["read_row", "read_row"] + ([] if ON_POSTGRES else ["record_filing"])
    stored = db.session.query(StoredFile).one()
    assert _filing_checks(stored.id)["fixity"] == "pass"
    assert app.extensions["blob_store"].get(stored.sha256) == data


def test_a_second_worker_asking_while_the_first_reads_the_manifest_runs_nothing(
        app, tmp_path, monkeypatch):
    # The run that finds the import waiting claims it in that same locked transaction: a
    # second worker asking in the window before the rows start finds it running and leaves
    # it (before, both read it as queued and both ran it).
    from archive.models import User
    from archive.services import import_sources, imports, work

    folder = tmp_path / "archive"
    mixed_folder(folder)
    officer = db.session.query(User).filter_by(username="officer").one()
    with work.unit(db.session):
        batch = imports.open_import(db.session, officer, folder, kind="folder", source="x")
    settings = imports.Settings.from_app(app)
    original, asked, second = import_sources.read_manifest, [], []

    def read_while_another_worker_asks(path):
        if not asked:
            asked.append(1)
            other = sqlalchemy.orm.Session(db.engine)
            try:
                second.append(imports.run(other, other.get(User, officer.id), batch.id,
                                          folder, settings))
            finally:
                other.close()
        return original(path)

    monkeypatch.setattr(import_sources, "read_manifest", read_while_another_worker_asks)
    first = imports.run(db.session, officer, batch.id, folder, settings)
    assert second == [None]
    assert first is not None and first.state == "done"
    assert db.session.query(ImportRow).filter_by(import_id=batch.id).count() == 9


def test_a_folder_zipped_whole_files_its_rows_from_its_one_sub_folder(app, cli, tmp_path):
    """A ZIP made from a folder holds everything in one sub-folder: the manifest is found
    there, and its rows name their files from there (they were looked for at the top, and
    every row with a file was refused as missing; found by a probe of the running app)."""
    top = tmp_path / "unpacked"
    folder = top / "张伟资料"
    folder.mkdir(parents=True)
    (folder / "认购书.pdf").write_bytes(samples.make_pdf("认购书", ["认购书正文。"]))
    write_manifest(folder, [row("认购书", "认购书.pdf"), row("入伙通知", "", category="入伙")])
    result = cli(top, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert "归档 2 行" in result.output
    assert db.session.query(StoredFile).count() == 1


def test_the_report_writes_a_formula_like_cell_as_text(app, cli, tmp_path):
    """A title a spreadsheet would run as a formula reaches the import's report CSV with a
    leading apostrophe, as the other exports do (found by a probe of the running app)."""
    folder = tmp_path / "archive"
    folder.mkdir()
    write_manifest(folder, [row('=HYPERLINK("http://x")', "", category="入伙")])
    report = tmp_path / "report.csv"
    result = cli(folder, "--user", "officer", "--report", report)
    assert result.exit_code == 0, result.output
    assert _report(report)[2][4] == '\'=HYPERLINK("http://x")'


def test_work_failing_after_a_units_commit_does_not_write_it_again(app, cli, tmp_path,
                                                                    monkeypatch):
    """Handing a unit's jobs to the queue runs after its commit; a failure there made the
    unit look unwritten: its rows were written again one by one, ran into their own
    unique row numbers, and the import stopped."""
    from archive.models import Job
    from archive.services import jobs

    def queue_down(job_ids):
        raise RuntimeError("the queue's file is unreadable")
    monkeypatch.setattr(jobs, "dispatch", queue_down)
    folder = tmp_path / "archive"
    folder.mkdir()
    rows = []
    for i in range(4):
        (folder / f"合同{i}.docx").write_bytes(samples.make_docx(f"合同{i}", [f"正文{i}"]))
        rows.append(row(f"合同{i}", f"合同{i}.docx", category="签约"))
    write_manifest(folder, rows)
    result = cli(folder, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert "归档 4 行" in result.output
    assert db.session.query(Document).count() == 4
    # The jobs stay queued in the database for the worker's sweep.
    assert db.session.query(Job).filter_by(kind="docx_pdf", state="queued").count() == 4


def _contracts(folder, count: int, word: str) -> None:
    """A folder of `count` rows of category 签约, each with a file of its own: PDF and
    DOCX in turn."""
    folder.mkdir()
    rows = []
    for i in range(count):
        name = f"{word}{i:02d}." + ("docx" if i % 2 else "pdf")
        text = [f"第 {i} 份{word}正文：翠湖苑三栋二单元。"]
        (folder / name).write_bytes(samples.make_docx(f"{word}{i}", text) if i % 2
                                    else samples.make_pdf(f"{word}{i}", text))
        rows.append(row(f"{word}{i:02d}", name, category="签约"))
    write_manifest(folder, rows)


def _index_writes_by_process(monkeypatch, log, fail_beside=False):
    """Record which process writes each batch into the index; with `fail_beside`, a
    process other than this one fails the write."""
    import os

    from archive.services import indexing

    original, me = indexing.write, os.getpid()

    def write(session, ids):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        if fail_beside and os.getpid() != me:
            raise RuntimeError("the index cannot be written from here")
        return original(session, ids)
    monkeypatch.setattr(indexing, "write", write)
    return me


def _import_with_batches_of_four(app, cli, tmp_path, monkeypatch, fail_beside=False):
    """Import twelve rows, the index written four documents at a time; check that every
    document is searchable and none left flagged; (this process, the processes that wrote
    each batch in turn)."""
    app.config.update(IMPORT_WORKERS=2, IMPORT_BATCH=4, IMPORT_ROWS_PER_COMMIT=2)
    log = tmp_path / "writes.log"
    me = _index_writes_by_process(monkeypatch, log, fail_beside)
    _contracts(tmp_path / "archive", 12, "协议")
    result = cli(tmp_path / "archive", "--user", "officer")
    assert result.exit_code == 0, result.output
    filed = set(db.session.execute(sqlalchemy.select(Document.id)).scalars())
    assert len(filed) == 12
    assert filed <= app.extensions["search"].document_ids()
    assert not db.session.query(Document).filter(Document.needs_index.is_(True)).count()
    return me, [int(line) for line in log.read_text().split()]


def test_an_imports_index_is_written_by_a_process_beside_its_writer(app, cli, tmp_path,
                                                                   monkeypatch):
    """The index writes of an import (a quarter of the writer's time) run in a process of
    their own while the writer goes on with the next rows; the writer clears the flags of
    what it wrote, and the import ends with every document searchable."""
    me, writers = _import_with_batches_of_four(app, cli, tmp_path, monkeypatch)
    # Every batch is written beside the writer; only the last write may be the writer's
    # own (nothing left but what an earlier run may have left flagged).
    assert len(writers) >= 2 and me not in writers[:-1]


def test_a_failing_indexing_process_leaves_its_batches_to_the_writer(app, cli, tmp_path,
                                                                   monkeypatch):
    me, writers = _import_with_batches_of_four(app, cli, tmp_path, monkeypatch,
                                               fail_beside=True)
    assert writers[0] != me and me in writers


def test_a_customer_opened_by_a_refused_row_leaves_the_session(app, cli, tmp_path):
    """A refused row rolls back the customer it opened (in work.insert's own savepoint
    inside the row's), but the session kept the object as written: the next row's new
    customer, given the same id, replaced it with SQLAlchemy's warning "Identity map
    already had an identity". It leaves the session with its row."""
    import warnings

    folder = tmp_path / "archive"
    folder.mkdir()
    data = samples.make_pdf("认购书", ["认购书正文。"])
    (folder / "a.pdf").write_bytes(data)
    write_manifest(folder, [row("类别错误", "a.pdf", category="不存在"), row("认购书", "a.pdf")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cli(folder, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert not [w for w in caught if "Identity map" in str(w.message)]
    assert db.session.query(Document).count() == 1
