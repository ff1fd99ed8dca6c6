"""The approval engine on the web: 待审批 (every step the user may decide now), 我的申请,
one request with its route and history, the asking forms (another department's customer
file, a 绝密 copy) and the routes as data, which the administrator may propose to change."""

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.clock import now
from archive.extensions import db
from archive.models.approval import ApprovalKind, ApprovalRequest, Approver, RequestStatus
from archive.services import access, approvals, grants, work
from archive.services.errors import DomainError, Forbidden, NotFound
from archive.services.filing import get_document
from archive.web import local_path

bp = Blueprint("approvals", __name__)


def N_(text: str) -> str:
    """Mark a msgid for `make translations` without translating it here."""
    return text


# The engine's labels are Chinese data (archive/models/approval.py); the pages show them
# as `_(label)`, so each needs its English in the catalogue and a msgid the extraction
# finds (else `make translations` retires it). tests/web/test_approval_pages.py holds this
# list to the models' labels.
LABELS = (
    N_("提高密级"), N_("降低密级"), N_("查阅非本部门客户档案"), N_("复制绝密文件"),
    N_("变更审批路线"),
    N_("借阅（阅览本部门档案）"), N_("借阅（借出、复制）"), N_("借阅秘密档案"),
    N_("借阅机密档案"), N_("借阅绝密档案"), N_("借阅非本部门客户档案"), N_("公检法查阅"),
    N_("外单位查阅"), N_("档案销毁"), N_("总经理、副总经理或总经理办公室主任"),
    N_("移交接收"), N_("接收单位"),
    N_("客户所属部门负责人"), N_("申请人所在部门负责人"), N_("总经理办公室"),
    N_("总经理办公室主任"), N_("法律室"), N_("总经理或副总经理"),
    N_("待审批"), N_("已批准"), N_("已驳回"), N_("已撤回"), N_("已过期"),
)


def _user():
    return current_user._get_current_object()


@bp.app_template_global()
def chain(steps) -> str:
    """Who decides, stage after stage, in the reader's language."""
    return approvals.steps_text(steps, label=_)


@bp.app_template_global()
def describe_request(r: ApprovalRequest) -> str:
    """The subject in words, never more than the signed-in user may see."""
    return approvals.describe(r, _user())


def _final(r: ApprovalRequest) -> bool:
    return sum(1 for s in r.steps if s.decision is None) == 1


def _picks(user, rows) -> dict[int, list]:
    """For the GM's final decision on a cross-department request: the customers its typed
    text matches. Resolved for this decider alone; the requester is never told."""
    if not access.can(user, "grant.manage"):
        return {}
    return {r.id: grants.find_customers(db.session, r.payload["customer_text"])
            for r in rows if r.kind == ApprovalKind.CROSS_DEPARTMENT.value and _final(r)
            and approvals.may_decide(user, r)}


def render_inbox(rows, title: str):
    """The 待审批 page for `rows` (requests the user may decide now)."""
    user = _user()
    return render_template("approvals/inbox.html", rows=rows, title=title,
                           deciding={r.id for r in rows}, picks=_picks(user, rows),
                           default_until=_default_until)


def _default_until(r: ApprovalRequest):
    """When a cross-department grant ends if the GM keeps the requested days."""
    return now() + timedelta(days=r.payload["days"])


@bp.get("/approvals")
@login_required
def inbox():
    return render_inbox(approvals.inbox(db.session, _user()), _("待审批"))


@bp.get("/approvals/mine")
@login_required
def mine():
    user = _user()
    return render_template("approvals/mine.html", rows=approvals.mine(db.session, user),
                           deciding=set(), picks={}, may_ask=access.can(user, "approval.ask_access"),
                           default_days=grants.DEFAULT_GRANT_DAYS,
                           max_days=grants.MAX_GRANT_DAYS)


