"""Transfers (移交) on the web: the deadlines dashboard and the batches, preparing a batch
from what the department holds, submitting and withdrawing it, receiving it item by item,
the printable 移交清单 with both signatures, the 移交登记簿 (CSV), and staff handovers."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models.transfer import ItemOutcome
from archive.services import access, preservation, transfers, work
from archive.services.errors import DomainError, Forbidden, NotFound
from archive.web import N_, run_form

bp = Blueprint("transfers", __name__)


LABELS = (
    N_("部门保管（待移交）"), N_("档案室"), N_("草稿"), N_("待接收"), N_("已接收"), N_("部分接收"),
    N_("已退回"), N_("已撤回"), N_("件数或页数不符"), N_("缺失"), N_("破损"), N_("移交接收"),
    N_("接收单位"), N_("离职"), N_("调岗"),
)


def _user():
    return current_user._get_current_object()


@bp.get("/transfers")
@login_required
def index():
    user = _user()
    return render_template("transfers/index.html", board=transfers.dashboard(db.session, user),
                           rows=transfers.listing(db.session, user),
                           may_prepare=access.can(user, "transfer.prepare"))


@bp.get("/transfers/new")
@login_required
def new():
    user = _user()
    access.require(user, "transfer.prepare")
    return render_template("transfers/new.html", documents=transfers.waiting(db.session, user),
                           departments=transfers.receiving_units(db.session, user))


@bp.post("/transfers")
@login_required
def create():
    user = _user()
    access.require(user, "transfer.prepare")
    form = request.form
    data = {"items": [{"document_id": d, "pages": form.get(f"pages-{d}") or None}
                      for d in form.getlist("items")],
            "note": form.get("note", ""), "to_department_id": form.get("to_department_id")}
    try:
        with work.unit(db.session):
            batch = transfers.create(db.session, user, data)
            if form.get("submit") == "1":
                transfers.submit(db.session, user, batch.id)
            batch_id = batch.id
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("transfers.new"))
    flash(_("移交清单已提交，等待接收") if form.get("submit") == "1" else _("移交清单已保存为草稿"),
          "info")
    return redirect(url_for("transfers.show", batch_id=batch_id))


def _page(batch, template="transfers/show.html"):
    user = _user()
    return render_template(template, batch=batch,
                           may_send=access.can(user, "transfer.send", batch),
                           may_receive=access.can(user, "transfer.receive", batch),
                           requests=transfers.requests_of(db.session, batch),
                           outcomes=list(ItemOutcome),
                           preservation=preservation.of_batch(db.session, batch.id))


@bp.get("/transfers/<int:batch_id>")
@login_required
def show(batch_id: int):
    return _page(transfers.get(db.session, _user(), batch_id))


@bp.get("/transfers/<int:batch_id>/form")
@login_required
def form(batch_id: int):
    return _page(transfers.get(db.session, _user(), batch_id), "transfers/form.html")


@bp.post("/transfers/<int:batch_id>/submit")
@login_required
def submit(batch_id: int):
    return run_form(lambda: transfers.submit(db.session, _user(), batch_id),
                _("移交清单已提交，等待接收"), url_for("transfers.show", batch_id=batch_id))


@bp.post("/transfers/<int:batch_id>/withdraw")
@login_required
def withdraw(batch_id: int):
    return run_form(lambda: transfers.withdraw(db.session, _user(), batch_id),
                _("移交清单已撤回"), url_for("transfers.show", batch_id=batch_id))


@bp.post("/transfers/<int:batch_id>/receive")
@login_required
def receive(batch_id: int):
    user = _user()
    batch = transfers.get(db.session, user, batch_id)
    form = request.form
    data = {"note": form.get("note", ""), "items": [
        {"document_id": i.document_id, "count": form.get(f"count-{i.document_id}", ""),
         "pages": form.get(f"pages-{i.document_id}", ""),
         "damaged": form.get(f"damaged-{i.document_id}", ""),
         "missing": form.get(f"missing-{i.document_id}", ""),
         "note": form.get(f"note-{i.document_id}", "")} for i in batch.items]}
    return run_form(lambda: transfers.receive(db.session, user, batch_id, data),
                _("已清点签收：核对相符的文件已转入接收单位保管"),
                url_for("transfers.show", batch_id=batch_id))


@bp.get("/transfers/register.csv")
@login_required
def register_csv():
    access.require(_user(), "transfer.list")
    return Response(transfers.register_csv(db.session, _user()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=transfers.csv"})


@bp.get("/transfers/rules")
@login_required
def rules():
    from archive.models import Project

    return render_template("transfers/rules.html", rules=transfers.rules(db.session),
                           projects=db.session.query(Project).order_by(Project.name).all(),
                           may_edit=access.can(_user(), "transfer.rules"))


@bp.post("/transfers/rules")
@login_required
def change_rule():
    access.require(_user(), "transfer.rules")
    form = request.form.to_dict()
    return run_form(lambda: transfers.update_rule(db.session, _user(), form),
                _("移交期限规则已更新，待移交文件的期限已重新计算"), url_for("transfers.rules"))


@bp.post("/transfers/move-in")
@login_required
def move_in():
    access.require(_user(), "transfer.rules")
    form = request.form.to_dict()
    return run_form(lambda: transfers.set_move_in(db.session, _user(), form),
                _("集中入伙日期已记录，相关资料的移交期限已重新计算"), url_for("transfers.rules"))


@bp.get("/handovers")
@login_required
def handovers():
    user = _user()
    return render_template("transfers/handovers.html",
                           rows=transfers.open_handovers(db.session, user),
                           may_open=access.can(user, "handover.start"))


@bp.post("/handovers")
@login_required
def open_handover():
    access.require(_user(), "handover.start")
    form = request.form.to_dict()
    return run_form(lambda: transfers.open_handover(db.session, _user(), form),
                _("交接已登记：交接人所持资料列于交接单，接收人签收后完成"),
                url_for("transfers.handovers"))


@bp.get("/handovers/<int:handover_id>")
@login_required
def handover(handover_id: int):
    user = _user()
    record = transfers.get_handover(db.session, user, handover_id)
    left = transfers.outstanding(db.session, record.person) if record.open else None
    return render_template("transfers/handover.html", h=record, left=left,
                           may_sign=access.can(user, "handover.sign", record))


@bp.post("/handovers/<int:handover_id>/sign")
@login_required
def sign(handover_id: int):
    return run_form(lambda: transfers.sign_handover(db.session, _user(), handover_id),
                _("交接已签收"), url_for("transfers.handover", handover_id=handover_id))
