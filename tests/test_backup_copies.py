"""A DOCX's PDF access copy (previews, stamped copies) is a blob the archive keeps like
the original: a backup whose snapshot names a copy it cannot find says so, and
verify-backup too, instead of passing."""

from sqlalchemy import update

from archive import samples
from archive.extensions import db
from archive.models import StoredFile
from tests.test_backup_integrity import _run


def test_a_backup_missing_an_access_copy_is_not_called_good(app, tmp_path, make_customer,
                                                             make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer("副本客户")), "合同", "签约",
                        files=[("a.pdf", samples.make_pdf("合同", ["合同正文。"]))])
    store = app.extensions["blob_store"]
    copy, _ = store.put(samples.make_pdf("合同", ["访问副本。"]))
    db.session.execute(update(StoredFile).where(StoredFile.id == document.files[0].id)
                       .values(access_copy_sha256=copy, access_copy_status="ok"))
    db.session.commit()
    good = tmp_path / "good"
    assert _run(app, "backup", str(good)).exit_code == 0
    assert _run(app, "verify-backup", str(good)).exit_code == 0

    store.path_for(copy).unlink()  # lost from storage before the next backup
    bad = tmp_path / "bad"
    taken = _run(app, "backup", str(bad))
    assert taken.exit_code == 1 and copy in taken.output, taken.output
    checked = _run(app, "verify-backup", str(bad))
    assert checked.exit_code == 1 and copy in checked.output, checked.output
