"""The administrator's pages (issue 18): users, departments, projects, and one home that
links every administration page (the working-day calendar, the approval routes, the
retention schedule). Forms post here, call one service, flash the outcome."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models import Level, Role
from archive.models.enums import ROLE_LABELS
from archive.services import access, accounts, approvals, organisation, sessions, validation, work
from archive.services.errors import DomainError
from archive.web import vocabulary

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Administration pages of other blueprints, shown on the home when they exist.
OTHER_PAGES = (
    ("calendar.index", lazy_gettext("工作日历"), lazy_gettext("法定节假日和调休上班日，借阅期限和移交期限按此计算。")),
    ("approvals.routes", lazy_gettext("审批路线"), lazy_gettext("各类审批的步骤和审批人；修改须经总经理批准。")),
    ("retention.schedule", lazy_gettext("保管期限表"), lazy_gettext("各类文件的保管期限。")),
    ("transfers.rules", lazy_gettext("移交期限规则"),
     lazy_gettext("各类资料从部门移交档案室的期限，以及各项目的集中入伙日期。")),
)


def _refused(exc: DomainError, page):
    """A refused form: the page again with the reason, answered with the error's status
    (nothing was changed: the unit rolled back)."""
    flash(exc.message, "error")
    return page(), exc.status


@bp.get("")
@login_required
def home():
    access.require(current_user, "user.manage")
    pages = [(url_for(endpoint), label, hint) for endpoint, label, hint in OTHER_PAGES
             if endpoint in current_app.view_functions]
    return render_template("admin/home.html", pages=pages)


# -- users -------------------------------------------------------------------------------

def _user_form() -> dict:
    return {"departments": organisation.list_departments(db.session),
            "roles": [(r.value, vocabulary.label(ROLE_LABELS[r])) for r in Role],
            "levels": [(level.key, vocabulary.label(level.label)) for level in Level]}


def _users_page():
    return render_template("admin/users.html", users=accounts.list_users(db.session, current_user),
                           role_labels={r.value: vocabulary.label(ROLE_LABELS[r]) for r in Role},
                           form=request.form, **_user_form())


def _user_page(person, one_time_password: str | None = None):
    return render_template("admin/user.html", person=person,
                           sessions=sessions.active_sessions(db.session, person),
                           tokens=accounts.tokens(db.session, person),
                           one_time_password=one_time_password, **_user_form())


@bp.get("/users")
@login_required
def users():
    access.require(current_user, "user.manage")
    return _users_page()


@bp.post("/users")
@login_required
def create_user():
    access.require(current_user, "user.manage")
    form = request.form
    try:
        with work.unit(db.session):
            department = form.get("department") or None
            if department is not None:
                department = organisation.get_department(db.session, department).id
            password = accounts.one_time_password()
            user = accounts.create_user(
                db.session, actor=current_user, username=form.get("username", ""),
                password=password, role=form.get("role", ""), department_id=department,
                clearance=validation.level(form, "clearance", Level.INTERNAL),
                display_name=form.get("display_name", ""), must_change_password=True)
    except DomainError as exc:
        return _refused(exc, _users_page)
    # Shown on this page only, never flashed: the flash would travel in the cookie.
    flash(_("已创建用户 %(name)s", name=user.username), "info")
    return _user_page(user, password)


@bp.get("/users/<int:user_id>")
@login_required
def user(user_id: int):
    access.require(current_user, "user.manage")
    return _user_page(accounts.get_user(db.session, user_id))


@bp.post("/users/<int:user_id>")
@login_required
def update_user(user_id: int):
    access.require(current_user, "user.manage")
    person = accounts.get_user(db.session, user_id)
    data = {k: request.form.get(k, "") for k in ("display_name", "role", "clearance",
                                                  "department")}
    data["gm_office_director"] = request.form.get("gm_office_director", "")
    waiting = approvals.waiting_on(db.session, person)
    try:
        with work.unit(db.session):
            changes = accounts.update_user(db.session, current_user, person, data)
    except DomainError as exc:
        return _refused(exc, lambda: _user_page(person))
    flash(_("已保存") if changes else _("没有修改"), "info")
    _warn_stranded(waiting)
    return redirect(url_for("admin.user", user_id=user_id))


def _warn_stranded(waiting: set[int]) -> None:
    """Name those of the requests the person could decide before the change (`waiting`)
    that nobody can decide now (the person was the only one): they wait until someone is
    appointed, or until their requesters withdraw them."""
    stranded = approvals.stranded(db.session, waiting)
    db.session.commit()  # the reads' transaction: nothing was written
    if stranded:
        flash(_("以下待审批申请目前无人可以审批：%(ids)s。请指定审批人或调整审批路线，或通知申请人撤回。",
                ids="、".join(f"#{r.id}" for r in stranded)), "warning")


def _user_action(user_id: int, action, message, *, warn: bool = False):
    """Run `action(person)` in one unit; on success flash `message(person)` (and, with
    `warn`, the requests it left without a decider) and show the user's page again."""
    access.require(current_user, "user.manage")
    person = accounts.get_user(db.session, user_id)
    waiting = approvals.waiting_on(db.session, person) if warn else set()
    try:
        with work.unit(db.session):
            action(person)
    except DomainError as exc:
        return _refused(exc, lambda: _user_page(person))
    flash(message(person), "info")
    _warn_stranded(waiting)
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int):
    return _user_action(
        user_id, lambda p: accounts.deactivate_user(db.session, p, current_user),
        lambda p: _("已停用 %(name)s：不能再登录，全部会话和 API 令牌已失效", name=p.username),
        warn=True)


