"""Correcting the catalogue from the pages (issue 18): the edit forms of a customer, a
dossier and a document, and the change history each object's page shows."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models import Customer, Department
from archive.services import access, corrections, customers, duplicates, filing, withdrawal, work
from archive.services.errors import DomainError

bp = Blueprint("corrections", __name__)


# What each kind of history line says, translated when a line is shown (one string a
# line: building the whole table per line cost 14 translations each).
_ACTIONS = {
    "customer.created": lazy_gettext("登记"), "customer.corrected": lazy_gettext("更正"),
    "customer.merged": lazy_gettext("并入其他客户"),
    "customer.merged_into": lazy_gettext("合并客户"),
    "customer.confirmed_different": lazy_gettext("确认非同一人"),
    "dossier.created": lazy_gettext("建档"), "dossier.corrected": lazy_gettext("更正"),
    "dossier.referenced": lazy_gettext("建立参照"),
    "dossier.reference_removed": lazy_gettext("删除参照"),
    "dossier.moved_by_merge": lazy_gettext("随客户合并转移"),
    "document.uploaded": lazy_gettext("归档"), "document.corrected": lazy_gettext("更正"),
    "document.moved": lazy_gettext("移动"), "document.withdrawn": lazy_gettext("撤销归档"),
}


@bp.app_context_processor
def _history():
    # The pages that show an object have checked that the user may see it.
    return {"change_history": lambda obj: corrections.history(db.session, current_user, obj),
            "history_action": lambda action: str(_ACTIONS.get(action, action)),
            "withdrawn_documents": lambda dossier: withdrawal.withdrawn(current_user,
                                                                         dossier)}


def same_person(exc: DomainError) -> dict | None:
    """What a form shows when a customer looks like one already registered: the ones the
    user may see (links) and whether the user may confirm another person."""
    if exc.code != "duplicate_person":
        return None
    return {"existing": exc.details.get("existing", []),
            "may_confirm": access.can(current_user, "customer.confirm_different")}


def _saved(changes: dict) -> None:
    if changes:
        flash(_("已更正：%(fields)s", fields="、".join(
            corrections.LABELS.get(k, k) for k in changes)), "info")
    else:
        flash(_("没有改动"), "info")


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit_customer(customer_id: int):
    customer = customers.get_or_404(db.session, Customer, customer_id)
    access.require(current_user, "customer.view", customer)
    access.require(current_user, "customer.correct_contacts", customer, hide=False)
    full = access.can(current_user, "customer.correct", customer)
    departments = db.session.query(Department).order_by(Department.id).all()
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            with work.unit(db.session):
                _c, changes = corrections.correct_customer(
                    db.session, current_user, customer.id, request.form.to_dict())
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("corrections/customer.html", customer=customer, full=full,
                                   departments=departments, form=form,
                                   same_person=same_person(exc),
                                   grades=customers.GRADES, scales=customers.SCALES), exc.status
        _saved(changes)
        return redirect(url_for("customers.show", customer_id=customer.id))
    return render_template("corrections/customer.html", customer=customer, full=full,
                           departments=departments, form=form, grades=customers.GRADES,
                           scales=customers.SCALES)


@bp.route("/dossiers/<int:dossier_id>/edit", methods=["GET", "POST"])
@login_required
def edit_dossier(dossier_id: int):
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "dossier.correct", dossier, hide=False)
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        data = request.form.to_dict()
        if dossier.unit is None:  # a case file's form has no unit fields to send
            data = {k: v for k, v in data.items() if k not in corrections.UNIT_PARTS}
        try:
            with work.unit(db.session):
                _d, changes = corrections.correct_dossier(db.session, current_user, dossier.id,
                                                          data)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("corrections/dossier.html", dossier=dossier,
                                   form=form), exc.status
        _saved(changes)
        return redirect(url_for("dossiers.show", dossier_id=dossier.id))
    return render_template("corrections/dossier.html", dossier=dossier, form=form)


@bp.route("/documents/<int:document_id>/edit", methods=["GET", "POST"])
@login_required
def edit_document(document_id: int):
    document = filing.get_document(db.session, current_user, document_id, record=False)
    access.require(current_user, "document.correct", document, hide=False)
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        data = request.form.to_dict()
        if data.get("dossier") == document.dossier.number:
            data.pop("dossier")  # the form shows where it is; only another number moves it
        try:
            with work.unit(db.session):
                _d, changes = corrections.correct_document(db.session, current_user,
                                                           document.id, data)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("corrections/document.html", document=document,
                                   form=form), exc.status
        _saved(changes)
        return redirect(url_for("documents.show", document_id=document.id))
    return render_template("corrections/document.html", document=document, form=form)


@bp.post("/documents/<int:document_id>/withdraw")
@login_required
def withdraw_document(document_id: int):
    document = filing.get_document(db.session, current_user, document_id, record=False)
    access.require(current_user, "document.withdraw", document, hide=False)
    try:
        with work.unit(db.session):
            withdrawal.withdraw_document(db.session, current_user, document.id,
                                          request.form.to_dict())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("documents.show", document_id=document_id))
    flash(_("已撤销归档：《%(title)s》不再出现在目录和检索中", title=document.title), "info")
    return redirect(url_for("dossiers.show", dossier_id=document.dossier_id))


@bp.post("/customers/<int:customer_id>/merge")
@login_required
def merge_customer(customer_id: int):
    customer = customers.get_or_404(db.session, Customer, customer_id)
    access.require(current_user, "customer.view", customer)
    access.require(current_user, "customer.merge", customer, hide=False)
    try:
        with work.unit(db.session):
            target = duplicates.merge_customer(db.session, current_user, customer.id,
                                               request.form.to_dict())
            into = {"name": target.name, "code": target.code, "id": target.id}
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("customers.show", customer_id=customer_id))
    flash(_("已将客户并入 %(name)s（%(code)s），档案随之转移", name=into["name"],
            code=into["code"]), "info")
    return redirect(url_for("customers.show", customer_id=into["id"]))


@bp.post("/dossiers/<int:dossier_id>/references/<int:reference_id>/remove")
@login_required
def remove_reference(dossier_id: int, reference_id: int):
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "reference.remove", dossier, hide=False)
    try:
        with work.unit(db.session):
            ref = customers.remove_reference(db.session, current_user, dossier_id,
                                             reference_id)
            number = ref.to_dossier.number
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("已删除到 %(number)s 的参照", number=number), "info")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))
