"""/api/v1 routes for external readers (公检法 and other units): registering the reader
with the scans (multipart), the scans themselves, and the stamped copies handed over."""


from flask import Response, current_app, jsonify, request
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import external_loans, filing, loans, validation, work


def _scans() -> dict[str, filing.Upload]:
    scans = {}
    for purpose in ("credential", "notice"):
        parts = validation.file_parts(request.form, request.files.getlist(f"{purpose}_scan"),
                                      key=f"{purpose}_scan", keep_empty=False)
        if parts:
            scans[purpose] = filing.Upload(*parts[0])
    return scans


@bp.post("/loans/external")
@login_required
def create_external_loan():
    data, scans = request.form.to_dict(), _scans()
    data["document_ids"] = request.form.getlist("document_ids") or data.get("document_ids")
    with work.unit(db.session):
        loan = external_loans.register_external(
            db.session, current_user, data, scans,
            store=current_app.extensions["blob_store"],
            limits=filing.Limits.from_config(current_app.config))
    return jsonify(out.loan(loan, current_user, requests=loans.requests_of(db.session, loan))), 201


@bp.get("/loans/<int:loan_id>/scans/<int:scan_id>")
@login_required
def loan_scan(loan_id: int, scan_id: int):
    with work.unit(db.session):
        stored, data = external_loans.read_scan(db.session, current_user, loan_id, scan_id,
                                                store=current_app.extensions["blob_store"])
    # a reader's credential: never cached
    return delivery_response.send(data, stored.mime, stored.original_name, attachment=False,
                                  private=True)


@bp.post("/loans/<int:loan_id>/copies")
@login_required
def make_loan_copy(loan_id: int):
    body = _json_body()
    with work.unit(db.session):
        copy = external_loans.record_copy(
            db.session, current_user, loan_id, body.get("document_id"), body.get("pages"),
            store=current_app.extensions["blob_store"])
    return Response(copy.data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(copy.filename)}",
        "X-Loan-Copy-Id": str(copy.record.id)})


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    text = {"type": "string"}
    oa.SCHEMAS.update({
        "ExternalLoanInput": {
            "type": "object",
            "required": ["reader_kind", "unit", "name", "credential_type", "credential_number",
                         "notice_number", "dossier_id", "purpose", "credential_scan",
                         "notice_scan"],
            "properties": {
                "reader_kind": {"type": "string", "enum": ["police", "unit"],
                                "description": "police: 公检法 (legal office); unit: 其他单位 (GM)"},
                "unit": text, "name": text, "credential_type": text, "credential_number": text,
                "notice_number": {"type": "string",
                                  "description": "协助调查通知书 (police) or 介绍信 (unit) number"},
                "phone": text, "dossier_id": {"type": "integer"}, "group": text,
                "document_ids": {"type": "array", "items": {"type": "integer"}},
                "purpose": text, "due": {"type": "string", "description": "YYYY-MM-DD"},
                "days": {"type": "integer"},
                "credential_scan": {"type": "string", "format": "binary",
                                    "description": "PDF, JPEG, PNG or TIFF"},
                "notice_scan": {"type": "string", "format": "binary",
                                "description": "PDF, JPEG, PNG or TIFF"}}},
        "LoanCopyInput": {"type": "object", "required": ["document_id", "pages"], "properties": {
            "document_id": {"type": "integer"},
            "pages": {"type": "string", "description": "e.g. 1-3,5"}}},
    })
    loan_id = oa._id("loan_id", "loan")
    oa.PATHS.update({
        "/api/v1/loans/external": {"post": oa._operation(
            "Register an external reader's loan (the archive room): 公检法 go to the legal "
            "office, other units to the GM", "loans",
            (201, oa._json(oa._ref("Loan"), "The loan, with external_reader.")),
            (400, 403, 404, 409, 413, 415, 422),
            requestBody={"required": True, "content": {"multipart/form-data": {
                "schema": oa._ref("ExternalLoanInput")}}})},
        "/api/v1/loans/{loan_id}/scans/{scan_id}": {"get": oa._operation(
            "A scan filed with an external loan, verified against its SHA-256", "loans",
            (200, {"description": "The scan as stored (PDF, JPEG, PNG or TIFF)."}), (404,),
            parameters=[loan_id, oa._id("scan_id", "scan")])},
        "/api/v1/loans/{loan_id}/copies": {"post": oa._operation(
            "A copy for the external reader, every page stamped 与原件核对无异 · 原件存于档案室 "
            "with the loan number, registered page by page", "loans",
            (200, {"description": "The stamped PDF.",
                   "content": {"application/pdf": {"schema": {"type": "string",
                                                              "format": "binary"}}}}),
            (400, 403, 404, 409, 422), parameters=[loan_id],
            requestBody=oa._body("LoanCopyInput"))},
    })


_describe()
