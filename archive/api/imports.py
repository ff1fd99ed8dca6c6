"""/api/v1 routes for bulk import (批量导入, issue 19): upload a ZIP (queued, never run in
the request) and follow its progress and per-row report."""

from flask import current_app, jsonify, request, url_for
from flask_login import current_user, login_required

from archive.api import bp
from archive.api.serialize import timestamp
from archive.extensions import db
from archive.services import access, import_uploads, imports, preservation, work
from archive.services.errors import Invalid


def import_json(batch, *, rows: bool = True) -> dict:
    body = {
        "id": batch.id,
        "kind": batch.kind,
        "source": batch.source,
        "manifest_sha256": batch.manifest_sha256,
        "state": {"value": batch.state, "label": batch.state_enum.label},
        "error": batch.error,
        "progress": {"done": batch.rows_done, "total": batch.rows_total},
        "counts": imports.counts(db.session, batch),
        "created_by": batch.created_by.username,
        "created_at": timestamp(batch.created_at),
        "finished_at": timestamp(batch.finished_at),
        "report_csv": url_for("imports.report", import_id=batch.id),
    }
    if rows:
        body["preservation"] = preservation.of_import(db.session, batch)
    if rows:
        body["rows"] = [{"row": r.row_number, "state": r.state, "label": r.state_enum.label,
                         "customer": r.customer, "dossier_number": r.dossier_number,
                         "title": r.title, "document_id": r.document_id, "reason": r.reason}
                        for r in batch.rows]
    return body


@bp.post("/imports")
@login_required
def create_import():
    access.require(current_user, "import.run")  # before the body says anything
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid("请在 file 字段上传 ZIP 压缩包", code="missing_field", details={"field": "file"})
    with work.unit(db.session):
        batch = import_uploads.receive_zip(db.session, current_user, upload.filename, upload.stream,
                                    imports.Settings.from_app(current_app))
    return jsonify(import_json(batch, rows=False)), 202


@bp.get("/imports/<int:import_id>")
@login_required
def get_import(import_id: int):
    batch = imports.get_import(db.session, current_user, import_id)
    return jsonify(import_json(batch))


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    oa.SCHEMAS.update({
        "Import": {"type": "object", "required": ["id", "state", "progress", "counts"],
                   "properties": {
                       "id": {"type": "integer"}, "kind": {"type": "string"},
                       "source": {"type": "string"}, "manifest_sha256": {"type": "string"},
                       "state": {"type": "object", "description": "queued, running, done, failed"},
                       "error": oa._nullable("string"),
                       "progress": {"type": "object", "properties": {
                           "done": {"type": "integer"}, "total": {"type": "integer"}}},
                       "counts": {"type": "object", "properties": {
                           k: {"type": "integer"}
                           for k in ("filed", "skipped", "refused", "waiting")}},
                       "created_by": {"type": "string"}, "created_at": {"type": "string"},
                       "finished_at": oa._nullable("string"),
                       "preservation": {"anyOf": [oa._ref("PreservationSummary"),
                                                  {"type": "null"}], "description": (
                           "四性检测 (DA/T 70) at filing of the documents this import filed; "
                           "null while none is filed")},
                       "report_csv": {"type": "string", "description": "the report as CSV"},
                       "rows": {"type": "array", "items": {"type": "object", "properties": {
                           "row": {"type": "integer"}, "state": {"type": "string"},
                           "label": {"type": "string"}, "customer": {"type": "string"},
                           "dossier_number": {"type": "string"}, "title": {"type": "string"},
                           "document_id": oa._nullable("integer"),
                           "reason": {"type": "string"}}}}}},
    })
    oa.PATHS.update({
        "/api/v1/imports": {"post": oa._operation(
            "Import a ZIP (the archive room): a manifest (manifest.csv/.xlsx or 清单.csv/.xlsx) "
            "and the files it names. The ZIP is checked (entries, unpacked size and ratio, "
            "names, links) and its manifest read before it is queued; the rows are filed by "
            "the background worker. A ZIP of a manifest imported before resumes that import.",
            "imports", (202, oa._json(oa._ref("Import"), "The import, queued.")),
            (403, 409, 413, 422),
            requestBody={"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "contentMediaType": "application/zip"}}},
                "encoding": {"file": {"contentType": "application/zip"}}}}})},
        "/api/v1/imports/{import_id}": {"get": oa._operation(
            "An import's progress and its report, row by row (filed, skipped as already in "
            "the dossier, refused with the reason)", "imports",
            (200, oa._json(oa._ref("Import"), "The import.")), (403, 404),
            parameters=[oa._id("import_id", "import")])},
    })
    oa.SPEC["tags"] += [{"name": "imports"}]


_describe()
