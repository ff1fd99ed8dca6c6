"""Lending (借阅) on the web: the request form on a dossier, 我的借阅, one loan with its
approvals and the counter's forms, 柜台, the register (借阅登记簿: print page and CSV) and the
printable 《借阅档案申请表》. Each POST is one service call in one unit of work."""

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from archive.clock import now
from archive.extensions import db
from archive.models import Role, User
from archive.models.loan import LoanKind
from archive.services import access, customers, filing, loan_lists, loans, spreadsheets, work
from archive.services.errors import DomainError, Forbidden, Invalid, NotFound
from archive.web import local_path

bp = Blueprint("loans", __name__)



def N_(text: str) -> str:
    """Mark a msgid for `make translations` without translating it here."""
    return text


# Shown as `_(label)`: the loan's kinds and statuses (archive/models/loan.py) and the
# register's columns (loan_lists.COLUMNS); the approval labels are in web/approvals.py.
LABELS = (
    N_("阅览"), N_("借出"), N_("复制"), N_("电子"), N_("已归还"),
    N_("借阅人"), N_("部门/单位"), N_("联系方式"), N_("借阅日期"), N_("应还日期"),
    N_("实际归还日期"), N_("档号"), N_("题名"), N_("密级"), N_("用途"), N_("审批人及意见"),
    N_("出借件数/页数"), N_("归还件数/页数"), N_("状态"), N_("备注"),
)


def _user():
    return current_user._get_current_object()


@bp.app_template_global()
def days_overdue(loan) -> int:
    return loans.days_overdue(loan)


@bp.app_template_global()
def loan_marks(documents) -> dict:
    """document id -> its marks (借出 to whom until when; 遗失/损毁 while reported), for a
    list of documents or of their ids: two queries per list."""
    ids = [getattr(d, "id", d) for d in documents]
    return loan_lists.document_marks(db.session, ids)


# ---- asking ---------------------------------------------------------------------------


def _borrowers() -> list[User]:
    """Whom the archive room may register a loan for (not administrators or auditors)."""
    return list(db.session.execute(
        select(User).where(User.active.is_(True),
                           User.role.not_in((Role.ADMIN.value, Role.AUDITOR.value)))
        .order_by(User.department_id, User.display_name)).scalars())


def _request_data(dossier_id: int, form) -> dict:
    """The service's input from the form: what (whole, one group, chosen documents)."""
    data = {key: form.get(key, "") for key in ("kind", "purpose", "due", "borrower")}
    data.update(dossier_id=dossier_id, may_download=form.get("may_download", ""))
    scope = form.get("scope", "whole")
    if scope == "group":
        if not form.get("group"):
            raise Invalid(_("请选择要借阅的分组"), details={"field": "group"})
        data["group"] = form["group"]
    elif scope == "documents":
        data["document_ids"] = form.getlist("document_ids")
        if not data["document_ids"]:
            raise Invalid(_("请勾选要借阅的文件"), details={"field": "document_ids"})
    elif scope != "whole":
        raise Invalid(_("请选择借阅范围"), details={"field": "scope"})
    return data


@bp.route("/dossiers/<int:dossier_id>/loans/new", methods=["GET", "POST"])
@login_required
def new(dossier_id: int):
    user = _user()
    dossier = customers.get_dossier(db.session, user, dossier_id, record=False)
    access.require(user, "loan.request", hide=False)
    form, error, status = request.form, None, 200
    if request.method == "POST":
        try:
            with work.unit(db.session):
                loan = loans.request_loan(db.session, user, _request_data(dossier_id, form))
            flash(_("借阅已批准，请到档案室柜台办理") if loan.status == "approved"
                  else _("借阅申请 %(number)s 已提交，等待审批", number=loan.number), "info")
            return redirect(url_for("loans.show", loan_id=loan.id))
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:  # the form again, as typed, with the reason
            error, status = exc, 422
    latest, words = loans.limit(db.session, dossier.classification, now())
    return render_template(
        "loans/new.html", dossier=dossier, groups=filing.volume_index(user, dossier),
        form=form, error=error, kinds=list(LoanKind),
        borrowers=_borrowers() if access.can(user, "loan.counter") else None,
        chosen=set(form.getlist("document_ids")), latest=latest, words=words), status


