"""四性检测 reports (DA/T 70): the storage runs `flask check-archive` and the queue keep,
each run's items and a CSV download; for the archive room and the auditors."""

from flask import Blueprint, Response, render_template
from flask_login import current_user, login_required

from archive.extensions import db
from archive.services import preservation, preservation_storage, work

bp = Blueprint("preservation", __name__, url_prefix="/preservation")


@bp.context_processor
def _items():
    return {"ITEMS": preservation.ITEMS, "OUTCOMES": preservation.OUTCOME_LABELS}


@bp.get("")
@login_required
def index():
    with work.unit(db.session):
        _total, runs = preservation_storage.list_runs(db.session, current_user)
    return render_template("preservation/index.html", runs=runs)


@bp.get("/runs/<int:run_id>")
@login_required
def show(run_id: int):
    with work.unit(db.session):
        run = preservation_storage.get_run(db.session, current_user, run_id)
        items = preservation_storage.items_of(run)
    return render_template("preservation/show.html", run=run, items=items)


@bp.get("/runs/<int:run_id>/report.csv")
@login_required
def report(run_id: int):
    with work.unit(db.session):
        run = preservation_storage.get_run(db.session, current_user, run_id)
        body = preservation_storage.report_csv(run)
    return Response(body, mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=preservation-{run.id}.csv"})
