"""The documents of an electronic loan (电子借阅), opened through the loan: on screen or
downloaded, each page stamped with the borrower, the loan number and the time."""

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.extensions import db
from archive.services import loans, work

bp = Blueprint("loan_items", __name__, url_prefix="/loans")


def send_lent(loan_id: int, document_id: int, *, download: bool, file_id=None):
    """The stamped copy as a response: inline to view, an attachment to download (the
    API's content route answers the same way, through archive.delivery)."""
    with work.unit(db.session):
        delivery = loans.deliver(db.session, current_user, loan_id, document_id,
                                 download=download, file_id=file_id,
                                 store=current_app.extensions["blob_store"])
    # A stamped copy names one borrower at one time: never cache or share it.
    return delivery_response.send(delivery.data, delivery.mime, delivery.filename,
                                  attachment=download, private=True)


@bp.app_template_global()
def may_open_loan(loan) -> bool:
    """For the loan's page (templates/loans/_electronic_items.html): whether to offer its
    documents to the signed-in user now."""
    return loans.may_open(current_user, loan)


@bp.get("/<int:loan_id>/documents/<int:document_id>/view")
@login_required
def view(loan_id: int, document_id: int):
    return send_lent(loan_id, document_id, download=False, file_id=request.args.get("file"))


@bp.get("/<int:loan_id>/documents/<int:document_id>/download")
@login_required
def download(loan_id: int, document_id: int):
    return send_lent(loan_id, document_id, download=True, file_id=request.args.get("file"))
