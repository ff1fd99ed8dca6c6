"""/api/v1 routes for the storage checks (四性检测 in storage, DA/T 70, issue 21): the runs
`flask check-archive` and the queue's nightly job keep, each with its items, as the pages
and the CSV show them; for the archive room and the auditors."""

from flask import jsonify, request, url_for
from flask_login import current_user, login_required

from archive.api import bp
from archive.api.serialize import timestamp
from archive.extensions import db
from archive.services import preservation, preservation_storage, validation, work

PER_PAGE = 20


def _check(check) -> dict:
    # Subjects name documents and files by number only (the report is read whatever a
    # document's level); the document's id is given for a link, never its title.
    return {"outcome": {"key": check.outcome, "label": preservation.OUTCOME_LABELS[check.outcome]},
            "subject": check.subject, "reason": check.reason,
            "document_id": check.document_id, "file_id": check.file_id,
            "checked_at": timestamp(check.checked_at)}


def run_json(run, *, items: bool = True) -> dict:
    body = {
        "id": run.id,
        "trigger": run.trigger,
        "outcome": {"key": run.outcome, "label": preservation.OUTCOME_LABELS[run.outcome]},
        "failures": run.failures,
        "started_at": timestamp(run.started_at),
        "finished_at": timestamp(run.finished_at),
        "report_csv": url_for("preservation.report", run_id=run.id),
    }
    if items:
        body["items"] = [
            {"item": summary.item, "property": preservation.ITEMS[summary.item].property_label,
             "name": preservation.ITEMS[summary.item].name, **_check(summary),
             "failing": [_check(c) for c in failing]}
            for summary, failing in preservation_storage.items_of(run)]
    return body


@bp.get("/storage-checks")
@login_required
def list_storage_checks():
    page = validation.page(request.args)
    with work.unit(db.session):
        total, runs = preservation_storage.list_runs(db.session, current_user, page=page,
                                                     per_page=PER_PAGE)
        body = {"total": total, "page": page, "per_page": PER_PAGE,
                "runs": [run_json(r, items=False) for r in runs]}
    return jsonify(body)


@bp.get("/storage-checks/<int:run_id>")
@login_required
def get_storage_check(run_id: int):
    with work.unit(db.session):
        body = run_json(preservation_storage.get_run(db.session, current_user, run_id))
    return jsonify(body)


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    outcome = {"type": "object", "required": ["key", "label"], "properties": {
        "key": {"type": "string", "enum": list(preservation.OUTCOME_LABELS)},
        "label": {"type": "string"}}}
    check = {
        "outcome": outcome,
        "subject": {"type": "string", "description": (
            "what was checked, by number only (文件 12 的电子文件 #34, a group, a blob's "
            "SHA-256): never a title or a file name")},
        "reason": {"type": "string"}, "document_id": oa._nullable("integer"),
        "file_id": oa._nullable("integer"), "checked_at": {"type": "string"}}
    run = {"id": {"type": "integer"}, "trigger": {"type": "string", "description": "cli, queue"},
           "outcome": outcome, "failures": {"type": "integer"},
           "started_at": {"type": "string"}, "finished_at": {"type": "string"},
           "report_csv": {"type": "string", "description": "the report as CSV"}}
    oa.SCHEMAS.update({
        "StorageCheck": {"type": "object", "required": list(run) + ["items"], "properties": {
            **run,
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "item": {"type": "string", "enum": list(preservation.ITEMS)},
                "property": {"type": "string", "description": "DA/T 70's 四性 property"},
                "name": {"type": "string", "description": "DA/T 70's check item"},
                **check,
                "failing": {"type": "array", "items": {"type": "object",
                                                       "properties": check}}}}}}},
        "StorageCheckList": {"type": "object", "required": ["total", "page", "per_page", "runs"],
                             "properties": {
                                 "total": {"type": "integer"}, "page": {"type": "integer"},
                                 "per_page": {"type": "integer"},
                                 "runs": {"type": "array", "items": {
                                     "type": "object", "required": list(run),
                                     "properties": run}}}},
    })
    oa.PATHS.update({
        "/api/v1/storage-checks": {"get": oa._operation(
            "Storage checks (四性检测 of the whole archive), newest first, 20 a page "
            "(the archive room, the GM and the auditors)", "preservation",
            (200, oa._json(oa._ref("StorageCheckList"), "One page of runs.")), (403,),
            parameters=[oa._query("page", "Page number.", {"type": "integer", "minimum": 1})])},
        "/api/v1/storage-checks/{run_id}": {"get": oa._operation(
            "A storage check with each DA/T 70 item it covers and the failing rows "
            "(documents and files named by number only)", "preservation",
            (200, oa._json(oa._ref("StorageCheck"), "The run.")), (403, 404),
            parameters=[oa._id("run_id", "storage check")])},
    })
    oa.SPEC["tags"] += [{"name": "preservation"}]


_describe()
