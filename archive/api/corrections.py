"""/api/v1 corrections of the catalogue (issue 18): PATCH a customer, a dossier or a
document; each answer carries the changes made, as the audit trail records them."""

from flask import jsonify
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.api.routes import _json_body
from archive.extensions import db
from archive.services import access, corrections, customers, work


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
        document = corrections.withdraw_document(db.session, current_user, document_id, body)
        answer = out.document(document, numbered=access.can(current_user, "numbering.view"))
    return jsonify(answer)
