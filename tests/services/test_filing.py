"""Filing rules: one dossier per customer and unit, numbering, groups, bytes kept safe."""

import pytest

from archive import samples
from archive.extensions import db
from archive.models import DossierReference, Level, StoredFile
from archive.services import customers, filing
from archive.services.errors import (
    Conflict,
    IntegrityError,
    Invalid,
    NotFound,
    TooLarge,
    UnsupportedType,
)
from tests import hostile_files
from tests.conftest import NUMBER_FORMAT, archive_state

PDF = samples.make_pdf("认购书", ["客户张伟认购翠湖苑3栋2单元1201，合同编号HT-2024-0031。"])


def test_dossier_number_follows_the_archive_wide_format(make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    assert dossier.number == "翠湖苑-3栋2单元1201"
    assert [g.code for g in dossier.groups] == ["a", "b", "c", "d", "e"]


def test_one_dossier_per_customer_and_unit(app, make_customer, make_dossier):
    customer = make_customer()
    make_dossier(customer)
    before = archive_state(app)
    with pytest.raises(Conflict):
        make_dossier(customer)
    assert archive_state(app) == before


def test_a_later_buyer_of_the_same_unit_gets_a_distinct_number(make_customer, make_dossier):
    first = make_dossier(make_customer("张伟"))
    second = make_dossier(make_customer("李娜"))
    assert second.number == first.number + "-2"


def test_dossiers_of_one_customer_reference_each_other(session, make_customer, make_dossier):
    customer = make_customer()
    one = make_dossier(customer, room="1201")
    two = make_dossier(customer, room="1202")
    three = make_dossier(customer, room="1203")
    pairs = {(r.from_dossier_id, r.to_dossier_id)
             for r in session.query(DossierReference).filter_by(kind="same_customer")}
    ids = [one.id, two.id, three.id]
    assert pairs == {(a, b) for a in ids for b in ids if a != b}


def test_judgment_in_customer_dossier_refers_to_case_file(session, users, make_customer,
                                                          make_dossier, file_doc):
    customer = make_customer()
    dossier = make_dossier(customer)
    case = customers.create_dossier(session, users["officer"], {
        "customer_id": customer.id, "kind": "case", "number": "(2024)粤0305民初1号",
        "title": "房屋质量纠纷案"}, number_format=NUMBER_FORMAT)
    judgment = file_doc(dossier, "民事判决书", "诉讼", files=[("判决书.pdf", PDF)])
    customers.add_reference(session, users["officer"], dossier.id, {
        "to_dossier_id": case.id, "document_id": judgment.id})
    refs = customers.references(session, users["officer"], dossier)
    assert [(r.to_dossier.number, r.document_id) for r in refs] == [("(2024)粤0305民初1号", judgment.id)]
    back = customers.references(session, users["officer"], case)
    assert [r.to_dossier_id for r in back] == [dossier.id]


def test_sequence_numbers_per_group_and_defaults(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    a1 = file_doc(dossier, "认购书", "销售", files=[("认购书.pdf", PDF)])
    a2 = file_doc(dossier, "买卖合同", "签约")
    b1 = file_doc(dossier, "维修记录", "维修")
    other = file_doc(dossier, "客户来函", "其他")
    assert (a1.group.code, a1.seq) == ("a", 1)
    assert (a2.group.code, a2.seq) == ("a", 2)
    assert (b1.group.code, b1.seq) == ("b", 1)
    assert a1.level is Level.INTERNAL
    assert a1.retention == "永久" and other.retention == "长期"
    assert a1.pages == 1 and a1.carrier == "电子"
    assert a2.files == [] and a2.carrier == "纸质"


def test_sequence_numbers_are_never_reused(session, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    first = file_doc(dossier, "维修记录一", "维修")
    session.delete(first)  # even if a row disappeared, its number stays used
    session.commit()
    assert file_doc(dossier, "维修记录二", "维修").seq == 2


def test_sequence_numbers_follow_what_another_process_took_meanwhile(app, session, make_customer,
                                                                     make_dossier, file_doc):
    """The session keeps objects across commits: a group it loaded for an earlier filing
    must not lend its old counter to the next one (8 filer processes once got a
    duplicate number from this)."""
    from sqlalchemy import text

    dossier = make_dossier(make_customer())
    first = file_doc(dossier, "维修记录一", "维修")
    # Another process, on its own connection, takes the next two numbers of the group.
    with db.engine.connect() as other:
        other.execute(text("UPDATE groups SET last_seq = last_seq + 2 WHERE id = :id"),
                      {"id": first.group_id})
        other.commit()
    assert file_doc(dossier, "维修记录二", "维修").seq == first.seq + 3


def test_identical_bytes_are_stored_once_and_verified(app, session, make_customer, make_dossier,
                                                      file_doc, users):
    dossier = make_dossier(make_customer())
    one = file_doc(dossier, "认购书", files=[("a.pdf", PDF)])
    two = file_doc(dossier, "认购书副本", files=[("b.pdf", PDF)])
    assert one.files[0].sha256 == two.files[0].sha256
    assert len(archive_state(app)["blobs"]) == 1
    stored, data = filing.read_file(session, users["officer"], one.id,
                                    store=app.extensions["blob_store"])
    assert data == PDF and stored.original_name == "a.pdf"


def test_a_corrupted_blob_is_never_served(app, session, make_customer, make_dossier, file_doc,
                                          users):
    document = file_doc(make_dossier(make_customer()), files=[("a.pdf", PDF)])
    path = app.extensions["blob_store"].path_for(document.files[0].sha256)
    path.chmod(0o644)
    path.write_bytes(PDF[:-10] + b"0000000000")
    with pytest.raises(IntegrityError):
        filing.read_file(session, users["officer"], document.id, store=app.extensions["blob_store"])


def test_one_document_holds_several_files(make_customer, make_dossier, file_doc):
    scans = [(f"第{i}页.png", samples.make_png([f"第{i}页"])) for i in (1, 2, 3)]
    document = file_doc(make_dossier(make_customer()), "入伙签收单扫描件", "入伙", files=scans)
    assert [f.original_name for f in document.files] == ["第1页.png", "第2页.png", "第3页.png"]
    assert document.carrier == "照片"


def test_text_is_extracted_from_pdf_and_docx(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    pdf = file_doc(dossier, files=[("a.pdf", PDF)])
    docx = file_doc(dossier, "维修单", "维修", files=[("b.docx", samples.make_docx(
        "维修单", ["卫生间漏水已修复"], table=[["项目", "防水层"]], header="翠湖苑", footer="客服中心"))])
    assert "HT-2024-0031" in pdf.files[0].text and pdf.files[0].text_status == "ok"
    text = docx.files[0].text
    assert "卫生间漏水已修复" in text and "防水层" in text and "客服中心" in text


def test_a_truncated_pdf_is_kept_and_flagged(make_customer, make_dossier, file_doc):
    broken = hostile_files.truncate(samples.make_pdf("合同", ["内容"] * 40), 0.5)
    document = file_doc(make_dossier(make_customer()), "残缺合同", "签约", files=[("x.pdf", broken)])
    assert document.id and document.files[0].sha256
    assert document.files[0].text_status in ("failed", "ok", "empty")


@pytest.mark.parametrize("name,data,error", [
    ("empty.pdf", b"", Invalid),
    ("report.pdf", samples.make_png(), UnsupportedType),
    ("../../etc/passwd.pdf", PDF, Invalid),
    ("a/b.pdf", PDF, Invalid),
    ("locked.pdf", hostile_files.make_encrypted_pdf(), Invalid),
    ("bomb.docx", hostile_files.make_zip_bomb_docx(), TooLarge),
    ("program.exe", b"MZ\x90\x00" + b"\x00" * 200, UnsupportedType),
])
def test_bad_files_are_refused_and_nothing_is_stored(app, make_customer, make_dossier, file_doc,
                                                     name, data, error):
    dossier = make_dossier(make_customer())
    before = archive_state(app)
    with pytest.raises(error) as caught:
        file_doc(dossier, "坏文件", files=[("ok.pdf", PDF), (name, data)])
    assert getattr(caught.value, "message", "")  # a clear message for the user
    assert archive_state(app) == before


@pytest.mark.parametrize("fields,field", [
    ({"title": ""}, "title"),
    ({"category": "不存在"}, "category"),
    ({"classification": "超级机密"}, "classification"),
    ({"date": "2024-13-45"}, "date"),
])
def test_malformed_fields_are_refused(app, make_customer, make_dossier, file_doc, fields, field):
    dossier = make_dossier(make_customer())
    before = archive_state(app)
    with pytest.raises(Invalid) as caught:
        file_doc(dossier, **{"title": "认购书", "category": "销售", **fields}, files=[("a.pdf", PDF)])
    assert caught.value.details.get("field") == field
    assert archive_state(app) == before


def test_unknown_dossier_is_not_found(app, file_doc):
    class Missing:
        id = 999_999
    with pytest.raises(NotFound):
        file_doc(Missing())


def test_blob_written_for_a_failed_transaction_is_removed(app, session, make_customer,
                                                          make_dossier, file_doc, monkeypatch):
    dossier = make_dossier(make_customer())
    before = archive_state(app)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full while numbering")
    monkeypatch.setattr(filing.numbering, "next_seq", fail)
    with pytest.raises(RuntimeError):
        file_doc(dossier, files=[("a.pdf", PDF)])
    assert archive_state(app) == before
    assert session.query(StoredFile).count() == 0


def test_documents_take_a_raised_dossier_level_by_default(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer(), classification="秘密")
    assert file_doc(dossier, "赔付协议", "赔付").level is Level.SECRET
    assert file_doc(dossier, "公开通知", "其他", classification="公开").level is Level.PUBLIC


@pytest.mark.parametrize("route", ["web", "api"])
def test_files_are_read_while_no_transaction_holds_the_database(route, app, session, api,
                                                                login_as, make_customer,
                                                                make_dossier, monkeypatch):
    """On SQLite a transaction holds the write lock: inspecting and extracting a long PDF
    must not. The upload routes end the checks' transaction first and open the unit that
    writes afterwards."""
    import io

    dossier = make_dossier(make_customer())
    headers = api("officer")
    client = login_as("officer")
    seen = []

    def spy(real):
        def run(data, *args, **kwargs):
            seen.append((real.__name__, session().in_transaction()))
            return real(data, *args, **kwargs)
        return run
    monkeypatch.setattr(filing.filetypes, "inspect", spy(filing.filetypes.inspect))
    monkeypatch.setattr(filing.extraction, "extract", spy(filing.extraction.extract))
    form = {"title": "认购书", "category": "销售", "file": (io.BytesIO(PDF), "a.pdf")}
    if route == "web":
        response = client.post(f"/dossiers/{dossier.id}/upload", data=form,
                               content_type="multipart/form-data")
    else:
        response = client.post(f"/api/v1/dossiers/{dossier.id}/documents", data=form,
                               headers=headers, content_type="multipart/form-data")
    assert response.status_code in (201, 302), response.data[:300]
    assert seen == [("inspect", False), ("extract", False)]


def test_checks_that_failed_where_the_file_was_read_are_run_again_at_filing(
        app, session, users, make_customer, make_dossier):
    """An import's reader runs a file's 四性 checks on the copy it stored; one that failed
    there (the blob gone between its store and its check) is run again on the copy the
    filing finds stored, rather than recorded as it was. Checks that passed are kept."""
    from archive.models import PreservationCheck
    from archive.services import work

    dossier = make_dossier(make_customer())
    store = app.extensions["blob_store"]
    limits = filing.Limits.from_config(app.config)
    gone = [("fixity", "fail", "存储副本缺失"), ("format", "not_run", "存储副本缺失，无法检测")]
    kept = [("fixity", "pass", "读取时核对一致"), ("format", "pass", "读取时核对一致")]
    outcomes = {}
    for title, checked in (("读取时缺失", gone), ("读取时正常", kept)):
        pdf = samples.make_pdf(title, [f"{title}的正文"])
        with work.unit(session):
            intake = filing.preflight(session, users["officer"], dossier.id,
                                      {"title": title, "category": "销售"},
                                      [filing.Upload("a.pdf", pdf)], limits=limits)
        filing.read_files(intake)
        store.put(pdf)  # stored where it was read, before the filing's unit
        intake.checked = [checked]
        with work.unit(session):
            document, _ = filing.file_intake(session, intake, store=store, index=False)
        outcomes[title] = dict(session.query(PreservationCheck.item, PreservationCheck.reason)
                               .filter_by(document_id=document.id, stage="filing")
                               .filter(PreservationCheck.file_id.is_not(None)))
        session.commit()
    assert "存储副本重读核对一致" in outcomes["读取时缺失"]["fixity"]
    assert outcomes["读取时正常"] == {"fixity": "读取时核对一致", "format": "读取时核对一致"}
