"""Retention and disposal on the web: the schedule (保管期限表), the review queue (鉴定),
legal holds (冻结), destruction batches (销毁清单) with their execution before two
supervisors, the register (销毁清册) and the certificate (docs/retention.md)."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive import delivery
from archive.auth import password_attempts_limited
from archive.extensions import db
from archive.models.enums import CATEGORIES, Level
from archive.models.retention import COUNTS_FROM_LABELS, AppraisalDecision, CountsFrom
from archive.services import (
    access,
    backup,
    certificates,
    destruction,
    holds,
    retention,
    work,
)
from archive.services.errors import DomainError, Forbidden, NotFound
from archive.web import N_, run_form

bp = Blueprint("retention", __name__)


# Labels of the models (Chinese data) shown as `_(label)`.
LABELS = (
    N_("文件日期"), N_("归档日期"), N_("封卷日期"), N_("结案日期"),
    N_("销毁"), N_("延长保管"), N_("改为永久保管"), N_("确认到期日"),
    N_("待审批"), N_("已批准，待销毁"), N_("销毁中"), N_("已销毁"), N_("已驳回"), N_("已撤回"),
    N_("文件均已撤出，未销毁"), N_("待销毁"), N_("待清除"), N_("已撤出"),
)


def _user():
    return current_user._get_current_object()


# ---- the schedule ----------------------------------------------------------------------


@bp.get("/retention/schedule")
@login_required
def schedule():
    return render_template("retention/schedule.html", rules=retention.schedule(db.session),
                           counts_from=COUNTS_FROM_LABELS,
                           may_edit=access.can(_user(), "retention.manage"))


@bp.post("/retention/schedule")
@login_required
def change_rule():
    access.require(_user(), "retention.manage")
    form = request.form.to_dict()
    return run_form(lambda: retention.update_rule(db.session, _user(), form),
                _("保管期限表已更新，遵循该表的文件已重新计算到期日"),
                url_for("retention.schedule"))


# ---- the review queue and appraisal ------------------------------------------------------


@bp.get("/retention/due")
@login_required
def due():
    user = _user()
    access.require(user, "retention.review")
    category = request.args.get("category", "")
    rows = retention.due(db.session, user, category=category if category in CATEGORIES else "")
    marks = holds.held(db.session, rows)
    return render_template("retention/due.html", rows=rows, held=marks,
                           unconfirmed=retention.unconfirmed(db.session, user),
                           categories=CATEGORIES, category=category,
                           decisions=list(AppraisalDecision))


@bp.post("/retention/appraisals")
@login_required
def appraise():
    access.require(_user(), "retention.review", hide=False)
    form = request.form.to_dict()
    return run_form(lambda: retention.appraise(db.session, _user(), form.get("document_id"), form),
                _("鉴定意见已记录"), url_for("retention.due"))


def _dossier_step(action, dossier_id: int, message: str):
    form = request.form.to_dict()
    return run_form(lambda: action(db.session, _user(), dossier_id, form), message,
                url_for("dossiers.show", dossier_id=dossier_id))


@bp.post("/dossiers/<int:dossier_id>/close")
@login_required
def close_dossier(dossier_id: int):
    return _dossier_step(retention.close_dossier, dossier_id, _("档案已封卷"))


@bp.post("/dossiers/<int:dossier_id>/reopen")
@login_required
def reopen_dossier(dossier_id: int):
    return _dossier_step(retention.reopen_dossier, dossier_id, _("档案已重新开卷"))


@bp.post("/dossiers/<int:dossier_id>/case-closed")
@login_required
def case_closed(dossier_id: int):
    return _dossier_step(retention.set_case_closed, dossier_id, _("结案日期已记录"))


# ---- legal holds -------------------------------------------------------------------------


@bp.get("/holds")
@login_required
def hold_list():
    user = _user()
    show_all = request.args.get("all") == "1"
    return render_template("retention/holds.html",
                           rows=holds.listing(db.session, user, active_only=not show_all),
                           show_all=show_all, may_manage=access.can(user, "hold.manage"),
                           describe=holds.describe)


@bp.post("/holds")
@login_required
def place_hold():
    access.require(_user(), "hold.manage")
    form = request.form.to_dict()
    return run_form(lambda: holds.place(db.session, _user(), form), _("已冻结：解除前不能销毁"),
                url_for("retention.hold_list"))


@bp.post("/holds/<int:hold_id>/lift")
@login_required
def lift_hold(hold_id: int):
    form = request.form.to_dict()
    return run_form(lambda: holds.lift(db.session, _user(), hold_id, form), _("冻结已解除"),
                url_for("retention.hold_list"))


# ---- destruction batches -----------------------------------------------------------------


@bp.get("/destructions")
@login_required
def destructions():
    user = _user()
    return render_template("retention/destructions.html",
                           rows=destruction.listing(db.session, user),
                           may_propose=access.can(user, "destruction.propose"))


@bp.post("/destructions")
@login_required
def propose():
    user = _user()
    access.require(user, "destruction.propose")
    data = {"items": request.form.getlist("items"), "reason": request.form.get("reason", "")}
    try:
        with work.unit(db.session):
            batch = destruction.propose(db.session, user, data)
            batch_id = batch.id
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("retention.due"))
    flash(_("销毁清单已提交审批"), "info")
    return redirect(url_for("retention.show", batch_id=batch_id))


@bp.get("/destructions/<int:batch_id>")
@login_required
def show(batch_id: int):
    return _batch_page(destruction.get(db.session, _user(), batch_id))


def _batch_page(batch):
    """A batch's page: its items, approvals, execution form and register rows."""
    user = _user()
    return render_template("retention/destruction.html", batch=batch,
                           requests=destruction.requests_of(batch),
                           entries=destruction.register(db.session, user, batch=batch)
                           if access.can(user, "destruction.list") else [],
                           may_execute=access.can(user, "destruction.execute", batch),
                           level=Level)


