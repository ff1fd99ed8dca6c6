"""/api/v1 corrections of the catalogue (issue 18): PATCH a customer, a dossier or a
document; each answer carries the changes made, as the audit trail records them."""

from flask import jsonify
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.models.enums import CARRIERS, CATEGORIES, GROUPS
from archive.services import (
    access,
    corrections,
    customers,
    duplicates,
    filing,
    withdrawal,
    work,
)


@bp.patch("/customers/<int:customer_id>")
@login_required
def correct_customer(customer_id: int):
    body = _json_body()
    with work.unit(db.session):
        customer, changes = corrections.correct_customer(db.session, current_user,
                                                         customer_id, body)
        answer = {**out.customer(customer, customers.visible_dossiers(current_user, customer)),
                  "changes": changes}
    return jsonify(answer)


@bp.patch("/dossiers/<int:dossier_id>")
@login_required
def correct_dossier(dossier_id: int):
    body = _json_body()
    with work.unit(db.session):
        dossier, changes = corrections.correct_dossier(db.session, current_user, dossier_id,
                                                       body)
        answer = {**out.dossier_summary(dossier), "remarks": dossier.remarks,
                  "compiled_by": dossier.compiled_by, "checked_by": dossier.checked_by,
                  "changes": changes}
    return jsonify(answer)


@bp.patch("/documents/<int:document_id>")
@login_required
def correct_document(document_id: int):
    body = _json_body()
    with work.unit(db.session):
        document, changes = corrections.correct_document(db.session, current_user,
                                                         document_id, body)
        answer = {**out.document(document, numbered=access.can(current_user, "numbering.view")),
                  "changes": changes}
    return jsonify(answer)


@bp.post("/documents/<int:document_id>/withdraw")
@login_required
def withdraw_document(document_id: int):
    body = _json_body(optional=True)
    with work.unit(db.session):
        document = withdrawal.withdraw_document(db.session, current_user, document_id, body)
        answer = out.document(document, numbered=access.can(current_user, "numbering.view"))
    return jsonify(answer)


@bp.post("/customers/<int:customer_id>/merge")
@login_required
def merge_customer(customer_id: int):
    body = _json_body()
    with work.unit(db.session):
        target = duplicates.merge_customer(db.session, current_user, customer_id, body)
        answer = out.customer(target, customers.visible_dossiers(current_user, target))
    return jsonify(answer)


@bp.delete("/dossiers/<int:dossier_id>/references/<int:reference_id>")
@login_required
def remove_reference(dossier_id: int, reference_id: int):
    with work.unit(db.session):
        customers.remove_reference(db.session, current_user, dossier_id, reference_id)
    return "", 204


def _history(obj):
    """The object's change history as the page shows it: a moved document's place and
    numbers only to those who see sequence numbers (numbering.view)."""
    numbered = access.can(current_user, "numbering.view")
    rows = []
    for c in corrections.history(db.session, current_user, obj):
        changes = c.changes
        if c.action == "document.moved" and not numbered:
            changes = {k: v for k, v in changes.items() if k != "place"}
        rows.append({"at": out.timestamp(c.at), "actor": c.actor, "action": c.action,
                     "changes": changes, "reason": c.reason})
    return jsonify({"history": rows})


@bp.get("/customers/<int:customer_id>/history")
@login_required
def customer_history(customer_id: int):
    with work.unit(db.session):
        customer = customers.get_customer(db.session, current_user, customer_id)
        return _history(customer)


@bp.get("/dossiers/<int:dossier_id>/history")
@login_required
def dossier_history(dossier_id: int):
    with work.unit(db.session):
        dossier = customers.get_dossier(db.session, current_user, dossier_id)
        return _history(dossier)


