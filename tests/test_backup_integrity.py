"""Backups under writes and backups damaged (issue 21, docs/backup.md): a backup taken while
filers upload through the API restores to a consistent archive, and a corrupted or
truncated file of a backup — a blob, the database snapshot, the manifest, the version file
— is found by `verify-backup`, which exits non-zero naming it."""

import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archive import create_app, samples
from archive.extensions import db
from archive.models import AuditEvent, Document, StoredFile
from archive.services import backup
from config import TestConfig
from tests import databases

FILERS = 2


def _run(app, *args):
    with app.app_context():
        return CliRunner().invoke(app.cli, list(args), catch_exceptions=False)


def _dossier(client, headers) -> int:
    customer = client.post("/api/v1/customers", headers=headers,
                           json={"name": "并发客户", "kind": "person",
                                 "department": "销售经营部"})
    assert customer.status_code == 201, customer.json
    dossier = client.post("/api/v1/dossiers", headers=headers, json={
        "customer_id": customer.json["id"],
        "unit": {"project": "翠湖苑", "building": "3", "unit": "2", "room": "1201"}})
    assert dossier.status_code == 201, dossier.json
    return dossier.json["id"]


class Filer(threading.Thread):
    """Uploads PDFs, each of its own content, through the API until told to stop,
    noting when each upload started and ended."""

    def __init__(self, app, headers, dossier_id, number):
        super().__init__(daemon=True)
        self.app, self.headers, self.dossier_id, self.number = app, headers, dossier_id, number
        self.stop = threading.Event()
        self.spans: list[tuple[float, float]] = []
        self.errors: list[str] = []

    def run(self):
        client = self.app.test_client()
        n = 0
        while not self.stop.is_set() and n < 200:
            n += 1
            pdf = samples.make_pdf(f"收据{self.number}-{n}", [f"第 {self.number}-{n} 份收据。"])
            started = time.monotonic()
            response = client.post(
                f"/api/v1/dossiers/{self.dossier_id}/documents", headers=self.headers,
                data={"title": f"收据 {self.number}-{n}", "category": "销售",
                      "file": (io.BytesIO(pdf), f"r{self.number}-{n}.pdf")},
                content_type="multipart/form-data")
            if response.status_code != 201:
                self.errors.append(f"{response.status_code} {response.get_data(as_text=True)}")
                return
            self.spans.append((started, time.monotonic()))


def _uploads(filers) -> int:
    return sum(len(f.spans) for f in filers)


def test_a_backup_taken_during_uploads_restores_to_a_consistent_archive(
        app, client, api, tmp_path, tmp_path_factory):
    headers = api("officer")
    dossier_id = _dossier(client, headers)
    db.session.commit()
    filers = [Filer(app, headers, dossier_id, i) for i in range(FILERS)]
    for filer in filers:
        filer.start()
    deadline = time.monotonic() + 120
    while _uploads(filers) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    dest = tmp_path / "backup"
    began = time.monotonic()
    taken = _run(app, "backup", str(dest))
    ended = time.monotonic()
    done_at_end = _uploads(filers)
    while _uploads(filers) < done_at_end + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    for filer in filers:
        filer.stop.set()
    for filer in filers:
        filer.join(60)
    assert not [e for f in filers for e in f.errors]
    assert taken.exit_code == 0, taken.output
    # Uploads ran while the backup did: one was under way at its start or during it.
    assert any(s < ended and e > began for f in filers for s, e in f.spans)
    assert _run(app, "verify-backup", str(dest)).exit_code == 0

    version = json.loads((dest / "version.json").read_text())
    root = tmp_path_factory.mktemp("restored")
    databases.create_empty(root)
    (root / "instance").mkdir()
    shutil.copy(Path(app.config["INSTANCE_DIR"]) / "audit_key", root / "instance")
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    with other.app_context():
        documents = db.session.query(Document).count()
        # The snapshot is one moment: some uploads before it, the rest after.
        assert 4 <= documents == version["counts"]["documents"] < 4 + _uploads(filers) + 1
        assert db.session.query(StoredFile).count() == version["counts"]["stored_files"]
        events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
        assert events == version["counts"]["audit_events"] + 1  # and backup.restored
        storage = Path(other.config["STORAGE_DIR"])
        for stored in db.session.query(StoredFile):
            blob = storage / stored.sha256[:2] / stored.sha256[2:4] / stored.sha256
            assert blob.exists() and backup.sha256_file(blob) == stored.sha256
        db.session.commit()
    verified = _run(other, "verify-audit", "--full")
    assert verified.exit_code == 0, verified.output


def _flip_last_byte(path: Path) -> None:
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))


def _truncate(path: Path) -> None:
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _change_a_digest(path: Path) -> None:
    manifest = json.loads(path.read_text())
    name = sorted(manifest["files"])[0]
    manifest["files"][name] = "0" * 64
    path.write_text(json.dumps(manifest, indent=1))


def _delete(path: Path) -> None:
    path.unlink()


def _snapshot(dest: Path) -> Path:
    """The database as backed up: SQLite's file or PostgreSQL's dump."""
    return next(p for p in (dest / "database" / "archive.db", dest / "database" / "archive.dump")
                if p.exists())


def _first_blob(dest: Path) -> Path:
    return sorted(p for p in (dest / "blobs").rglob("*") if p.is_file())[0]


@pytest.mark.parametrize(("target", "damage"), [
    ("blob", _flip_last_byte),
    ("blob", _truncate),
    ("database", _flip_last_byte),
    ("database", _truncate),
    ("manifest.json", _truncate),
    ("manifest.json", _change_a_digest),
    ("version.json", _truncate),
    ("manifest.json.sha256", _delete),
    ("manifest.json.sha256", _truncate),
])
def test_a_corrupted_or_truncated_backup_file_is_named_by_verify_backup(
        app, tmp_path, make_customer, make_dossier, file_doc, target, damage):
    dossier = make_dossier(make_customer("备份客户"))
    file_doc(dossier, "认购书", "销售", files=[("a.pdf", samples.make_pdf("认购书", ["认购。"]))])
    db.session.commit()
    dest = tmp_path / "backup"
    assert _run(app, "backup", str(dest)).exit_code == 0
    path = (_first_blob(dest) if target == "blob" else _snapshot(dest) if target == "database"
            else dest / target)
    damage(path)
    checked = _run(app, "verify-backup", str(dest))
    assert checked.exit_code == 1
    assert str(path.relative_to(dest)) in checked.output, checked.output
    assert "备份校验失败" in checked.output
