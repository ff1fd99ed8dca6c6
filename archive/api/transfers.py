"""/api/v1 routes for transfers (移交): batches, their submission and two-sided receipt
with per-item counts, the deadline rules and dashboard, the register, and staff
handovers (docs/transfers.md)."""

from flask import Response, jsonify, request
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import access, preservation, transfers, work


def _json(batch) -> dict:
    body = out.transfer(batch, requests=transfers.requests_of(db.session, batch))
    body["preservation"] = preservation.of_batch(db.session, batch.id)
    return body


def _handover(handover) -> dict:
    left = transfers.outstanding(db.session, handover.person) if handover.open else None
    return out.handover(handover, left)


def _one(batch_id: int):
    return jsonify(_json(transfers.get(db.session, current_user, batch_id)))


@bp.post("/transfers")
@login_required
def create_transfer():
    body = _json_body()
    with work.unit(db.session):
        batch = transfers.create(db.session, current_user, body)
        if body.get("submit") in (True, 1, "1", "true"):
            transfers.submit(db.session, current_user, batch.id)
        batch_id = batch.id
    return _one(batch_id), 201


@bp.get("/transfers")
@login_required
def list_transfers():
    rows = transfers.listing(db.session, current_user, department=request.args.get("department"),
                             status=request.args.get("status", ""))
    return jsonify({"transfers": [_json(b) for b in rows]})


@bp.get("/transfers/<int:batch_id>")
@login_required
def get_transfer(batch_id: int):
    return _one(batch_id)


def _step(action, batch_id: int, *args):
    with work.unit(db.session):
        action(db.session, current_user, batch_id, *args)
    return _one(batch_id)


@bp.post("/transfers/<int:batch_id>/submit")
@login_required
def submit_transfer(batch_id: int):
    return _step(transfers.submit, batch_id)


@bp.post("/transfers/<int:batch_id>/withdraw")
@login_required
def withdraw_transfer(batch_id: int):
    return _step(transfers.withdraw, batch_id)


@bp.post("/transfers/<int:batch_id>/receive")
@login_required
def receive_transfer(batch_id: int):
    return _step(transfers.receive, batch_id, _json_body())


@bp.get("/transfers/dashboard")
@login_required
def transfer_dashboard():
    board = transfers.dashboard(db.session, current_user)

    def docs(rows):
        return [{"id": d.id, "title": d.title, "dossier": d.dossier.number,
                 "due_on": d.transfer_due_on.isoformat() if d.transfer_due_on else None,
                 "days_overdue": (board["today"] - d.transfer_due_on).days
                 if d.transfer_due_on and d.transfer_due_on < board["today"] else 0}
                for d in rows]
    return jsonify({"today": board["today"].isoformat(), "departments": [
        {"department": r["department"], "overdue": docs(r["overdue"]),
         "due_soon": docs(r["due_soon"]), "no_deadline": docs(r["no_deadline"]),
         "later": docs(r["later"]), "received_30_days": r["received"]}
        for r in board["departments"]]})


