"""The archive room's bulk import page (批量导入): upload a ZIP, watch its progress, read
and download its report. The import runs on the task queue, never in the request."""

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models.imports import ImportState
from archive.services import access, import_sources, import_uploads, imports, preservation, work
from archive.services.errors import DomainError

bp = Blueprint("imports", __name__)

STATE_LABELS = {"queued": lazy_gettext("排队中"), "running": lazy_gettext("导入中"),
                "done": lazy_gettext("已完成"), "failed": lazy_gettext("失败")}
ROW_LABELS = {"filed": lazy_gettext("已归档"), "skipped": lazy_gettext("已跳过（已归档）"),
              "refused": lazy_gettext("拒收")}


@bp.context_processor
def _labels():
    return {"state_labels": STATE_LABELS, "row_labels": ROW_LABELS}


@bp.get("/imports")
@login_required
def index():
    batches = imports.list_imports(db.session, current_user)
    return render_template("imports/index.html", batches=batches,
                           counts={b.id: imports.counts(db.session, b) for b in batches},
                           columns=[h[0] for h in import_sources.COLUMNS.values()],
                           manifests=import_sources.MANIFEST_NAMES)


@bp.post("/imports")
@login_required
def upload():
    access.require(current_user, "import.run")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择要导入的 ZIP 压缩包"), "error")
        return redirect(url_for("imports.index"))
    try:
        with work.unit(db.session):
            batch = import_uploads.receive_zip(db.session, current_user, upload.filename, upload.stream,
                                        imports.Settings.from_app(current_app))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("imports.index"))
    flash(_("已收到压缩包，共 %(rows)s 行，正在后台导入", rows=batch.rows_total), "info")
    return redirect(url_for("imports.show", import_id=batch.id))


@bp.get("/imports/<int:import_id>")
@login_required
def show(import_id: int):
    batch = imports.get_import(db.session, current_user, import_id)
    return render_template("imports/show.html", batch=batch,
                           counts=imports.counts(db.session, batch),
                           working=batch.state in (ImportState.QUEUED, ImportState.RUNNING),
                           preservation=preservation.of_import(db.session, batch))


@bp.get("/imports/<int:import_id>/report.csv")
@login_required
def report(import_id: int):
    batch = imports.get_import(db.session, current_user, import_id)
    return Response(imports.report_csv(batch), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=import-{batch.id}.csv"})