# ---- reading --------------------------------------------------------------------------


@bp.get("/loans/mine")
@login_required
def mine():
    return render_template("loans/mine.html", rows=loans.mine(db.session, _user()),
                           moment=now())


@bp.get("/loans/<int:loan_id>")
@login_required
def show(loan_id: int):
    user = _user()
    loan = loans.get(db.session, user, loan_id)
    return render_template("loans/show.html", loan=loan, moment=now(),
                           requests=loans.requests_of(db.session, loan),
                           counter=access.can(user, "loan.counter", loan),
                           handle=access.can(user, "loan.handle", loan))


@bp.get("/loans/<int:loan_id>/form")
@login_required
def application(loan_id: int):
    """《借阅档案申请表》 for printing (002:942)."""
    loan = loans.get(db.session, _user(), loan_id)
    return render_template("loans/form.html", loan=loan,
                           requests=loans.requests_of(db.session, loan))


@bp.get("/loans/counter")
@login_required
def counter():
    return render_template("loans/counter.html",
                           rows=loan_lists.counter(db.session, _user()), moment=now())


def _register():
    start, end = loan_lists.parse_range(request.args)
    return start, end, loan_lists.register_rows(db.session, _user(), start, end)


@bp.get("/loans/register")
@login_required
def register():
    access.require(_user(), "loan.register")
    try:
        start, end, rows = _register()
        error = None
    except Invalid as exc:
        start, end, rows, error = None, None, [], exc
    return render_template("loans/register.html", rows=rows, columns=loan_lists.COLUMNS,
                           start=start, end=end, params=request.args, error=error,
                           printed=now()), 422 if error else 200


@bp.get("/loans/register.csv")
@login_required
def register_csv():
    access.require(_user(), "loan.register")
    start, end, rows = _register()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(loan_lists.COLUMNS)
    for row in rows:
        writer.writerow(spreadsheets.row(row.cells))
    name = "loan-register" + (f"-{start}" if start else "") + (f"-{end}" if end else "")
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


# ---- the counter and the borrower's steps --------------------------------------------


def _run(action, message: str, loan_id: int):
    """One unit of work; a form error or refused transition is flashed on the loan's page,
    a refusal (403) or a hidden or missing loan (404) is raised like everywhere."""
    try:
        with work.unit(db.session):
            action(db.session, _user(), loan_id, request.form.to_dict())
        flash(message, "info")
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(local_path(request.form.get("next"))
                    or url_for("loans.show", loan_id=loan_id))


@bp.post("/loans/<int:loan_id>/checkout")
@login_required
def checkout(loan_id: int):
    return _run(loans.checkout, _("已出借，已登记件数和页数"), loan_id)


@bp.post("/loans/<int:loan_id>/return")
@login_required
def check_in(loan_id: int):
    return _run(loans.check_in, _("已归还，已登记件数和页数"), loan_id)


@bp.post("/loans/<int:loan_id>/renew")
@login_required
def renew(loan_id: int):
    return _run(loans.renew, _("续借申请已提交"), loan_id)


@bp.post("/loans/<int:loan_id>/report-loss")
@login_required
def report_loss(loan_id: int):
    return _run(loans.report_loss, _("已报告遗失或损毁"), loan_id)


@bp.post("/loans/reports/<int:report_id>/close")
@login_required
def close_report(report_id: int):
    user = _user()
    access.require(user, "loan.counter", hide=False)
    try:
        with work.unit(db.session):
            report = loans.close_report(db.session, user, report_id, request.form.to_dict())
        flash(_("报告已结案"), "info")
        loan_id = report.loan_id
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(local_path(request.form.get("next")) or url_for("loans.counter"))
    return redirect(url_for("loans.show", loan_id=loan_id))
