"""/api/v1 routes of the approval engine: the inbox, my requests, deciding, withdrawing,
asking for another department's customer file or a 绝密 copy, and routes as data."""

from flask import jsonify, request
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import approvals, grants, validation, work
from archive.services.errors import Invalid
from archive.services.filing import get_document


def _one(r, *, decide: bool | None = None) -> dict:
    user = current_user._get_current_object()
    may = approvals.may_decide(user, r) if decide is None else decide
    return out.approval(r, approvals.describe(r, user), may_decide=may)


@bp.get("/approvals")
@login_required
def approval_inbox():
    """`status=pending` (the default): every step the caller may decide now.
    `mine=1`: the caller's own requests, whatever their status."""
    user = current_user._get_current_object()
    if validation.flag(request.args, "mine", "mine"):
        rows = approvals.mine(db.session, user)
        return jsonify({"approvals": [_one(r) for r in rows]})
    status = request.args.get("status", "pending")
    if status != "pending":
        raise Invalid("status 只支持 pending（待我审批）；我的申请请用 mine=1",
                      details={"field": "status"})
    rows = approvals.inbox(db.session, user)
    return jsonify({"approvals": [_one(r, decide=True) for r in rows]})


@bp.get("/approvals/<int:request_id>")
@login_required
def approval_detail(request_id: int):
    r = approvals.get(db.session, current_user, request_id)
    return jsonify({**_one(r), "undecidable": approvals.undecidable(db.session, r)})


@bp.post("/approvals/<int:request_id>/approve")
@login_required
def approval_approve(request_id: int):
    body = _json_body(optional=True)
    with work.unit(db.session):
        r = approvals.approve(db.session, current_user, request_id, body.get("note", ""), body)
    return jsonify(_one(r))


@bp.post("/approvals/<int:request_id>/reject")
@login_required
def approval_reject(request_id: int):
    body = _json_body(optional=True)
    with work.unit(db.session):
        r = approvals.reject(db.session, current_user, request_id, body.get("note", ""))
    return jsonify(_one(r))


@bp.post("/approvals/<int:request_id>/withdraw")
@login_required
def approval_withdraw(request_id: int):
    with work.unit(db.session):
        r = approvals.withdraw(db.session, current_user, request_id)
    return jsonify(_one(r))


@bp.post("/access-requests")
@login_required
def ask_access():
    """Ask the GM for another department's customer file (002:67)."""
    body = _json_body()
    with work.unit(db.session):
        r = grants.ask_access(db.session, current_user, body)
    return jsonify(_one(r)), 201


@bp.post("/documents/<int:document_id>/copy-requests")
@login_required
def ask_copy(document_id: int):
    """A designated reader asks the GM to copy a 绝密 document (002:45)."""
    body = _json_body()
    with work.unit(db.session):
        document = get_document(db.session, current_user, document_id, record=False)
        r = grants.ask_copy(db.session, current_user, document, body)
    return jsonify(_one(r)), 201


@bp.get("/approval-routes")
@login_required
def approval_routes():
    return jsonify({"routes": [out.route(r) for r in approvals.routes(db.session)]})


