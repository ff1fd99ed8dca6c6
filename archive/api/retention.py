"""/api/v1 routes for retention and disposal: the schedule, the review queue, appraisal
decisions, dossier and case closing dates, legal holds, destruction batches, their
execution, the register and the certificate (docs/retention.md). Approving a batch goes
through the approval inbox (/api/v1/approvals/<id>/approve with {"supervisors": [..]})."""

from flask import current_app, jsonify, request
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.auth import password_attempts_limited
from archive.extensions import db
from archive.services import (
    backup,
    certificates,
    destruction,
    holds,
    retention,
    validation,
    work,
)


@bp.get("/retention/schedule")
@login_required
def retention_schedule():
    return jsonify({"rules": [retention.describe_rule(r) for r in retention.schedule(db.session)]})


@bp.put("/retention/schedule")
@login_required
def change_retention_rule():
    """One category's row: {"category", "retention", "counts_from", "important_retention"}."""
    body = _json_body()
    with work.unit(db.session):
        rule, listed = retention.update_rule(db.session, current_user, body)
        result = {"rule": retention.describe_rule(rule),
                  "listed": [out.due_document(d) for d in listed]}
    return jsonify(result)


@bp.get("/retention/due")
@login_required
def retention_due():
    until = validation.day(request.args, "until", "截止日期")
    rows = retention.due(db.session, current_user, category=request.args.get("category", ""),
                         until=until)
    waiting = retention.unconfirmed(db.session, current_user)
    return jsonify({"due": [out.due_document(d) for d in rows],
                    "unconfirmed": [out.due_document(d) for d in waiting]})


@bp.post("/documents/<int:document_id>/appraisals")
@login_required
def appraise_document(document_id: int):
    body = _json_body()
    with work.unit(db.session):
        record = retention.appraise(db.session, current_user, document_id, body)
        result = out.appraisal(record)
    return jsonify(result), 201


def _dossier_step(action, dossier_id: int):
    body = _json_body(optional=True)
    with work.unit(db.session):
        dossier = action(db.session, current_user, dossier_id, body)
        result = {"id": dossier.id, "number": dossier.number, "status": dossier.status,
                  "closed_on": dossier.closed_on.isoformat() if dossier.closed_on else None,
                  "case_closed_on": (dossier.case_closed_on.isoformat()
                                     if dossier.case_closed_on else None)}
    return jsonify(result)


@bp.post("/dossiers/<int:dossier_id>/close")
@login_required
def close_dossier(dossier_id: int):
    return _dossier_step(retention.close_dossier, dossier_id)


@bp.post("/dossiers/<int:dossier_id>/reopen")
@login_required
def reopen_dossier(dossier_id: int):
    return _dossier_step(retention.reopen_dossier, dossier_id)


@bp.post("/dossiers/<int:dossier_id>/case-closed")
@login_required
def case_closed(dossier_id: int):
    return _dossier_step(retention.set_case_closed, dossier_id)


# ---- legal holds -----------------------------------------------------------------------


@bp.get("/holds")
@login_required
def list_holds():
    rows = holds.listing(db.session, current_user,
                         active_only=not validation.flag(request.args, "all", "all"))
    return jsonify({"holds": [out.hold(h) for h in rows]})


@bp.post("/holds")
@login_required
def place_hold():
    body = _json_body()
    with work.unit(db.session):
        hold = holds.place(db.session, current_user, body)
        result = out.hold(hold)
    return jsonify(result), 201


@bp.post("/holds/<int:hold_id>/lift")
@login_required
def lift_hold(hold_id: int):
    body = _json_body()
    with work.unit(db.session):
        hold = holds.lift(db.session, current_user, hold_id, body)
        result = out.hold(hold)
    return jsonify(result)


# ---- destruction -----------------------------------------------------------------------


def _batch(batch_id: int) -> dict:
    batch = destruction.get(db.session, current_user, batch_id)
    return out.destruction(batch, requests=destruction.requests_of(batch),
                           entries=destruction.register(db.session, current_user, batch=batch))


@bp.post("/destructions")
@login_required
def propose_destruction():
    body = _json_body()
    with work.unit(db.session):
        batch = destruction.propose(db.session, current_user, body)
    return jsonify(_batch(batch.id)), 201


@bp.get("/destructions")
@login_required
def list_destructions():
    rows = destruction.listing(db.session, current_user)
    return jsonify({"destructions": [out.destruction(b) for b in rows]})


@bp.get("/destructions/<int:batch_id>")
@login_required
def get_destruction(batch_id: int):
    return jsonify(_batch(batch_id))


