"""External readers (公检法 and other units) on the web: the archive room's registration
form with the two scans, and one external loan's page with the reader's particulars, its
scans, the copies handed over and the form that makes a stamped copy. Each POST is one service call
in one unit of work."""

from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.extensions import db
from archive.models.external_loan import ReaderKind
from archive.services import access, external_loans, filing, loans, validation, work
from archive.services.errors import DomainError, Forbidden, NotFound

bp = Blueprint("external_loans", __name__)


def N_(text: str) -> str:
    """Mark a msgid for `make translations` without translating it here."""
    return text


# Shown as `_(label)`: the reader kinds and their papers (archive/models/external_loan.py).
LABELS = (N_("公检法"), N_("外单位"), N_("协助调查通知书"), N_("介绍信"))


def _user():
    return current_user._get_current_object()


def _scans() -> dict[str, filing.Upload]:
    scans = {}
    for purpose in ("credential", "notice"):
        parts = validation.file_parts(request.form, request.files.getlist(f"{purpose}_scan"),
                                      key=f"{purpose}_scan", keep_empty=False)
        if parts:
            scans[purpose] = filing.Upload(*parts[0])
    return scans


@bp.route("/loans/external/new", methods=["GET", "POST"])
@login_required
def new():
    user = _user()
    access.require(user, "loan.counter", hide=False)
    form, error, status = request.form if request.method == "POST" else request.args, None, 200
    if request.method == "POST":
        data = request.form.to_dict()
        data["document_ids"] = request.form.getlist("document_ids") or None
        try:
            with work.unit(db.session):
                loan = external_loans.register_external(
                    db.session, user, data, _scans(),
                    store=current_app.extensions["blob_store"],
                    limits=filing.Limits.from_config(current_app.config))
            flash(_("外单位查阅 %(number)s 已登记，等待审批", number=loan.number), "info")
            return redirect(url_for("external_loans.show", loan_id=loan.id))
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:  # the form again, as typed, with the reason
            error, status = exc, 422
    return render_template("loans/external_new.html", form=form, error=error,
                           kinds=list(ReaderKind)), status


@bp.get("/loans/<int:loan_id>/external")
@login_required
def show(loan_id: int):
    user = _user()
    loan = loans.get(db.session, user, loan_id)
    return render_template("loans/external_show.html", loan=loan,
                           counter=access.can(user, "loan.counter", loan))


@bp.get("/loans/<int:loan_id>/external/scans/<int:scan_id>")
@login_required
def scan(loan_id: int, scan_id: int):
    with work.unit(db.session):
        stored, data = external_loans.read_scan(db.session, _user(), loan_id, scan_id,
                                                store=current_app.extensions["blob_store"])
    # a reader's credential: never cached
    return delivery_response.send(data, stored.mime, stored.original_name, attachment=False,
                                  private=True)


@bp.post("/loans/<int:loan_id>/external/copies")
@login_required
def copy(loan_id: int):
    user = _user()
    try:
        with work.unit(db.session):
            made = external_loans.record_copy(
                db.session, user, loan_id, request.form.get("document_id"),
                request.form.get("pages"), store=current_app.extensions["blob_store"])
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("external_loans.show", loan_id=loan_id))
    return Response(made.data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(made.filename)}"})
