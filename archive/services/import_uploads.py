"""Imports uploaded as a ZIP (issue 19): stored, checked and unpacked in the request,
then run on the task queue (archive/import_queue.py) from the unpacked folder.
"""

import logging
import secrets
import shutil
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from archive.clock import now
from archive.models import User
from archive.models.imports import Import, ImportState
from archive.services import access, import_sources, work
from archive.services.errors import Invalid
from archive.services.imports import Settings, lease_over, open_import, run

log = logging.getLogger(__name__)


def receive_zip(session, actor: User, filename: str, stream, settings: Settings) -> Import:
    """A ZIP uploaded for import: stored, its directory checked (entries, sizes, ratio,
    names, links; see import_sources), unpacked under `settings.root`/<import id> and its
    manifest read, all before anything is queued; the import is handed to the task queue
    once the unit commits. A refused ZIP leaves nothing behind."""
    access.require(actor, "import.run")
    if not (filename or "").lower().endswith(".zip"):
        raise Invalid("请上传 ZIP 压缩包（.zip 文件）", code="bad_zip")
    settings.root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    upload, incoming = settings.root / f"upload-{token}.zip", settings.root / f"incoming-{token}"
    try:
        with open(upload, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        import_sources.unpack(upload, incoming, settings.zip_limits)
        batch = open_import(session, actor, incoming, kind="zip", source=filename)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    finally:
        upload.unlink(missing_ok=True)
    target = settings.root / str(batch.id)
    shutil.rmtree(target, ignore_errors=True)  # an earlier upload of the same manifest
    incoming.rename(target)
    work.after_rollback(session, lambda: shutil.rmtree(target, ignore_errors=True))
    work.after_commit(session, lambda: dispatch(batch.id))
    return batch


def dispatch(import_id: int) -> None:
    """Hand an import to the task queue; one the queue cannot take (Redis down) stays
    queued for the sweep."""
    try:
        current_app.extensions["import_queue"](import_id)
    except Exception:
        log.exception("job queue unavailable: import %s stays queued for the sweep", import_id)


def run_uploaded(session, import_id: int, settings: Settings) -> Import | None:
    """Run an uploaded import from its unpacked folder (in the worker); the folder is
    removed once the import has ended. None if it was not this worker's to run."""
    batch = session.get(Import, import_id)
    if batch is None or batch.kind != "zip":
        return None
    folder = settings.root / str(import_id)
    if not folder.is_dir():
        with work.unit(session):
            if batch.state in (ImportState.QUEUED, ImportState.RUNNING) and lease_over(batch):
                batch.fail("导入的文件已不在服务器上，请重新上传压缩包", now())
        return batch
    result = run(session, batch.created_by, import_id, folder, settings)
    if result is not None and result.state in (ImportState.DONE, ImportState.FAILED):
        shutil.rmtree(folder, ignore_errors=True)
    return result


def stalled(session, stale_seconds: int) -> list[int]:
    """Uploaded imports to hand to the queue again: running in a worker that has died (on
    this host as soon as it has, elsewhere once its lease has run out: imports.lease_over)
    or queued for longer than `stale_seconds` (a message lost). A worker killed mid-import
    and started again took its import up only when the lease ran out, up to
    IMPORT_LEASE_SECONDS later."""
    moment = now()
    running = session.execute(select(Import).where(
        Import.kind == "zip", Import.state == ImportState.RUNNING.value)).scalars().all()
    lost = session.execute(select(Import.id).where(
        Import.kind == "zip", Import.state == ImportState.QUEUED.value,
        Import.updated_at < moment - timedelta(seconds=stale_seconds))).scalars().all()
    return sorted({batch.id for batch in running if lease_over(batch)} | set(lost))
