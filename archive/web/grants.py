"""The GM's page of grants, and the GM's forms on document and dossier pages
(绝密 designations and copy approvals)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from archive.extensions import db
from archive.models import Customer, Department, User
from archive.services import access, grants, work
from archive.services.errors import DomainError
from archive.web.classification import local_next

bp = Blueprint("grants", __name__)


@bp.get("/grants")
@login_required
def index():
    access.require(current_user, "grant.manage")
    rows = grants.list_grants(db.session, current_user)
    # The customers the listed grants name, in one query (the page names them).
    named = {g.customer_id for g in rows if g.customer_id}
    granted = {c.id: c for c in db.session.execute(
        select(Customer).where(Customer.id.in_(named))).scalars()} if named else {}
    return render_template(
        "grants/index.html", grants=rows, customers=granted, active=grants.is_active,
        people=db.session.execute(select(User).where(User.active.is_(True))
                                  .order_by(User.username)).scalars().all(),
        departments=db.session.execute(select(Department).order_by(Department.id)).scalars().all(),
    )


def _run(action, success: str, fallback: str):
    try:
        with work.unit(db.session):
            action()
        flash(success, "info")
    except access.NotFound:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(local_next() or fallback)


@bp.post("/grants")
@login_required
def create():
    access.require(current_user, "grant.manage")
    return _run(lambda: grants.grant_access(db.session, current_user, request.form.to_dict()),
                _("已授权"), url_for("grants.index"))


@bp.post("/grants/<int:grant_id>/revoke")
@login_required
def revoke(grant_id: int):
    access.require(current_user, "grant.manage")
    return _run(lambda: grants.revoke_grant(db.session, current_user, grant_id),
                _("授权已收回"), url_for("grants.index"))


@bp.post("/designations")
@login_required
def designate():
    access.require(current_user, "designation.manage")
    return _run(lambda: grants.designate(db.session, current_user, request.form.to_dict()),
                _("已指定知悉人员"), url_for("main.dashboard"))


@bp.post("/designations/<int:designation_id>/revoke")
@login_required
def revoke_designation(designation_id: int):
    access.require(current_user, "designation.manage")
    return _run(lambda: grants.revoke_designation(db.session, current_user, designation_id),
                _("已取消指定"), url_for("main.dashboard"))


@bp.post("/copy-approvals")
@login_required
def approve_copy():
    access.require(current_user, "copy.approve")
    return _run(lambda: grants.approve_copy(db.session, current_user, request.form.to_dict()),
                _("已批准复制"), url_for("main.dashboard"))


@bp.post("/copy-approvals/<int:approval_id>/revoke")
@login_required
def revoke_copy(approval_id: int):
    access.require(current_user, "copy.approve")
    return _run(lambda: grants.revoke_copy(db.session, current_user, approval_id),
                _("已收回复制批准"), url_for("main.dashboard"))