@bp.post("/destructions/<int:batch_id>/execute")
@password_attempts_limited
@login_required
def execute_destruction(batch_id: int):
    body = _json_body()
    destruction.execute(db.session, current_user, batch_id, body,
                        store=current_app.extensions["blob_store"],
                        journal=backup.journal_path(current_app.config["INSTANCE_DIR"]))
    return jsonify(_batch(batch_id))


@bp.post("/destructions/<int:batch_id>/items/<int:document_id>/drop")
@login_required
def drop_destruction_item(batch_id: int, document_id: int):
    body = _json_body()
    with work.unit(db.session):
        destruction.drop_item(db.session, current_user, batch_id, document_id, body)
    return jsonify(_batch(batch_id))


@bp.get("/destructions/register")
@login_required
def destruction_register():
    entries = destruction.register(db.session, current_user)
    return jsonify({"register": [out.register_entry(e) for e in entries]})


@bp.get("/destructions/<int:batch_id>/certificate.pdf")
@login_required
def destruction_certificate(batch_id: int):
    batch = destruction.get(db.session, current_user, batch_id)
    pdf = certificates.certificate(db.session, current_user, batch)
    return delivery_response.send(pdf, "application/pdf", f"销毁证明-{batch.number}.pdf",
                                  attachment=False, private=True)


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    obj = {"type": "object"}
    oa.SCHEMAS.update({
        "RetentionRule": {"type": "object", "required": ["category", "retention", "counts_from"],
                          "properties": {
                              "category": {"type": "string"},
                              "retention": {"type": "string",
                                            "description": "永久, 长期 (30 years), 短期 (10 "
                                                           "years), or N年 / N个月"},
                              "months": {"type": ["integer", "null"]},
                              "counts_from": {"type": "string", "enum": [
                                  "document_date", "filed", "dossier_closed", "case_closed"]},
                              "important_retention": {"type": ["string", "null"]}}},
        "RetentionRuleInput": {"type": "object", "required": ["category", "retention"],
                               "properties": {
                                   "category": {"type": "string"},
                                   "retention": {"type": "string"},
                                   "counts_from": {"type": "string", "enum": [
                                       "document_date", "filed", "dossier_closed",
                                       "case_closed"]},
                                   "important_retention": {"type": ["string", "null"]}}},
        "AppraisalInput": {"type": "object", "required": ["decision", "opinion"], "properties": {
            "decision": {"type": "string", "enum": ["destroy", "extend", "permanent", "confirm"]},
            "opinion": {"type": "string", "description": "鉴定意见"},
            "until": {"type": "string", "description": "YYYY-MM-DD (extend)"}}},
        "HoldInput": {"type": "object", "required": ["reason"], "properties": {
            "customer_id": {"type": "integer"}, "dossier_id": {"type": "integer"},
            "document_id": {"type": "integer"}, "reason": {"type": "string"}},
            "description": "Exactly one of customer_id, dossier_id, document_id."},
        "ReasonInput": {"type": "object", "required": ["reason"],
                        "properties": {"reason": {"type": "string"}}},
        "DossierDateInput": {"type": "object", "properties": {
            "closed_on": {"type": "string", "description": "YYYY-MM-DD (today if omitted)"},
            "case_closed_on": {"type": "string", "description": "YYYY-MM-DD"},
            "reason": {"type": "string", "description": "to reopen"}}},
        "DestructionInput": {"type": "object", "required": ["items", "reason"], "properties": {
            "items": {"type": "array", "items": {"type": "integer"},
                      "description": "document ids, at most 500"},
            "reason": {"type": "string"}}},
        "ExecutionInput": {"type": "object", "required": ["supervisors"], "properties": {
            "supervisors": {"type": "array", "minItems": 2, "maxItems": 2, "items": {
                "type": "object", "required": ["username", "password"], "properties": {
                    "username": {"type": "string"}, "password": {"type": "string"}}},
                "description": "Both supervisors the approver named, each with their own "
                               "password (never logged; rate-limited like logins)."},
            "paper_method": {"type": "string"}, "paper_place": {"type": "string"}}},
        "Destruction": {"type": "object", "required": ["id", "number", "status", "items"],
                        "properties": {"id": {"type": "integer"}, "number": {"type": "string"},
                                       "status": obj, "items": {"type": "array", "items": obj},
                                       "supervisors": {"type": "array", "items": obj},
                                       "register": {"type": "array", "items": obj},
                                       "approvals": {"type": "array", "items": obj}}},
    })
    batch = oa._json(oa._ref("Destruction"), "The destruction batch.")
    batch_id = oa._id("batch_id", "destruction batch")
    listed = oa._json({"type": "object", "properties": {
        "due": {"type": "array", "items": obj},
        "unconfirmed": {"type": "array", "items": obj}}}, "Documents past their date.")
    paths = {
        "/api/v1/retention/schedule": {
            "get": oa._operation("The retention schedule (保管期限表)", "retention",
                                 (200, oa._json({"type": "object", "properties": {
                                     "rules": {"type": "array",
                                               "items": oa._ref("RetentionRule")}}},
                                     "Every category's row.")), ()),
            "put": oa._operation(
                "Change one category's row (the administrator); its followers are "
                "recomputed, dates that would come earlier listed to confirm", "retention",
                (200, oa._json(obj, "The row and the documents listed.")),
                (400, 403, 422), requestBody=oa._body("RetentionRuleInput"))},
        "/api/v1/retention/due": {"get": oa._operation(
            "The disposal review queue: past their date, and dates to confirm", "retention",
            (200, listed), (403, 422),
            parameters=[oa._query("category", "类别"), oa._query("until", "YYYY-MM-DD")])},
        "/api/v1/documents/{document_id}/appraisals": {"post": oa._operation(
            "Record an appraisal decision (鉴定意见) on a document", "retention",
            (201, oa._json(obj, "The decision.")), (400, 403, 404, 409, 422),
            parameters=[oa._id("document_id", "document")],
            requestBody=oa._body("AppraisalInput"))},
        "/api/v1/holds": {
            "get": oa._operation("Legal holds in force (all=1: lifted ones too)", "retention",
                                 (200, oa._json(obj, "The holds.")), (403,),
                                 parameters=[oa._query("all", "1: lifted holds too")]),
            "post": oa._operation("Place a legal hold (冻结)", "retention",
                                  (201, oa._json(obj, "The hold.")), (400, 403, 404, 422),
                                  requestBody=oa._body("HoldInput"))},
        "/api/v1/holds/{hold_id}/lift": {"post": oa._operation(
            "Lift a hold", "retention", (200, oa._json(obj, "The hold.")),
            (400, 403, 404, 409, 422), parameters=[oa._id("hold_id", "hold")],
            requestBody=oa._body("ReasonInput"))},
        "/api/v1/destructions": {
            "get": oa._operation("Destruction batches the user may see", "retention",
                                 (200, oa._json(obj, "The batches.")), (403,)),
            "post": oa._operation(
                "Propose a batch (《公司档案资料销毁审批表》): due, not permanent, not "
                "held, not out on loan", "retention", (201, batch), (400, 403, 404, 409, 422),
                requestBody=oa._body("DestructionInput"))},
        "/api/v1/destructions/register": {"get": oa._operation(
            "The destruction register (销毁清册), within the reader's clearance", "retention",
            (200, oa._json(obj, "The register.")), (403,))},
        "/api/v1/destructions/{batch_id}": {"get": oa._operation(
            "One batch with its items, approvals and register rows", "retention",
            (200, batch), (404,), parameters=[batch_id])},
        "/api/v1/destructions/{batch_id}/certificate.pdf": {"get": oa._operation(
            "The batch's register and destruction certificate (PDF, every file's SHA-256)",
            "retention", (200, {"description": "A PDF.", "content": {"application/pdf": {
                "schema": {"type": "string", "contentMediaType": "application/pdf"}}}}),
            (404,), parameters=[batch_id])},
        "/api/v1/destructions/{batch_id}/execute": {"post": oa._operation(
            "Execute an approved batch before both supervisors", "retention", (200, batch),
            (400, 403, 404, 409, 422), parameters=[batch_id],
            requestBody=oa._body("ExecutionInput"))},
        "/api/v1/destructions/{batch_id}/items/{document_id}/drop": {"post": oa._operation(
            "Take an item out of an approved batch, with a reason", "retention", (200, batch),
            (400, 403, 404, 409, 422),
            parameters=[batch_id, oa._id("document_id", "document")],
            requestBody=oa._body("ReasonInput"))},
    }
    for name, summary in (("close", "封卷: close the dossier to new filings"),
                          ("reopen", "Reopen a closed dossier, with a reason"),
                          ("case-closed", "Record a case file's 结案日期")):
        paths[f"/api/v1/dossiers/{{dossier_id}}/{name}"] = {"post": oa._operation(
            summary, "retention",
            (200, oa._json(obj, "The dossier's status and dates.")), (400, 403, 404, 409, 422),
            parameters=[oa._id("dossier_id", "dossier")],
            requestBody={"required": False, "content": {"application/json": {
                "schema": oa._ref("DossierDateInput")}}})}
    oa.PATHS.update(paths)
    oa.SPEC["tags"] += [{"name": "retention"}]


_describe()