@bp.get("/approvals/<int:request_id>")
@login_required
def show(request_id: int):
    user = _user()
    r = approvals.get(db.session, user, request_id)
    deciding = {r.id} if approvals.may_decide(user, r) else set()
    return render_template("approvals/show.html", r=r, deciding=deciding,
                           picks=_picks(user, [r]) if deciding else {},
                           default_until=_default_until,
                           undecidable=approvals.undecidable(db.session, r))


def _run(action, message, fallback: str):
    """Run `action` in one unit of work and flash `message(result)`; a form error is
    flashed, while a refusal (403) or a hidden or missing object (404) is raised and
    answered like on every route."""
    try:
        with work.unit(db.session):
            result = action()
        flash(message(result), "info")
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(local_path(request.form.get("next")) or fallback)


def _approved(r: ApprovalRequest) -> str:
    if r.status == RequestStatus.APPROVED.value:
        return _("已批准，申请已生效")
    return _("已审批，待%(who)s审批", who=chain(approvals.open_steps(r)))


@bp.post("/approvals/<int:request_id>/approve")
@login_required
def approve(request_id: int):
    form = request.form.to_dict()
    return _run(lambda: approvals.approve(db.session, _user(), request_id,
                                          form.get("note", ""), form),
                _approved, url_for("approvals.inbox"))


@bp.post("/approvals/<int:request_id>/reject")
@login_required
def reject(request_id: int):
    return _run(lambda: approvals.reject(db.session, _user(), request_id,
                                         request.form.get("note", "")),
                lambda r: _("已驳回申请"), url_for("approvals.inbox"))


@bp.post("/approvals/<int:request_id>/withdraw")
@login_required
def withdraw(request_id: int):
    return _run(lambda: approvals.withdraw(db.session, _user(), request_id),
                lambda r: _("已撤回申请"), url_for("approvals.mine"))


@bp.post("/access-requests")
@login_required
def ask_access():
    """Ask the GM for another department's customer file (002:67). Whatever was typed, the
    answer is the same: the text is stored as typed and resolved for the GM alone."""
    return _run(lambda: grants.ask_access(db.session, _user(), request.form.to_dict()),
                lambda r: _("查阅申请已提交，待%(who)s审批", who=chain(r.steps)),
                url_for("approvals.mine"))


@bp.post("/documents/<int:document_id>/copy-requests")
@login_required
def ask_copy(document_id: int):
    """A designated reader asks the GM to copy a 绝密 document (002:45)."""
    def action():
        document = get_document(db.session, _user(), document_id, record=False)
        return grants.ask_copy(db.session, _user(), document, request.form.to_dict())

    return _run(action, lambda r: _("复制申请已提交，待%(who)s审批", who=chain(r.steps)),
                url_for("documents.show", document_id=document_id))


@bp.get("/admin/routes")
@login_required
def routes():
    """Every route, active and retired versions, with its steps and seed line; the
    administrator's form to propose a change of each active one."""
    return render_template("approvals/routes.html", routes=approvals.routes(db.session),
                           may_propose=access.can(_user(), "route.propose"),
                           steps_form=_steps_form, approvers=list(Approver))


def _steps_form(steps) -> str:
    """The proposal form's text: one stage per line, approver keys separated by commas
    (what propose_route_change reads)."""
    stages: dict[int, list[str]] = {}
    for step in steps:
        stages.setdefault(step.stage, []).append(step.approver)
    return "\n".join(", ".join(names) for _, names in sorted(stages.items()))


@bp.post("/admin/routes/<int:route_id>/changes")
@login_required
def propose_route(route_id: int):
    """The administrator proposes new steps for a route; the GM decides in the inbox."""
    data = {**request.form.to_dict(), "route": route_id}
    return _run(lambda: approvals.propose_route_change(db.session, _user(), data),
                lambda r: _("路线变更已提交，待%(who)s审批", who=chain(r.steps)),
                url_for("approvals.routes"))
