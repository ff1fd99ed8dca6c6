"""Uploaded imports on the task queue (archive/worker.py's huey): the web request stores,
checks and unpacks the ZIP and queues the import's id; `flask worker` runs it. A page
request never waits for an import.

huey does not acknowledge tasks: the import's row holds its state and lease, and a sweep
every minute queues again an import whose worker died (lease run out) or whose message
was lost. Rows already filed stay filed, so running an import twice files nothing twice.
"""

import logging

from flask import Flask

from archive.extensions import db
from archive.services import import_uploads, imports, work

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    from huey import crontab

    huey = app.extensions["job_queue"].huey

    @huey.task(name="run_import", retries=0)
    def run_import(import_id: int) -> None:
        with app.app_context():
            run(app, import_id)
            db.session.remove()

    @huey.periodic_task(crontab(minute="*"), name="import_sweep")
    def import_sweep() -> None:
        with app.app_context():
            sweep(app)
            db.session.remove()

    app.extensions["import_queue"] = run_import


def run(app: Flask, import_id: int):
    """Run an uploaded import in this process (what the queued task does)."""
    return import_uploads.run_uploaded(db.session, import_id, imports.Settings.from_app(app))


def sweep(app: Flask) -> list[int]:
    """Queue again the uploaded imports of dead workers and lost messages."""
    settings = imports.Settings.from_app(app)
    with work.unit(db.session):
        ids = import_uploads.stalled(db.session, stale_seconds=settings.lease_seconds)
    for import_id in ids:
        import_uploads.dispatch(import_id)
    return ids