@bp.post("/destructions/<int:batch_id>/execute")
@password_attempts_limited
@login_required
def execute(batch_id: int):
    user = _user()
    form = request.form
    data = {"supervisors": [{"username": form.get(f"supervisor{n}_username", ""),
                             "password": form.get(f"supervisor{n}_password", "")}
                            for n in (1, 2)],
            "paper_method": form.get("paper_method", ""),
            "paper_place": form.get("paper_place", "")}
    try:
        destruction.execute(db.session, user, batch_id, data,
                            store=current_app.extensions["blob_store"],
                            journal=backup.journal_path(current_app.config["INSTANCE_DIR"]))
    except NotFound:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return _batch_page(destruction.get(db.session, user, batch_id)), exc.status
    flash(_("销毁已执行完毕，销毁清册已登记"), "info")
    return redirect(url_for("retention.show", batch_id=batch_id))


@bp.post("/destructions/<int:batch_id>/items/<int:document_id>/drop")
@login_required
def drop_item(batch_id: int, document_id: int):
    form = request.form.to_dict()
    return run_form(lambda: destruction.drop_item(db.session, _user(), batch_id, document_id, form),
                _("已从销毁清单中撤出"), url_for("retention.show", batch_id=batch_id))


@bp.get("/destructions/register")
@login_required
def register():
    user = _user()
    return render_template("retention/register.html",
                           entries=destruction.register(db.session, user), level=Level)


@bp.get("/destructions/<int:batch_id>/certificate.pdf")
@login_required
def certificate(batch_id: int):
    batch = destruction.get(db.session, _user(), batch_id)
    pdf = certificates.certificate(db.session, _user(), batch)
    return delivery.send(pdf, "application/pdf", f"销毁证明-{batch.number}.pdf",
                         attachment=False, private=True)


@bp.app_template_global()
def supervisor_choices(request_row) -> list:
    """Who the approver may name as supervisors of a destruction batch: active people
    cleared for every item, neither the approver nor the proposer."""
    return destruction.supervisor_choices(db.session, _user(), request_row.destruction)


@bp.app_template_global()
def destroyed_note(document) -> str:
    """How a tombstone is marked in its dossier's lists: 已销毁 and the batch."""
    row = destruction.register_row(db.session, document)
    if row is None:
        return _("销毁中")
    return _("已销毁（%(number)s）", number=row.batch_number)


@bp.app_template_global()
def destroyed_in(dossier) -> list:
    """The register rows of a dossier's destroyed documents, for its 备考表."""
    return destruction.destroyed_in(db.session, dossier)


@bp.app_template_global()
def retention_of(document) -> dict:
    """The schedule's view of a document for its page: period, 到期日, holds, appraisals."""
    return {"holds": holds.covering(db.session, document),
            "appraisals": retention.appraisals(db.session, document),
            "register": destruction.register_row(db.session, document),
            "basis": CountsFrom(document.disposal_basis).label if document.disposal_basis
            else None}
