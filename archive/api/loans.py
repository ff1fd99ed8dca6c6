"""/api/v1 routes for lending (借阅): request, list, the counter, renewal, loss reports.
Approving and rejecting a loan go through the approval inbox (/api/v1/approvals)."""

from flask import jsonify, request
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import access, loan_lists, loans, validation, work


def _one(loan):
    return out.loan(loan, current_user, requests=loans.requests_of(db.session, loan))


@bp.post("/loans")
@login_required
def create_loan():
    body = _json_body()
    with work.unit(db.session):
        loan = loans.request_loan(db.session, current_user, body)
    return jsonify(_one(loan)), 201


@bp.get("/loans")
@login_required
def list_loans():
    rows = loans.listing(db.session, current_user, status=request.args.get("status", ""),
                         borrower=request.args.get("borrower", ""),
                         overdue_only=validation.flag(request.args, "overdue", "overdue"))
    requests = loans.requests_by_loan(db.session, rows)
    return jsonify({"loans": [out.loan(r, current_user, requests=requests[r.id]) for r in rows]})


@bp.get("/loans/<int:loan_id>")
@login_required
def get_loan(loan_id: int):
    return jsonify(_one(loans.get(db.session, current_user, loan_id)))


@bp.get("/loans/register")
@login_required
def loan_register():
    """借阅登记簿: the rows of the register page and CSV (loan_lists.register_rows)."""
    access.require(current_user, "loan.register")
    start, end = loan_lists.parse_range(request.args)
    rows = loan_lists.register_rows(db.session, current_user, start, end)
    return jsonify({"columns": list(loan_lists.COLUMNS), "rows": [
        {"loan_id": r.loan.id, "number": r.loan.number, "cells": list(r.cells)} for r in rows]})


def _step(action, loan_id: int, status: int = 200):
    body = _json_body(optional=True)
    with work.unit(db.session):
        result = action(db.session, current_user, loan_id, body)
    loan = loans.get(db.session, current_user, loan_id)
    return jsonify(_one(loan) if result is None or result is loan else
                   {**_one(loan), "created": {"id": result.id}}), status


@bp.post("/loans/<int:loan_id>/checkout")
@login_required
def checkout_loan(loan_id: int):
    return _step(loans.checkout, loan_id)


@bp.post("/loans/<int:loan_id>/return")
@login_required
def return_loan(loan_id: int):
    return _step(loans.check_in, loan_id)


@bp.post("/loans/<int:loan_id>/renew")
@login_required
def renew_loan(loan_id: int):
    return _step(loans.renew, loan_id, 201)


@bp.post("/loans/<int:loan_id>/report-loss")
@login_required
def report_loan_loss(loan_id: int):
    return _step(loans.report_loss, loan_id, 201)