@bp.post("/approval-routes/<int:route_id>/changes")
@login_required
def propose_route_change(route_id: int):
    """The administrator proposes new steps for a route; the GM approves in the inbox."""
    body = _json_body()
    with work.unit(db.session):
        r = approvals.propose_route_change(db.session, current_user, {**body, "route": route_id})
    return jsonify(_one(r)), 201


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    stamp = {"type": ["string", "null"], "format": "date-time"}
    labelled = {"type": "object", "properties": {"key": {"type": "string"},
                                                  "label": {"type": "string"}}}
    oa.SCHEMAS.update({
        "Approval": {
            "type": "object",
            "required": ["id", "kind", "status", "subject", "reason", "requested_by", "steps"],
            "properties": {
                "id": {"type": "integer"}, "kind": labelled,
                "status": {"type": "object", "properties": {
                    "key": {"type": "string", "enum": ["pending", "approved", "rejected",
                                                       "withdrawn", "expired"]},
                    "label": {"type": "string"}}},
                "subject": {"type": "string",
                            "description": "The subject in words, as the caller may read it."},
                "reason": {"type": "string"}, "requested_by": {"type": "object"},
                "created_at": stamp, "expires_at": stamp, "decided_at": stamp,
                "open_stage": oa._nullable("integer"), "may_decide": {"type": "boolean"},
                "undecidable": oa._nullable(
                    "string", description="GET /approvals/{id} only: why a pending request "
                    "cannot be decided now (its only possible decider was deactivated, moved "
                    "or lowered in clearance since it was filed, or its subject was raised "
                    "beyond every decider); null when it can."),
                "route": {"type": "object"},
                "steps": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Decision": {"type": "object", "properties": {
            "note": {"type": "string"},
            "customer": {"type": "string", "description": "Cross-department access: the "
                         "customer the GM grants (name, code or ID number)."},
            "valid_until": {"type": "string", "description": "Cross-department access: "
                            "YYYY-MM-DD or an ISO time."}}},
        "AccessRequestInput": {"type": "object", "required": ["customer", "reason"],
                               "properties": {
                                   "customer": {"type": "string", "description":
                                                "Name, code or ID number, stored as typed."},
                                   "days": {"type": "integer", "minimum": 1, "maximum": 366,
                                            "default": 30},
                                   "reason": {"type": "string"}}},
        "CopyRequestInput": {"type": "object", "required": ["reason"], "properties": {
            "hours": {"type": "integer", "minimum": 1, "maximum": 720, "default": 24},
            "reason": {"type": "string"}}},
        "RouteChangeInput": {"type": "object", "required": ["steps", "reason"], "properties": {
            "steps": {"type": "array", "items": {"type": "array"},
                      "description": "[[stage, approver], ...]; approver one of "
                                     "customer_dept_head, requester_dept_head, gm_office, "
                                     "gm_office_director, legal, gm."},
            "time_limit_hours": oa._nullable(
                "integer", description="Absent: the route's own limit stays; null: none."),
            "reason": {"type": "string"}}},
        "Route": {"type": "object", "required": ["id", "kind", "steps"], "properties": {
            "id": {"type": "integer"}, "kind": labelled, "name": {"type": "string"},
            "version": {"type": "integer"}, "seed_ref": {"type": "string"},
            "active": {"type": "boolean"}, "time_limit_hours": oa._nullable("integer"),
            "steps": {"type": "array", "items": {"type": "object"}}}},
    })
    one = oa._json(oa._ref("Approval"), "The request.")
    many = oa._json({"type": "object", "required": ["approvals"], "properties": {
        "approvals": {"type": "array", "items": oa._ref("Approval")}}}, "Requests.")
    request_id = oa._id("request_id", "approval request")
    oa.PATHS.update({
        "/api/v1/approvals": {"get": oa._operation(
            "待审批: every step the caller may decide now (status=pending); mine=1: the "
            "caller's own requests", "approvals", (200, many), (422,),
            parameters=[oa._query("status", "pending (the default)"),
                        oa._query("mine", "1: the caller's requests instead")])},
        "/api/v1/approvals/{request_id}": {"get": oa._operation(
            "One request with its route and history", "approvals", (200, one), (404,),
            parameters=[request_id])},
        "/api/v1/approvals/{request_id}/approve": {"post": oa._operation(
            "Approve the step that names the caller; the last approval runs the effect",
            "approvals", (200, one), (400, 403, 404, 409, 422), parameters=[request_id],
            requestBody={**oa._body("Decision"), "required": False})},
        "/api/v1/approvals/{request_id}/reject": {"post": oa._operation(
            "Reject: the request ends", "approvals", (200, one), (400, 403, 404, 409, 422),
            parameters=[request_id], requestBody={**oa._body("Decision"), "required": False})},
        "/api/v1/approvals/{request_id}/withdraw": {"post": oa._operation(
            "Withdraw (the requester only)", "approvals", (200, one), (403, 404, 409),
            parameters=[request_id])},
        "/api/v1/access-requests": {"post": oa._operation(
            "Ask the GM for another department's customer file (002:67)", "approvals",
            (201, one), (400, 403, 422), requestBody=oa._body("AccessRequestInput"))},
        "/api/v1/documents/{document_id}/copy-requests": {"post": oa._operation(
            "Ask the GM to copy a 绝密 document (002:45)", "approvals", (201, one),
            (400, 403, 404, 409, 422), parameters=[oa._id("document_id", "document")],
            requestBody=oa._body("CopyRequestInput"))},
        "/api/v1/approval-routes": {"get": oa._operation(
            "Every approval route with its steps and seed line", "approvals",
            (200, oa._json({"type": "object", "properties": {
                "routes": {"type": "array", "items": oa._ref("Route")}}}, "Routes.")), ())},
        "/api/v1/approval-routes/{route_id}/changes": {"post": oa._operation(
            "Propose a route change (admin); the GM approves it", "approvals", (201, one),
            (400, 403, 409, 422), parameters=[oa._id("route_id", "route")],
            requestBody=oa._body("RouteChangeInput"))},
    })
    oa.SPEC["tags"] += [{"name": "approvals"}]


_describe()