@bp.post("/users/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int):
    return _user_action(
        user_id, lambda p: accounts.reactivate_user(db.session, p, current_user),
        lambda p: _("已恢复 %(name)s，可以重新登录", name=p.username))


@bp.post("/users/<int:user_id>/reset-password")
@login_required
def reset_password(user_id: int):
    access.require(current_user, "user.manage")
    person = accounts.get_user(db.session, user_id)
    try:
        with work.unit(db.session):
            password = accounts.reset_password(db.session, person, current_user)
    except DomainError as exc:
        return _refused(exc, lambda: _user_page(person))
    flash(_("已为 %(name)s 重置密码，其全部会话和 API 令牌已失效", name=person.username), "info")
    return _user_page(person, password)


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(user_id: int, token_id: int):
    return _user_action(
        user_id, lambda p: accounts.revoke_token(db.session, p, token_id, current_user),
        lambda p: _("已撤销 %(name)s 的 API 令牌", name=p.username))


@bp.post("/users/<int:user_id>/sessions/<int:session_id>/end")
@login_required
def end_session(user_id: int, session_id: int):
    return _user_action(
        user_id, lambda p: accounts.end_session(db.session, p, session_id, current_user),
        lambda p: _("已结束 %(name)s 的会话", name=p.username))


# -- departments and projects --------------------------------------------------------------

def _departments_page():
    return render_template("admin/departments.html",
                           departments=organisation.list_departments(db.session))


@bp.get("/departments")
@login_required
def departments():
    access.require(current_user, "org.manage")
    return _departments_page()


@bp.post("/departments")
@login_required
def create_department():
    access.require(current_user, "org.manage")
    try:
        with work.unit(db.session):
            department = organisation.create_department(db.session, current_user,
                                                        request.form.to_dict())
    except DomainError as exc:
        return _refused(exc, _departments_page)
    flash(_("已创建部门 %(name)s", name=department.name), "info")
    return redirect(url_for("admin.departments"))


@bp.post("/departments/<int:department_id>")
@login_required
def update_department(department_id: int):
    access.require(current_user, "org.manage")
    department = organisation.get_department(db.session, department_id)
    try:
        with work.unit(db.session):
            changes = organisation.update_department(db.session, current_user, department,
                                                     request.form.to_dict())
    except DomainError as exc:
        return _refused(exc, _departments_page)
    flash(_("已保存") if changes else _("没有修改"), "info")
    return redirect(url_for("admin.departments"))


def _projects_page():
    return render_template("admin/projects.html", projects=organisation.list_projects(db.session))


@bp.get("/projects")
@login_required
def projects():
    access.require(current_user, "org.manage")
    return _projects_page()


@bp.post("/projects")
@login_required
def create_project():
    access.require(current_user, "org.manage")
    try:
        with work.unit(db.session):
            project = organisation.create_project(db.session, current_user,
                                                  request.form.to_dict())
    except DomainError as exc:
        return _refused(exc, _projects_page)
    flash(_("已添加项目 %(name)s", name=project.name), "info")
    return redirect(url_for("admin.projects"))


@bp.post("/projects/<int:project_id>")
@login_required
def update_project(project_id: int):
    access.require(current_user, "org.manage")
    project = organisation.get_project(db.session, project_id)
    data = {"name": request.form.get("name", ""), "active": request.form.get("active", "")}
    try:
        with work.unit(db.session):
            changes = organisation.update_project(db.session, current_user, project, data)
    except DomainError as exc:
        return _refused(exc, _projects_page)
    flash(_("已保存") if changes else _("没有修改"), "info")
    return redirect(url_for("admin.projects"))
