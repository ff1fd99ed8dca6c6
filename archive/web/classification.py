"""Level changes on the web: request forms, the 待审批 list, approve and reject."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.clock import now
from archive.extensions import db
from archive.models import Document, Dossier
from archive.models.approval import RequestStatus
from archive.services import access, approvals, classification, grants, work
from archive.services.customers import get_dossier
from archive.services.errors import DomainError
from archive.services.filing import get_document
from archive.web import local_path
from archive.web.approvals import render_inbox

bp = Blueprint("classification", __name__)


def level_context(target) -> dict:
    """What a document or dossier page shows about its level: history, the request
    form, pending decisions, and for the GM the designations and copy approvals."""
    user = current_user
    changes = classification.history(db.session, user, target)
    pending = next((c for c in changes if c.state(now()) is RequestStatus.PENDING
                    and c.subject is target), None)
    may_decide = pending is not None and approvals.may_decide(user, pending)
    context = {
        "level_changes": changes,
        "pending_change": pending,
        "may_request_change": pending is None
        and access.can(user, "classification.request", target),
        "may_decide_change": may_decide,
        "may_reject_change": may_decide,
        "may_designate": access.can(user, "designation.manage"),
        "designations": [],
        "copy_approvals": [],
        "may_copy": True,
        "grant_active": grants.is_active,
    }
    if context["may_designate"]:
        context["designations"] = grants.designations_for(db.session, target)
    if isinstance(target, Document):
        context["may_copy"] = access.can(user, "document.copy", target)
        if access.can(user, "copy.approve"):
            context["copy_approvals"] = grants.copy_approvals_for(db.session, target)
    return context


def _back(target) -> str:
    if isinstance(target, Dossier):
        return url_for("dossiers.show", dossier_id=target.id)
    return url_for("documents.show", document_id=target.id)


def _request(target):
    try:
        with work.unit(db.session):
            change = classification.request_change(db.session, current_user, target,
                                                   request.form.get("to", ""),
                                                   request.form.get("reason", ""))
        # Whom it waits for is the route's data: say what the route says, less the steps
        # the asking decided (a head's own request: approvals.SELF_CONSENT).
        waiting = [s for s in change.steps if s.decision is None]
        flash(_("密级变更申请已提交，待%(who)s审批", who=approvals.steps_text(waiting)), "info")
    except (access.NotFound, access.Forbidden):
        raise  # a refusal answers 403/404 like every route; only form errors are flashed
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(_back(target))


@bp.post("/documents/<int:document_id>/classification")
@login_required
def request_document(document_id: int):
    document = get_document(db.session, current_user, document_id, record=False)
    return _request(document)


@bp.post("/dossiers/<int:dossier_id>/classification")
@login_required
def request_dossier(dossier_id: int):
    dossier = get_dossier(db.session, current_user, dossier_id, record=False)
    return _request(dossier)


@bp.get("/classification/pending")
@login_required
def pending():
    """The 待审批 page, level changes only."""
    return render_inbox(classification.pending_for(db.session, current_user),
                        _("待审批的密级变更"))


def _decide(change_id: int, decision: str):
    try:
        with work.unit(db.session):
            if decision == "approve":
                change = classification.approve(db.session, current_user, change_id)
            else:
                change = classification.reject(db.session, current_user, change_id,
                                               request.form.get("note", ""))
        if decision == "reject":
            flash(_("已驳回密级变更申请"), "info")
        else:
            flash(_("密级变更已生效") if change.status == RequestStatus.APPROVED
                  else _("已审批，待另一方审批"), "info")
    except (access.NotFound, access.Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(local_next() or url_for("classification.pending"))


def local_next() -> str | None:
    """The form's `next` if it is a path on this site."""
    return local_path(request.form.get("next"))


@bp.post("/classification/<int:change_id>/approve")
@login_required
def approve(change_id: int):
    return _decide(change_id, "approve")


@bp.post("/classification/<int:change_id>/reject")
@login_required
def reject(change_id: int):
    return _decide(change_id, "reject")
