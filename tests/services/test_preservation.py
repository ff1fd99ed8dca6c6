"""四性检测 (DA/T 70) at filing: each file and document gets the checks that apply, the
results are kept, and nothing filing accepts is refused because of them."""

from archive import samples
from archive.extensions import db
from archive.models import PreservationCheck, StoredFile
from archive.services import preservation
from tests import hostile_files

PDF = samples.make_pdf("认购书", ["客户张伟认购翠湖苑3栋2单元1201，合同编号HT-2024-0031。"])


def _results(document) -> dict:
    """(file name or None, item) -> (outcome, reason), as filing recorded them."""
    rows = db.session.query(PreservationCheck).filter_by(document_id=document.id).all()
    names = {f.id: f.original_name for f in document.files}
    return {(names.get(r.file_id), r.item): (r.outcome, r.reason) for r in rows}


def test_a_good_pdf_passes_every_check_that_applies(make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("认购书.pdf", PDF)],
                        date="2024-03-01")
    found = _results(document)
    assert {item for (_n, item) in found} == {"metadata", "format", *preservation.FILE_ITEMS}
    assert found[(None, "metadata")][0] == "pass"
    for item in ("fixity", "format", "encryption", "readable"):
        assert found[("认购书.pdf", item)][0] == "pass", (item, found[("认购书.pdf", item)])
    assert document.files[0].sha256[:16] in found[("认购书.pdf", "fixity")][1]
    assert "有文字层" in found[("认购书.pdf", "readable")][1]
    # ClamAV is not installed here: the normal state, said so, never a failure.
    assert found[("认购书.pdf", "virus")] == ("not_run", "ClamAV 未安装")


def test_an_owner_password_pdf_is_filed_but_fails_the_encryption_check(
        make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()),
                        files=[("合同.pdf", hostile_files.make_owner_only_encrypted_pdf())])
    found = _results(document)
    assert found[("合同.pdf", "encryption")][0] == "fail"
    assert "已加密" in found[("合同.pdf", "encryption")][1]
    assert found[("合同.pdf", "fixity")][0] == "pass"


def test_a_scan_is_readable_without_a_text_layer(make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("扫描.png", samples.make_png(["扫描件"]))])
    found = _results(document)
    assert found[("扫描.png", "readable")][0] == "pass"
    assert found[("扫描.png", "encryption")][0] == "pass"


def test_page_count_metadata_against_the_file(make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("认购书.pdf", PDF)], pages="7")
    outcome, reason = _results(document)[(None, "format")]
    assert outcome == "fail" and "著录页数 7" in reason


def test_a_png_declared_as_pdf_fails_the_type_check(app, make_customer, make_dossier,
                                                    file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("扫描.png", samples.make_png(["扫描件"]))])
    stored = document.files[0]
    # As a record from elsewhere (an older system, a transfer) could claim: named and
    # catalogued a PDF, the bytes a PNG.
    claimed = StoredFile(sha256=stored.sha256, size=stored.size, mime="application/pdf",
                         kind="pdf", original_name="扫描.pdf", pages=1, text_status="empty")
    results = dict((item, (outcome, reason)) for item, outcome, reason in preservation.check_file(
        claimed, None, app.extensions["blob_store"]))
    assert results["format"][0] == "fail"
    assert "PNG" in results["format"][1]
    assert results["fixity"][0] == "pass"


def test_paper_only_documents_have_no_file_checks(make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()))
    found = _results(document)
    assert found[(None, "format")][0] == "not_applicable"
    assert set(found) == {(None, "metadata"), (None, "format")}


def test_results_are_a_record_never_rewritten(make_customer, make_dossier, file_doc):
    import pytest

    document = file_doc(make_dossier(make_customer()), files=[("认购书.pdf", PDF)])
    row = db.session.query(PreservationCheck).filter_by(document_id=document.id).first()
    row.outcome = "pass" if row.outcome != "pass" else "fail"
    with pytest.raises(ValueError):
        db.session.flush()
    db.session.rollback()
