"""/api/v1 routes for classification changes, GM grants, 绝密 designations and copy
approvals: thin, on the same services as the web pages."""

from flask import jsonify
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import access, classification, grants, work
from archive.services.customers import get_dossier
from archive.services.filing import get_document


def _change_request(target):
    body = _json_body()
    with work.unit(db.session):
        change = classification.request_change(db.session, current_user, target,
                                               body.get("to", ""), body.get("reason", ""))
    return jsonify(out.level_change(change)), 201


@bp.post("/documents/<int:document_id>/classification")
@login_required
def request_document_classification(document_id: int):
    return _change_request(get_document(db.session, current_user, document_id, record=False))


@bp.post("/dossiers/<int:dossier_id>/classification")
@login_required
def request_dossier_classification(dossier_id: int):
    return _change_request(get_dossier(db.session, current_user, dossier_id, record=False))


@bp.get("/documents/<int:document_id>/classification-history")
@login_required
def document_classification_history(document_id: int):
    document = get_document(db.session, current_user, document_id, record=False)
    changes = classification.history(db.session, current_user, document)
    return jsonify({"document_id": document.id, "classification": out.level(document.classification),
                    "changes": [out.level_change(c) for c in changes]})


@bp.get("/classification-changes")
@login_required
def pending_classification_changes():
    """The changes waiting for the caller's approval."""
    changes = classification.pending_for(db.session, current_user)
    return jsonify({"changes": [out.level_change(c) for c in changes]})


@bp.post("/classification-changes/<int:change_id>/approve")
@login_required
def approve_classification_change(change_id: int):
    note = _json_body(optional=True).get("note", "")
    with work.unit(db.session):
        change = classification.approve(db.session, current_user, change_id, note)
    return jsonify(out.level_change(change))


@bp.post("/classification-changes/<int:change_id>/reject")
@login_required
def reject_classification_change(change_id: int):
    note = _json_body(optional=True).get("note", "")
    with work.unit(db.session):
        change = classification.reject(db.session, current_user, change_id, note)
    return jsonify(out.level_change(change))


@bp.get("/grants")
@login_required
def list_grants():
    rows = grants.list_grants(db.session, current_user)
    return jsonify({"grants": [out.grant(g) for g in rows]})


@bp.post("/grants")
@login_required
def create_grant():
    access.require(current_user, "grant.manage")
    body = _json_body()
    with work.unit(db.session):
        grant = grants.grant_access(db.session, current_user, body)
    return jsonify(out.grant(grant)), 201


@bp.post("/grants/<int:grant_id>/revoke")
@login_required
def revoke_grant(grant_id: int):
    with work.unit(db.session):
        grant = grants.revoke_grant(db.session, current_user, grant_id)
    return jsonify(out.grant(grant))


@bp.post("/designations")
@login_required
def create_designation():
    access.require(current_user, "designation.manage")
    body = _json_body()
    with work.unit(db.session):
        designation = grants.designate(db.session, current_user, body)
    return jsonify(out.designation(designation)), 201


@bp.delete("/designations/<int:designation_id>")
@login_required
def delete_designation(designation_id: int):
    with work.unit(db.session):
        grants.revoke_designation(db.session, current_user, designation_id)
    return "", 204


@bp.post("/copy-approvals")
@login_required
def create_copy_approval():
    access.require(current_user, "copy.approve")
    body = _json_body()
    with work.unit(db.session):
        approval = grants.approve_copy(db.session, current_user, body)
    return jsonify(out.copy_approval(approval)), 201