@bp.get("/documents/<int:document_id>/history")
@login_required
def document_history(document_id: int):
    with work.unit(db.session):
        document = filing.get_document(db.session, current_user, document_id)
        return _history(document)


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    changes = {"type": "object", "description": (
        "The fields changed, each as [old, new] (dates as YYYY-MM-DD); empty when the values "
        "were already so (nothing is recorded then). A moved document's `place` is its "
        "dossier number and group before and after."),
        "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2}}
    reason = {"type": "string", "maxLength": 500,
              "description": "Why: recorded with the correction."}
    ruled = ("Refused with 422 `not_correctable` and where it is changed instead: ")
    oa.SCHEMAS.update({
        "CustomerCorrection": {"type": "object", "minProperties": 1, "properties": {
            "name": {"type": "string", "maxLength": 200},
            "kind": {"type": "string", "enum": list(oa.KINDS)},
            "id_number": {"type": "string", "maxLength": 60},
            "phone": {"type": "string", "maxLength": 40},
            "address": {"type": "string", "maxLength": 300},
            "grade": {"type": "string", "enum": list(oa.GRADES)},
            "scale": {"type": "string", "enum": ["", *oa.SCALES]},
            "department": oa.DEPARTMENT_INPUT,
            "notes": {"type": "string", "maxLength": 2000}, "reason": reason,
            "confirm_different": {"type": "boolean", "description": (
                "The archive room confirms another person than the customer with the same "
                "ID number, or name and phone (else 409 `duplicate_person`).")}},
            "description": ("Only the fields to change. Phone, address and notes: the "
                            "archive room or the customer's own department; the rest: the "
                            "archive room. " + ruled + "code.")},
        "DossierCorrection": {"type": "object", "minProperties": 1, "properties": {
            "title": {"type": "string", "maxLength": 200},
            "location": {"type": "string", "maxLength": 200,
                         "description": "保存地点."},
            "unit": {"type": "object", "description": (
                "The parts of the unit to change; the dossier number stays as printed."),
                "properties": {k: {"type": "string", "maxLength": 100}
                               for k in ("project", "building", "unit", "room")}},
            "remarks": {"type": "string", "maxLength": 2000, "description": "备考."},
            "compiled_by": {"type": "string", "maxLength": 60},
            "checked_by": {"type": "string", "maxLength": 60}, "reason": reason},
            "description": ("The archive room. " + ruled + "classification (the "
                            "level-change approval), retention and status (the retention "
                            "work, 封卷), number.")},
        "DocumentCorrection": {"type": "object", "minProperties": 1, "properties": {
            "title": {"type": "string", "maxLength": 300},
            "date": {"type": ["string", "null"], "format": "date"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "carrier": {"type": "string", "enum": list(CARRIERS)},
            "pages": {"type": ["integer", "null"], "minimum": 0},
            "originator": {"type": "string", "maxLength": 100, "description": "责任者."},
            "document_number": {"type": "string", "maxLength": 100, "description": "文号."},
            "remarks": {"type": "string", "maxLength": 2000},
            "group": {"type": "string", "enum": list(GROUPS), "description": (
                "Another group moves the document there with the group's next sequence "
                "number; the old dossier's 备考 records the move.")},
            "dossier": {"type": "string", "description": "Another dossier, by its number."},
            "dossier_id": {"type": "integer", "description": "Another dossier, by its id."},
            "reason": reason},
            "description": ("The archive room. A move that would lower the level the "
                            "document is protected at, into a closed dossier or of a 绝密 "
                            "document is refused (409). " + ruled + "classification (the "
                            "level-change approval), retention (the retention schedule and "
                            "appraisal), status, files, seq.")},
        "Merge": {"type": "object", "required": ["into", "reason"], "properties": {
            "into": {"type": ["string", "integer"],
                     "description": "The customer that remains, by id or code."},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "Withdrawal": {"type": "object", "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
    })
    with_changes = {"type": "object", "required": ["changes"],
                    "properties": {"changes": changes}}

    def patch(summary, schema, body):
        return oa._operation(summary, f"{schema.lower()}s", (200, oa._json(
            {"allOf": [oa._ref(schema), with_changes]}, "As corrected, with the changes.")),
            (400, 403, 404, 409, 422), requestBody=oa._body(body))

    oa.PATHS["/api/v1/customers/{customer_id}"]["patch"] = {
        **patch("Correct a customer (audited with old and new values)", "Customer",
                "CustomerCorrection"),
        "parameters": [oa._id("customer_id", "customer")]}
    oa.PATHS["/api/v1/dossiers/{dossier_id}"]["patch"] = {
        **patch("Correct a dossier's catalogue data (archive room; audited)",
                "DossierSummary", "DossierCorrection"),
        "tags": ["dossiers"], "parameters": [oa._id("dossier_id", "dossier")]}
    oa.PATHS["/api/v1/documents/{document_id}"]["patch"] = {
        **patch("Correct or move a document (archive room; audited, re-indexed)",
                "Document", "DocumentCorrection"),
        "parameters": [oa._id("document_id", "document")]}
    oa.PATHS["/api/v1/customers/{customer_id}/merge"] = {"post": oa._operation(
        "Merge this customer record into another found to be the same person (archive "
        "room): the dossiers move, the record stays pointing at the other", "customers",
        (200, oa._json(oa._ref("Customer"), "The customer merged into, with its dossiers.")),
        (400, 403, 404, 409, 422), parameters=[oa._id("customer_id", "customer")],
        requestBody=oa._body("Merge"))}
    oa.PATHS["/api/v1/dossiers/{dossier_id}/references/{reference_id}"] = {"delete": oa._operation(
        "Remove a manual reference, both directions (archive room; audited); the references "
        "between one customer's dossiers are the archive's own (409)", "dossiers",
        (204, {"description": "Removed."}), (403, 404, 409),
        parameters=[oa._id("dossier_id", "dossier"), oa._id("reference_id", "reference")])}
    oa.SCHEMAS["History"] = {"type": "object", "required": ["history"], "properties": {
        "history": {"type": "array", "items": {
            "type": "object", "required": ["at", "actor", "action", "changes"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"},
                "action": {"type": "string", "description": (
                    "E.g. customer.corrected, customer.merged, dossier.corrected, "
                    "document.moved, document.withdrawn.")},
                "changes": changes, "reason": {"type": "string"}}}}}}
    for kind, what in (("customers", "customer"), ("dossiers", "dossier"),
                       ("documents", "document")):
        oa.PATHS[f"/api/v1/{kind}/{{{what}_id}}/history"] = {"get": oa._operation(
            f"The {what}'s change history, oldest first (audited as a view); ID and "
            "telephone numbers masked as on the customer's page", kind,
            (200, oa._json(oa._ref("History"), "The history.")), (403, 404),
            parameters=[oa._id(f"{what}_id", what)])}
    oa.PATHS["/api/v1/documents/{document_id}/withdraw"] = {"post": oa._operation(
        "撤销归档: withdraw a mis-filed document (archive room, with a reason); it leaves "
        "lists, search and lending, keeps its record, number and files", "documents",
        (200, oa._json(oa._ref("Document"), "The withdrawn document (status withdrawn).")),
        (400, 403, 404, 409, 422), parameters=[oa._id("document_id", "document")],
        requestBody=oa._body("Withdrawal"))}


_describe()
