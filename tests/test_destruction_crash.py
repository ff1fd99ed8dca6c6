"""A destruction killed between an item's tombstone and its purge (SIGKILL: no cleanup,
no finally) leaves the item 待清除 with its register row; the sweep finishes it, and
verify-storage treats its purged blob as expected (issue 17)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from archive import samples
from archive.extensions import db
from archive.models import Document, RegisterEntry
from archive.services import destruction, work
from tests.conftest import PASSWORDS

ROOT = Path(__file__).resolve().parent.parent

# Executes the approved batch and dies at the instant the first purge would begin: the
# tombstone and register row are committed, the blob and index entry not yet touched.
KILLED_EXECUTOR = textwrap.dedent("""
    import os, signal, sys
    from archive import create_app
    from archive.extensions import db
    from archive.models import User
    from archive.services import destruction
    from config import TestConfig

    app = create_app(TestConfig(sys.argv[1]))
    with app.app_context():
        destruction._purge = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        officer = db.session.query(User).filter_by(username="officer").one()
        destruction.execute(db.session, officer, int(sys.argv[2]), {
            "supervisors": [{"username": "auditor", "password": sys.argv[3]},
                            {"username": "legal", "password": sys.argv[4]}]},
            store=app.extensions["blob_store"])
""")


def test_a_destruction_killed_before_the_purge_is_finished_by_the_sweep(
        app, users, make_customer, make_dossier, file_doc, tmp_path):
    from archive.services import approvals

    dossier = make_dossier(make_customer("秦断电"))
    pdf = samples.make_pdf("投诉记录", ["断电销毁测试：青瓷回廊"])
    old = file_doc(dossier, "投诉记录", "投诉", files=[("t.pdf", pdf)], date="2022-01-01")
    sha = old.files[0].sha256
    with work.unit(db.session):
        batch = destruction.propose(db.session, users["officer"],
                                    {"items": [old.id], "reason": "期满"})
        request = destruction.requests_of(batch)[0]
        approvals.approve(db.session, users["gmoffice"], request.id, "",
                          {"supervisors": ["auditor", "legal"]})
        batch_id = batch.id
    store = app.extensions["blob_store"]
    assert store.exists(sha)
    script = tmp_path / "killed_executor.py"
    script.write_text(KILLED_EXECUTOR)
    app.extensions["search"].close()  # the child writes the same index
    done = subprocess.run([sys.executable, str(script), str(tmp_path), str(batch_id),
                           PASSWORDS["auditor"], PASSWORDS["legal"]],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    from archive.services.search import open_search

    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], app.config["INDEX_DIR"])
    db.session.expire_all()
    tomb = db.session.get(Document, old.id)
    assert tomb.status == "purging" and tomb.files[0].text == ""
    assert db.session.query(RegisterEntry).filter_by(document_id=old.id).count() == 1
    assert store.exists(sha)  # the purge never ran

    runner = CliRunner()
    swept = runner.invoke(app.cli, ["destruction-sweep"], catch_exceptions=False)
    assert swept.exit_code == 0 and "清除了 1 件" in swept.output
    db.session.expire_all()
    assert db.session.get(Document, old.id).status == "destroyed"
    assert not store.exists(sha)
    assert old.id not in app.extensions["search"].document_ids()
    checked = runner.invoke(app.cli, ["verify-storage"], catch_exceptions=False)
    assert checked.exit_code == 0 and "已按销毁清单清除" in checked.output
    # The batch itself resumes with both supervisors confirming again, and ends.
    from archive.models.retention import Destruction

    assert db.session.get(Destruction, batch_id).status == "executing"
    destruction.execute(db.session, users["officer"], batch_id, {
        "supervisors": [{"username": "auditor", "password": PASSWORDS["auditor"]},
                        {"username": "legal", "password": PASSWORDS["legal"]}]}, store=store)
    db.session.expire_all()
    assert db.session.get(Destruction, batch_id).status == "done"
    assert db.session.query(RegisterEntry).filter_by(document_id=old.id).count() == 1
