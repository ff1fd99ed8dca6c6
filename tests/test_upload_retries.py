"""Nothing is lost and nothing is filed twice when an upload's process dies or its
answer never reaches the client (issue 14, finding 5)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from archive import samples
from archive.extensions import db
from archive.models import Document, UploadKey
from archive.services import filing, indexing, work
from tests.conftest import archive_state

ROOT = Path(__file__).resolve().parent.parent


def _search(app, users, text: str, user: str = "officer") -> set[int]:
    from archive.services import finder

    _, result, _ = finder.search(db.session, users[user], {"q": text})
    return {hit.document_id for hit in result.hits}


# A filer whose process is killed (SIGKILL: no cleanup, no finally) at the instant the
# index is written, after the document's transaction has committed.
KILLED_FILER = textwrap.dedent("""
    import os, signal, sys
    from archive import create_app, samples
    from archive.extensions import db
    from archive.models import Dossier, User
    from archive.services import filing, work
    from config import TestConfig

    app = create_app(TestConfig(sys.argv[1]))
    with app.app_context():
        search = app.extensions["search"]
        search.index_many = lambda docs: os.kill(os.getpid(), signal.SIGKILL)
        officer = db.session.query(User).filter_by(username="officer").one()
        dossier = db.session.get(Dossier, int(sys.argv[2]))
        pdf = samples.make_pdf("断电前归档", ["这份文件在索引写入时进程被杀死：楠木回廊"])
        with work.unit(db.session):
            filing.file_document(db.session, officer, dossier.id,
                                 {"title": "断电前归档", "category": "维修"},
                                 [filing.Upload("a.pdf", pdf)], store=app.extensions["blob_store"],
                                 limits=filing.Limits.from_config(app.config))
""")


def test_a_filer_killed_while_indexing_leaves_the_document_flagged_and_it_is_indexed_next(
        app, users, make_customer, make_dossier, file_doc, tmp_path):
    dossier = make_dossier(make_customer())
    db.session.commit()
    script = tmp_path / "killed_filer.py"
    script.write_text(KILLED_FILER)
    app.extensions["search"].close()  # the child writes the same index
    done = subprocess.run([sys.executable, str(script), str(tmp_path), str(dossier.id)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    from archive.services.search import open_search

    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], app.config["INDEX_DIR"])
    db.session.expire_all()
    orphan = db.session.query(Document).filter_by(title="断电前归档").one()
    assert orphan.needs_index, "committed before indexing: must say it is not indexed yet"
    assert orphan.id not in app.extensions["search"].document_ids()
    # The next filing by anyone indexes what was left waiting.
    file_doc(dossier, "下一份维修记录", "维修")
    assert _search(app, users, "楠木回廊") == {orphan.id}
    db.session.expire_all()
    assert not db.session.get(Document, orphan.id).needs_index


def test_documents_are_flagged_until_the_index_holds_them(app, users, make_customer,
                                                          make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    document = file_doc(dossier, "按时索引", "维修")
    db.session.expire_all()
    assert not db.session.get(Document, document.id).needs_index
    assert document.id in app.extensions["search"].document_ids()
    # Filed without indexing (demo data, imports): flagged, and the check run by
    # `make run` indexes it.
    with work.unit(db.session):
        later = filing.file_document(
            db.session, users["officer"], dossier.id, {"title": "稍后索引", "category": "维修"},
            [], store=app.extensions["blob_store"], limits=filing.Limits.from_config(app.config),
            index=False)
    assert db.session.get(Document, later.id).needs_index
    indexing.rebuild_if_needed(db.session)
    db.session.expire_all()
    assert not db.session.get(Document, later.id).needs_index


# -- idempotency keys -------------------------------------------------------------------

# One file for every retry: the same request must carry the same bytes.
RETRIED_PDF = samples.make_pdf("重试的上传", ["网络中断后客户端重试同一上传：青瓦白墙"])


def _post(client, headers, dossier_id, title="重试的上传", key="retry-0001", data=b"", **fields):
    pdf = data or RETRIED_PDF
    return client.post(
        f"/api/v1/dossiers/{dossier_id}/documents",
        data={"title": title, "category": "维修", "file": (__import__("io").BytesIO(pdf), "a.pdf"),
              **fields},
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
        content_type="multipart/form-data")


def test_a_retried_api_upload_returns_the_first_document(app, client, api, users,
                                                         make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    db.session.commit()
    headers = api("officer")
    pdf = samples.make_pdf("重试的上传", ["网络中断后客户端重试同一上传：青瓦白墙"])
    first = _post(client, headers, dossier.id, data=pdf)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    before = archive_state(app)
    again = _post(client, headers, dossier.id, data=pdf)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert archive_state(app) == before
    # Without a key, the same request is a second upload of the same bytes: refused as a
    # duplicate, then filed as a second document once confirmed (issue 18).
    assert _post(client, headers, dossier.id, data=pdf, key=None).status_code == 409
    assert _post(client, headers, dossier.id, data=pdf, key=None,
                 confirm_duplicate="1").get_json()["id"] != first.get_json()["id"]


def test_a_key_reused_for_another_upload_is_refused_and_nothing_changes(
        app, client, api, make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    db.session.commit()
    headers = api("officer")
    assert _post(client, headers, dossier.id).status_code == 201
    before = archive_state(app)
    other = _post(client, headers, dossier.id, title="另一份文件")
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert archive_state(app) == before


def test_keys_belong_to_their_user_and_must_be_well_formed(app, client, api, make_customer,
                                                           make_dossier):
    dossier = make_dossier(make_customer())
    db.session.commit()
    first = _post(client, api("officer"), dossier.id).get_json()
    second = _post(client, api("gmoffice"), dossier.id, confirm_duplicate="1").get_json()
    assert first["id"] != second["id"]
    before = archive_state(app)
    for bad in ("x" * 101, "带中文的键", "with space"):
        refused = _post(client, api("officer"), dossier.id, key=bad)
        assert refused.status_code == 422, bad
        assert refused.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert archive_state(app) == before


def test_a_replay_is_only_shown_to_who_may_still_see_the_document(app, client, api,
                                                                  make_customer, make_dossier):
    """The first document is returned only after the same access check as any read."""
    dossier = make_dossier(make_customer())
    db.session.commit()
    headers = api("staff")
    created = _post(client, headers, dossier.id, classification="1")
    assert created.status_code == 201
    row = db.session.query(UploadKey).one()
    row.document.classification = 3  # raised above the filer's clearance since
    db.session.commit()
    again = _post(client, headers, dossier.id, classification="1")
    assert again.status_code == 404


def test_a_form_submitted_twice_files_once(app, login_as, make_customer, make_dossier):
    dossier = make_dossier(make_customer())
    db.session.commit()
    client = login_as("officer")
    form = client.get(f"/dossiers/{dossier.id}/upload").get_data(as_text=True)
    import re

    key = re.search(r'name="upload_key" value="([^"]+)"', form).group(1)
    assert len(key) >= 16
    data = {"title": "表单重复提交", "category": "维修", "upload_key": key}
    first = client.post(f"/dossiers/{dossier.id}/upload", data=data)
    assert first.status_code == 302
    before = archive_state(app)
    again = client.post(f"/dossiers/{dossier.id}/upload", data=data, follow_redirects=True)
    assert again.status_code == 200
    assert "已提交过" in again.get_data(as_text=True)
    assert archive_state(app) == before
    # A fresh form is a fresh key.
    other = client.get(f"/dossiers/{dossier.id}/upload").get_data(as_text=True)
    assert re.search(r'name="upload_key" value="([^"]+)"', other).group(1) != key