@bp.post("/copy-approvals/<int:approval_id>/revoke")
@login_required
def revoke_copy_approval(approval_id: int):
    with work.unit(db.session):
        approval = grants.revoke_copy(db.session, current_user, approval_id)
    return jsonify(out.copy_approval(approval))


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    def who() -> dict:
        return oa._nullable("object", properties={
            "id": {"type": "integer"}, "username": {"type": "string"}, "name": {"type": "string"}})

    stamp = {"type": ["string", "null"], "format": "date-time"}
    oa.SCHEMAS.update({
        "LevelChange": {
            "type": "object",
            "required": ["id", "from", "to", "reason", "status", "requested_by", "requested_at"],
            "properties": {
                "id": {"type": "integer"},
                "document_id": oa._nullable("integer"), "dossier_id": oa._nullable("integer"),
                "from": {"type": "object"}, "to": {"type": "object"},
                "reason": {"type": "string"},
                "status": {"type": "string", "enum": ["requested", "applied", "rejected",
                                                      "withdrawn", "expired"]},
                "requested_by": who(), "requested_at": stamp,
                "dept_head": who(), "dept_head_at": stamp,
                "gm_office": who(), "gm_office_at": stamp,
                "rejected_by": who(), "note": {"type": "string"}, "decided_at": stamp,
                "approval": {"type": "object",
                             "description": "The approval-engine request behind this change "
                                            "(GET /api/v1/approvals/{id})."},
            },
        },
        "LevelChangeInput": {
            "type": "object", "required": ["to", "reason"],
            "properties": {"to": oa.LEVEL_INPUT, "reason": {"type": "string"}},
        },
        "Grant": {"type": "object", "required": ["id", "user", "valid_until"], "properties": {
            "id": {"type": "integer"}, "user": who(),
            "department_id": oa._nullable("integer"), "customer_id": oa._nullable("integer"),
            "valid_from": stamp, "valid_until": stamp, "approved_by": who(),
            "reason": {"type": "string"}}},
        "GrantInput": {"type": "object", "required": ["user", "valid_until", "reason"],
                       "description": "Exactly one of department and customer (or "
                                      "customer_id).",
                       "properties": {
                           "user": {"type": ["string", "integer"]},
                           "department": oa.DEPARTMENT_INPUT,
                           "customer": {"type": "string",
                                        "description": "Name, code or ID number."},
                           "customer_id": {"type": "integer"},
                           "valid_until": {"type": "string",
                                           "description": "YYYY-MM-DD or an ISO time."},
                           "reason": {"type": "string"}}},
        "Designation": {"type": "object", "required": ["id", "user"], "properties": {
            "id": {"type": "integer"}, "user": who(),
            "dossier_id": oa._nullable("integer"), "document_id": oa._nullable("integer"),
            "designated_by": who(), "created_at": stamp}},
        "DesignationInput": {"type": "object", "required": ["user"],
                             "description": "Exactly one of dossier_id and document_id.",
                             "properties": {"user": {"type": ["string", "integer"]},
                                            "dossier_id": {"type": "integer"},
                                            "document_id": {"type": "integer"}}},
        "CopyApproval": {"type": "object", "required": ["id", "user", "document_id",
                                                        "expires_at"], "properties": {
            "id": {"type": "integer"}, "user": who(), "document_id": {"type": "integer"},
            "approved_by": who(), "reason": {"type": "string"},
            "created_at": stamp, "expires_at": stamp}},
        "CopyApprovalInput": {"type": "object", "required": ["user", "document_id", "reason"],
                              "properties": {"user": {"type": ["string", "integer"]},
                                             "document_id": {"type": "integer"},
                                             "hours": {"type": "integer", "minimum": 1,
                                                       "maximum": 720, "default": 24},
                                             "valid_until": {"type": "string"},
                                             "reason": {"type": "string"}}},
    })
    change = oa._json(oa._ref("LevelChange"), "The change request.")
    changes = oa._json({"type": "object", "required": ["changes"], "properties": {
        "changes": {"type": "array", "items": oa._ref("LevelChange")}}}, "Change requests.")
    change_id = oa._id("change_id", "change request")
    decide = ("classification", (200, change), (403, 404, 409))
    oa.PATHS.update({
        "/api/v1/documents/{document_id}/classification": {"post": oa._operation(
            "Ask to raise or lower a document's 密级 (000:742)", "classification",
            (201, change), (400, 403, 404, 409, 422),
            parameters=[oa._id("document_id", "document")],
            requestBody=oa._body("LevelChangeInput"))},
        "/api/v1/dossiers/{dossier_id}/classification": {"post": oa._operation(
            "Ask to raise or lower a dossier's 密级, with its documents", "classification",
            (201, change), (400, 403, 404, 409, 422),
            parameters=[oa._id("dossier_id", "dossier")],
            requestBody=oa._body("LevelChangeInput"))},
        "/api/v1/documents/{document_id}/classification-history": {"get": oa._operation(
            "Every level change asked for the document or its dossier", "classification",
            (200, oa._json({"type": "object", "required": ["document_id", "changes"],
                            "properties": {"document_id": {"type": "integer"},
                                           "classification": {"type": "object"},
                                           "changes": {"type": "array",
                                                       "items": oa._ref("LevelChange")}}},
                           "The history.")), (403, 404),
            parameters=[oa._id("document_id", "document")])},
        "/api/v1/classification-changes": {"get": oa._operation(
            "The change requests waiting for the caller's approval", "classification",
            (200, changes), (403,))},
        "/api/v1/classification-changes/{change_id}/approve": {"post": oa._operation(
            "Approve (department head or GM office); applied once complete", *decide,
            parameters=[change_id])},
        "/api/v1/classification-changes/{change_id}/reject": {"post": oa._operation(
            "Reject; body {note} optional", *decide, parameters=[change_id])},
        "/api/v1/grants": {
            "get": oa._operation("Cross-department access grants (GM)", "grants",
                                 (200, oa._json({"type": "object", "properties": {
                                     "grants": {"type": "array", "items": oa._ref("Grant")}}},
                                     "The grants.")), (403,)),
            "post": oa._operation("Grant time-limited access to another department's or a "
                                  "customer's files (GM, 002:67)", "grants",
                                  (201, oa._json(oa._ref("Grant"), "The grant.")),
                                  (400, 403, 404, 422), requestBody=oa._body("GrantInput"))},
        "/api/v1/grants/{grant_id}/revoke": {"post": oa._operation(
            "End a grant now (GM)", "grants", (200, oa._json(oa._ref("Grant"), "The grant.")),
            (403, 404, 409), parameters=[oa._id("grant_id", "grant")])},
        "/api/v1/designations": {"post": oa._operation(
            "Designate a person for a 绝密 dossier or document (GM, 002:43)", "grants",
            (201, oa._json(oa._ref("Designation"), "The designation.")),
            (400, 403, 404, 409, 422), requestBody=oa._body("DesignationInput"))},
        "/api/v1/designations/{designation_id}": {"delete": oa._operation(
            "Withdraw a designation (GM)", "grants", (204, {"description": "Withdrawn."}),
            (403, 404), parameters=[oa._id("designation_id", "designation")])},
        "/api/v1/copy-approvals": {"post": oa._operation(
            "Approve one person's copy of one 绝密 document until a time (GM, 002:45)",
            "grants", (201, oa._json(oa._ref("CopyApproval"), "The approval.")),
            (400, 403, 404, 422), requestBody=oa._body("CopyApprovalInput"))},
        "/api/v1/copy-approvals/{approval_id}/revoke": {"post": oa._operation(
            "End a copy approval now (GM)", "grants",
            (200, oa._json(oa._ref("CopyApproval"), "The approval.")), (403, 404, 409),
            parameters=[oa._id("approval_id", "copy approval")])},
    })
    oa.SPEC["tags"] += [{"name": "classification"}, {"name": "grants"}]


_describe()