@bp.get("/transfers/register.csv")
@login_required
def transfer_register():
    access.require(current_user, "transfer.list")
    return Response(transfers.register_csv(db.session, current_user), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=transfers.csv"})


@bp.get("/transfer-rules")
@login_required
def transfer_rules():
    return jsonify({"rules": [transfers.describe_rule(r) for r in transfers.rules(db.session)]})


@bp.put("/transfer-rules")
@login_required
def change_transfer_rule():
    body = _json_body()
    with work.unit(db.session):
        rule = transfers.update_rule(db.session, current_user, body)
        result = transfers.describe_rule(rule)
    return jsonify(result)


@bp.post("/handovers")
@login_required
def open_handover():
    body = _json_body()
    with work.unit(db.session):
        handover = transfers.open_handover(db.session, current_user, body)
        result = _handover(handover)
    return jsonify(result), 201


@bp.get("/handovers")
@login_required
def list_handovers():
    return jsonify({"handovers": [_handover(h)
                                  for h in transfers.open_handovers(db.session, current_user)]})


@bp.get("/handovers/<int:handover_id>")
@login_required
def get_handover(handover_id: int):
    return jsonify(_handover(transfers.get_handover(db.session, current_user, handover_id)))


@bp.post("/handovers/<int:handover_id>/sign")
@login_required
def sign_handover(handover_id: int):
    with work.unit(db.session):
        transfers.sign_handover(db.session, current_user, handover_id)
    return get_handover(handover_id)


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    obj = {"type": "object"}
    oa.SCHEMAS.update({
        "TransferInput": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "description": "document ids, or objects with "
                      "document_id, count (份数, default 1) and pages (default the "
                      "document's)", "items": {}},
            "to_department_id": {"type": ["integer", "null"],
                                 "description": "the receiving unit; null: the archive room"},
            "note": {"type": "string"},
            "submit": {"type": "boolean", "description": "submit at once"}}},
        "ReceiptInput": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "document_id": {"type": "integer"}, "count": {"type": "integer"},
                "pages": {"type": ["integer", "null"]}, "damaged": {"type": "boolean"},
                "missing": {"type": "boolean"}, "note": {"type": "string"}}},
                "description": "per item the counted copies and pages; an item left out "
                               "counts as missing"},
            "note": {"type": "string"}}},
        "TransferRuleInput": {"type": "object", "required": ["key"], "properties": {
            "key": {"type": "string"}, "trigger": {"type": "string", "enum": [
                "document_date", "move_in", "half_year", "case_closed", "next_month_10th"]},
            "workdays": {"type": "integer"}, "months": {"type": "integer"},
            "categories": {"type": "string"}}},
        "HandoverInput": {"type": "object", "required": ["person", "receiver"], "properties": {
            "person": {"type": "string", "description": "username"},
            "receiver": {"type": "string", "description": "username"},
            "kind": {"type": "string", "enum": ["leave", "move"]},
            "reason": {"type": "string"}}},
        "Transfer": {"type": "object", "required": ["id", "number", "status", "items"],
                     "properties": {"id": {"type": "integer"}, "number": {"type": "string"},
                                    "status": obj, "items": {"type": "array", "items": obj},
                                    "prepared_by": obj, "received_by": {"type": ["object", "null"]},
                                    "approvals": {"type": "array", "items": obj},
                                    "preservation": {"anyOf": [
                                        oa._ref("PreservationSummary"), {"type": "null"}],
                                        "description": "四性检测 (DA/T 70) at receipt; null "
                                                       "before"}}},
    })
    one = oa._json(oa._ref("Transfer"), "The transfer batch.")
    batch_id = oa._id("batch_id", "transfer batch")
    handover = oa._json(obj, "The handover with what the person still holds.")
    oa.PATHS.update({
        "/api/v1/transfers": {
            "post": oa._operation("Prepare a transfer batch from the department's custody",
                                  "transfers", (201, one), (400, 403, 404, 409, 422),
                                  requestBody=oa._body("TransferInput")),
            "get": oa._operation("Transfer batches the user may see", "transfers",
                                 (200, oa._json(obj, "The batches.")), (403, 422),
                                 parameters=[oa._query("department", "a department's id"),
                                             oa._query("status", "a batch status")])},
        "/api/v1/transfers/{batch_id}": {"get": oa._operation(
            "One batch, both sides' signatures", "transfers", (200, one), (404,),
            parameters=[batch_id])},
        "/api/v1/transfers/{batch_id}/submit": {"post": oa._operation(
            "Submit: the receipt becomes the receiving unit's approval step", "transfers",
            (200, one), (403, 404, 409), parameters=[batch_id])},
        "/api/v1/transfers/{batch_id}/withdraw": {"post": oa._operation(
            "Withdraw a draft or a batch not yet received", "transfers", (200, one),
            (403, 404, 409), parameters=[batch_id])},
        "/api/v1/transfers/{batch_id}/receive": {"post": oa._operation(
            "Receive with per-item counts: reconciled items change custody, the rest go "
            "back as a new batch", "transfers", (200, one), (400, 403, 404, 409, 422),
            parameters=[batch_id], requestBody=oa._body("ReceiptInput"))},
        "/api/v1/transfers/dashboard": {"get": oa._operation(
            "Deadlines per department: overdue, due within a week, none, received",
            "transfers", (200, oa._json(obj, "The dashboard.")), (403,))},
        "/api/v1/transfers/register.csv": {"get": oa._operation(
            "移交登记簿 (CSV)", "transfers", (200, {"description": "CSV", "content": {
                "text/csv": {"schema": {"type": "string"}}}}), (403,))},
        "/api/v1/transfer-rules": {
            "get": oa._operation("The deadline rules with their seed lines", "transfers",
                                 (200, oa._json(obj, "The rules.")), ()),
            "put": oa._operation("Change a rule (the administrator)", "transfers",
                                 (200, oa._json(obj, "The rule.")), (400, 403, 422),
                                 requestBody=oa._body("TransferRuleInput"))},
        "/api/v1/handovers": {
            "post": oa._operation("Open a handover (离职/调岗交接)", "transfers",
                                  (201, handover), (400, 403, 409, 422),
                                  requestBody=oa._body("HandoverInput")),
            "get": oa._operation("Open handovers the user may see", "transfers",
                                 (200, oa._json(obj, "The handovers.")), ())},
        "/api/v1/handovers/{handover_id}": {"get": oa._operation(
            "One handover", "transfers", (200, handover), (404,),
            parameters=[oa._id("handover_id", "handover")])},
        "/api/v1/handovers/{handover_id}/sign": {"post": oa._operation(
            "The receiver signs (refused while loans are out or batches await receipt)",
            "transfers", (200, handover), (403, 404, 409),
            parameters=[oa._id("handover_id", "handover")])},
    })
    oa.SPEC["tags"] += [{"name": "transfers"}]


_describe()
