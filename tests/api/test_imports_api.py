"""POST /api/v1/imports (a ZIP) and GET /api/v1/imports/<id> (issue 19): the upload is
checked and queued, never run in the request; the worker files the rows; hostile ZIPs are
refused with the reason and leave nothing behind."""

import io
import zipfile

from archive import samples
from archive.extensions import db
from archive.models import Document, Import
from tests.conftest import archive_state
from tests.import_folders import mixed_folder, row, write_manifest, zip_folder


def _post(call, username, data: bytes, name="档案.zip"):
    return call(username, "POST", "/api/v1/imports", data={"file": (io.BytesIO(data), name)})


def _staging(app) -> list[str]:
    root = app.config["INSTANCE_DIR"] / "imports"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _run_queue(app) -> list[str]:
    """Run what the worker would: every task waiting on the queue (the import, and the
    jobs its rows queued: a DOCX's access copy). The names of the tasks run."""
    huey = app.extensions["job_queue"].huey
    db.session.commit()  # outside a request the test's session holds the write lock
    ran = []
    while (task := huey.dequeue()) is not None:
        huey.execute(task)  # in an app context (and a database session) of its own
        ran.append(task.name)
    db.session.commit()  # end the test's read, begun before the worker's commits
    return ran


def test_a_zip_with_gbk_names_is_queued_then_filed_by_the_worker(app, call, tmp_path):
    expected = mixed_folder(tmp_path / "archive")
    response = _post(call, "officer", zip_folder(tmp_path / "archive", gbk=True))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["state"]["value"] == "queued"
    assert body["progress"] == {"done": 0, "total": 9}
    assert body["counts"]["waiting"] == 9
    # The request did not wait for the import: nothing is filed yet.
    assert db.session.query(Document).count() == 0
    assert _staging(app) == [str(body["id"])]

    assert _run_queue(app).count("run_import") == 1
    done = call("officer", "GET", f"/api/v1/imports/{body['id']}").get_json()
    assert done["state"]["value"] == "done"
    assert done["progress"] == {"done": 9, "total": 9}
    assert done["counts"] == {"filed": 3, "skipped": 1, "refused": 5, "waiting": 0}
    assert {r["row"]: r["state"] for r in done["rows"]} == expected
    reasons = {r["row"]: r["reason"] for r in done["rows"]}
    assert "照片.pdf" in reasons[7] and "坏文件.docx" in reasons[5]  # GBK names read right
    names = sorted(f.original_name for d in db.session.query(Document) for f in d.files)
    assert names == ["合同.docx", "认购书.pdf"]
    assert _staging(app) == []  # unpacked files removed once imported


def test_a_second_upload_of_the_same_manifest_resumes_its_import(app, call, tmp_path):
    mixed_folder(tmp_path / "archive")
    data = zip_folder(tmp_path / "archive")
    first = _post(call, "officer", data).get_json()
    _run_queue(app)
    before = archive_state(app)
    again = _post(call, "officer", data)
    assert again.status_code == 202 and again.get_json()["id"] == first["id"]
    _run_queue(app)
    assert archive_state(app) == before
    assert db.session.query(Import).count() == 1


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_hostile_or_broken_uploads_are_refused_and_leave_nothing(app, call, tmp_path):
    app.config["IMPORT_MAX_UNPACKED_MB"] = 1
    app.config["IMPORT_MAX_ENTRIES"] = 5
    manifest = tmp_path / "m"
    manifest.mkdir()
    write_manifest(manifest, [row("纸质文件")])
    good_manifest = (manifest / "manifest.csv").read_bytes()
    cases = [
        (_zip({"manifest.csv": good_manifest, "bomb.bin": bytes(3 * 2**20)}), 413, "zip_bomb"),
        (_zip({f"{i}.txt": b"x" for i in range(6)}), 413, "too_many_entries"),
        (_zip({"manifest.csv": good_manifest, "../evil.pdf": b"x"}), 422, "bad_path"),
        (_zip({"readme.txt": b"no manifest"}), 422, "bad_manifest"),
        (_zip({"manifest.csv": "题名,文件\n".encode()}), 422, "bad_manifest"),
        (samples.make_pdf("不是压缩包", ["x"]), 422, "bad_zip"),
    ]
    before = archive_state(app)
    for data, status, code in cases:
        response = _post(call, "officer", data)
        assert response.status_code == status, (code, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == code and error["message"], error
    named = _post(call, "officer", _zip({"manifest.csv": good_manifest}), name="档案.rar")
    assert named.status_code == 422 and "ZIP" in named.get_json()["error"]["message"]
    assert archive_state(app) == before
    assert db.session.query(Import).count() == 0 and _staging(app) == []
    assert app.extensions["job_queue"].huey.pending_count() == 0


def test_only_the_archive_room_imports_or_reads_imports(app, call, tmp_path):
    mixed_folder(tmp_path / "archive")
    data = zip_folder(tmp_path / "archive")
    refused = _post(call, "staff", data)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert db.session.query(Import).count() == 0
    created = _post(call, "gmoffice", data).get_json()
    assert call("staff", "GET", f"/api/v1/imports/{created['id']}").status_code == 403
    assert call("officer", "GET", f"/api/v1/imports/{created['id']}").status_code == 200
    assert call("officer", "GET", "/api/v1/imports/987654").status_code == 404


def test_an_import_whose_worker_died_on_this_host_is_queued_again_at_once(app, call, tmp_path):
    """A worker killed mid-import and started again took the import up only once its lease
    had run out (IMPORT_LEASE_SECONDS, 5 minutes): a worker on this host that is gone is
    known to be gone now."""
    import socket
    import subprocess
    from datetime import timedelta

    from archive.clock import now
    from archive.services import import_uploads, work

    mixed_folder(tmp_path / "archive")
    first = _post(call, "officer", zip_folder(tmp_path / "archive")).get_json()
    gone = subprocess.Popen(["true"])
    gone.wait()
    with work.unit(db.session):
        batch = db.session.get(Import, first["id"])
        batch.start(f"{socket.gethostname()}:{gone.pid}", now() + timedelta(minutes=5), now())
    with work.unit(db.session):
        assert import_uploads.stalled(db.session, stale_seconds=300) == [first["id"]]
        batch.worker = f"another-host:{gone.pid}"  # elsewhere: trusted until its lease ends
    with work.unit(db.session):
        assert import_uploads.stalled(db.session, stale_seconds=300) == []