@bp.post("/loss-reports/<int:report_id>/close")
@login_required
def close_loss_report(report_id: int):
    body = _json_body()
    with work.unit(db.session):
        report = loans.close_report(db.session, current_user, report_id, body)
    return jsonify(_one(loans.get(db.session, current_user, report.loan_id)))


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    oa.SCHEMAS.update({
        "Loan": {"type": "object", "required": ["id", "number", "kind", "status", "items"],
                 "properties": {"id": {"type": "integer"}, "number": {"type": "string"},
                                "kind": {"type": "object"}, "status": {"type": "object"},
                                "overdue": {"type": "boolean"}, "due_at": {"type": "string"},
                                "items": {"type": "array", "items": {"type": "object"}},
                                "loss_reports": {"type": "array", "items": {"type": "object"}},
                                "approvals": {"type": "array", "items": {"type": "object"}}}},
        "LoanInput": {"type": "object", "required": ["dossier_id", "kind", "purpose"],
                      "properties": {
                          "dossier_id": {"type": "integer"},
                          "group": {"type": "string", "description": "a–e: one group only"},
                          "document_ids": {"type": "array", "items": {"type": "integer"}},
                          "kind": {"type": "string",
                                   "enum": ["read", "out", "copy", "electronic"]},
                          "purpose": {"type": "string"},
                          "due": {"type": "string", "description": "YYYY-MM-DD"},
                          "days": {"type": "integer"},
                          "may_download": {"type": "boolean"},
                          "borrower": {"type": "string",
                                       "description": "username (the archive room only)"}}},
        "CounterInput": {"type": "object", "required": ["items", "pages"], "properties": {
            "items": {"type": "integer"}, "pages": {"type": "integer"},
            "condition": {"type": "string"}, "effect": {"type": "string"}}},
        "RenewInput": {"type": "object", "required": ["reason"], "properties": {
            "due": {"type": "string"}, "days": {"type": "integer"},
            "reason": {"type": "string"}}},
        "LossInput": {"type": "object", "required": ["what", "count", "description"],
                      "properties": {"what": {"type": "string", "enum": ["lost", "damaged"]},
                                     "count": {"type": "integer"},
                                     "description": {"type": "string"}}},
        "LossCloseInput": {"type": "object", "required": ["outcome", "note"], "properties": {
            "outcome": {"type": "string", "enum": ["found", "written_off"]},
            "note": {"type": "string"}}},
    })
    one = oa._json(oa._ref("Loan"), "The loan.")
    loan_id = oa._id("loan_id", "loan")
    oa.PATHS.update({
        "/api/v1/loans": {
            "post": oa._operation("Ask for a loan (routed by the regulations)", "loans",
                                  (201, one), (400, 403, 404, 409, 422),
                                  requestBody=oa._body("LoanInput")),
            "get": oa._operation(
                "Loans: the register for the archive room, auditors and the GM; one's own "
                "for others", "loans",
                (200, oa._json({"type": "object", "properties": {"loans": {
                    "type": "array", "items": oa._ref("Loan")}}}, "Loans.")), (422,),
                parameters=[oa._query("status", "a loan status"),
                            oa._query("borrower", "username"),
                            oa._query("overdue", "1: overdue only")])},
        "/api/v1/loans/{loan_id}": {"get": oa._operation(
            "One loan", "loans", (200, one), (404,), parameters=[loan_id])},
        "/api/v1/loans/register": {"get": oa._operation(
            "借阅登记簿: granted loans by the day lent (the archive room, auditors, the GM)",
            "loans", (200, oa._json({"type": "object", "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "object"}}}}, "The rows.")),
            (403, 422), parameters=[oa._query("start", "YYYY-MM-DD"),
                                    oa._query("end", "YYYY-MM-DD")])},
        "/api/v1/loans/{loan_id}/checkout": {"post": oa._operation(
            "Check out at the counter, counting items and pages (003:105)", "loans",
            (200, one), (400, 403, 404, 409, 422), parameters=[loan_id],
            requestBody=oa._body("CounterInput"))},
        "/api/v1/loans/{loan_id}/return": {"post": oa._operation(
            "Check in, counting again; a difference opens a loss report", "loans",
            (200, one), (400, 403, 404, 409, 422), parameters=[loan_id],
            requestBody=oa._body("CounterInput"))},
        "/api/v1/loans/{loan_id}/renew": {"post": oa._operation(
            "Ask to renew: a new approval on the same route (002:908)", "loans",
            (201, one), (400, 403, 404, 409, 422), parameters=[loan_id],
            requestBody=oa._body("RenewInput"))},
        "/api/v1/loans/{loan_id}/report-loss": {"post": oa._operation(
            "Report a loss or damage", "loans", (201, one), (400, 403, 404, 409, 422),
            parameters=[loan_id], requestBody=oa._body("LossInput"))},
        "/api/v1/loss-reports/{report_id}/close": {"post": oa._operation(
            "Close a loss report (the archive room)", "loans", (200, one),
            (400, 403, 404, 409, 422), parameters=[oa._id("report_id", "loss report")],
            requestBody=oa._body("LossCloseInput"))},
    })
    oa.SPEC["tags"] += [{"name": "loans"}]


_describe()


# ---- electronic loans (电子借阅): the lent documents through the loan ------------------

@bp.get("/loans/<int:loan_id>/documents/<int:document_id>/content")
@login_required
def lent_document_content(loan_id: int, document_id: int):
    # The same delivery as the loan's web view and download: the borrower alone, until the
    # due time, cleared for the document's current level; every page stamped.
    from flask import current_app

    download = validation.flag(request.args, "download", "download")
    with work.unit(db.session):
        delivery = loans.deliver(db.session, current_user, loan_id, document_id,
                                 download=download, file_id=request.args.get("file"),
                                 store=current_app.extensions["blob_store"])
    return delivery_response.send(delivery.data, delivery.mime, delivery.filename,
                                  attachment=download, private=True)


def _describe_electronic() -> None:
    from archive.api import openapi as oa

    oa.PATHS["/api/v1/loans/{loan_id}/documents/{document_id}/content"] = {
        "get": oa._operation(
            "A lent document of an approved electronic loan, for its borrower until the due "
            "time: a PDF stamped on every page with the borrower, the loan number and the "
            "time (audited as loan.viewed or loan.downloaded)", "loans",
            (200, {"description": "The stamped PDF (inline; an attachment with download=1).",
                   "content": {"application/pdf": {"schema": {
                       "type": "string", "contentMediaType": "application/pdf"}}}}),
            (403, 404, 409),
            parameters=[oa._id("loan_id", "loan"), oa._id("document_id", "document"),
                        oa._query("download", "1: download (the loan must allow it; never "
                                  "绝密)"),
                        oa._query("file", "A stored file's id; the first file if omitted.",
                                  {"type": "integer"})])}


_describe_electronic()
