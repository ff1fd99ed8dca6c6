"""Customer list, customer page, new customer, new dossier."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.extensions import db
from archive.services import access, customers, organisation, personal_data, validation, work
from archive.services.errors import DomainError
from archive.web.corrections import same_person

bp = Blueprint("customers", __name__, url_prefix="/customers")
# The customer form's two scales (004:23-25).
SCALES = {"grades": customers.GRADES, "scales": customers.SCALES}


@bp.get("")
@login_required
def index():
    page = validation.page(request.args)
    per_page = current_app.config["PER_PAGE"]
    q = request.args.get("q", "")[:100]
    total, rows = customers.list_customers(db.session, current_user, q=q, page=page,
                                           per_page=per_page)
    pages = max(1, -(-total // per_page))
    if page > pages:
        return redirect(url_for("customers.index", q=q, page=pages))
    counts = customers.visible_dossier_counts(db.session, current_user, rows)
    return render_template("customers/index.html", customers=rows, total=total, page=page,
                           pages=pages, q=q, counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    access.require(current_user, "customer.create")
    departments = customers.registering_departments(db.session, current_user)
    if request.method == "POST":
        try:
            with work.unit(db.session):
                customer = customers.create_customer(
                    db.session, current_user, request.form.to_dict(),
                    code_format=current_app.config["CUSTOMER_CODE_FORMAT"])
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("customers/new.html", departments=departments,
                                   form=request.form, same_person=same_person(exc),
                                   **SCALES), exc.status
        flash(_("已登记客户 %(name)s", name=customer.name), "info")
        return redirect(url_for("customers.show", customer_id=customer.id))
    return render_template("customers/new.html", departments=departments, form={}, **SCALES)


@bp.get("/<int:customer_id>")
@login_required
def show(customer_id: int):
    with work.unit(db.session):  # the view's audit event, committed before the page renders
        customer = customers.get_customer(db.session, current_user, customer_id)
    dossiers = customers.visible_dossiers(current_user, customer)
    refs = {d.id: customers.references(db.session, current_user, d) for d in dossiers}
    counts = {d.id: len(access.visible_documents(current_user, d.documents)) for d in dossiers}
    return render_template("customers/show.html", customer=customer, dossiers=dossiers, refs=refs,
                           counts=counts, personal=personal_data.shown(current_user, customer),
                           may_file=access.can(current_user, "dossier.create", customer))


@bp.route("/<int:customer_id>/dossiers/new", methods=["GET", "POST"])
@login_required
def new_dossier(customer_id: int):
    customer = customers.get_or_404(db.session, customers.Customer, customer_id)
    access.require(current_user, "customer.view", customer)
    access.require(current_user, "dossier.create", customer, hide=False)
    if request.method == "POST":
        data = {**request.form.to_dict(), "customer_id": customer.id}
        try:
            with work.unit(db.session):
                dossier = customers.create_dossier(
                    db.session, current_user, data,
                    number_format=current_app.config["DOSSIER_NUMBER_FORMAT"])
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("dossiers/new.html", customer=customer, form=request.form,
                                   projects=_projects()), exc.status
        flash(_("已建立档案 %(number)s", number=dossier.number), "info")
        return redirect(url_for("dossiers.show", dossier_id=dossier.id))
    return render_template("dossiers/new.html", customer=customer, form={},
                           projects=_projects())


def _projects():
    """The projects a new dossier's unit is chosen from (organisation.require_project)."""
    return organisation.list_projects(db.session, active_only=True)
