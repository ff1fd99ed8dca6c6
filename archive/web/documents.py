"""Document page, download and in-browser preview."""

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.extensions import db
from archive.services import access, filetypes, filing, preservation, work

bp = Blueprint("documents", __name__, url_prefix="/documents")


@bp.get("/<int:document_id>")
@login_required
def show(document_id: int):
    from archive.web.classification import level_context

    with work.unit(db.session):  # the view's audit event, committed before the page renders
        document = filing.get_document(db.session, current_user, document_id, page=True)
    may_read = access.can(current_user, "document.read", document)
    forms = {f.id: (filing.delivery_form(current_user, document, f, "download"),
                    filing.delivery_form(current_user, document, f, "preview"))
             for f in document.files} if may_read else {}
    return render_template("documents/show.html", document=document, may_read=may_read,
                           forms=forms, kind_name=filetypes.kind_name,
                           preservation_checks=preservation.latest_for(db.session, document),
                           **level_context(document))


def _send(document_id: int, file_id, purpose: str):
    with work.unit(db.session):
        delivery = filing.read_for_delivery(db.session, current_user, document_id, file_id,
                                            store=current_app.extensions["blob_store"],
                                            purpose=purpose)
    # A stamped copy names one viewer at one time: never cache or share it.
    return delivery_response.send(delivery.data, delivery.mime, delivery.filename,
                                  attachment=purpose == "download", private=delivery.stamped)


@bp.get("/<int:document_id>/download")
@bp.get("/<int:document_id>/files/<int:file_id>/download")
@login_required
def download(document_id: int, file_id: int | None = None):
    return _send(document_id, file_id, "download")


@bp.get("/<int:document_id>/preview")
@bp.get("/<int:document_id>/files/<int:file_id>/preview")
@login_required
def preview(document_id: int, file_id: int | None = None):
    return _send(document_id, file_id, "preview")
