"""flask --app archive user|department|project …: the administrator's pages for a
server without a browser (issue 18). The same service functions, with no actor: the
audit trail records these as done by the system operator."""

import sys

import click
from flask import Flask
from sqlalchemy import select

from archive.clock import local
from archive.extensions import db
from archive.models import Level, User
from archive.services import accounts, approvals, organisation, sessions, work
from archive.services.customers import find_department
from archive.services.errors import DomainError


def _fail(message: str):
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


def _user(name: str) -> User:
    user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        _fail(f"用户不存在：{name}")
    return user


def _run(action):
    """`action()` in one unit; a refusal prints its reason and exits 1, nothing changed."""
    try:
        with work.unit(db.session):
            return action()
    except DomainError as exc:
        _fail(exc.message)


def changed_warning(user: User, action):
    """`action()` in one unit (as _run), then name on standard error the pending requests
    `user` could decide before it that nobody can decide after it (approvals.stranded)."""
    waiting = approvals.waiting_on(db.session, user)
    result = _run(action)
    stranded = approvals.stranded(db.session, waiting)
    db.session.commit()  # the reads' transaction
    if stranded:
        click.echo("以下待审批申请目前无人可以审批：" + "、".join(f"#{r.id}" for r in stranded)
                   + "。请指定审批人或调整审批路线，或通知申请人撤回。", err=True)
    return result


def _describe(user: User) -> str:
    state = "在用" if user.active else "已停用"
    department = user.department.name if user.department else "—"
    return (f"{user.username}\t{user.display_name}\t{user.role}\t{Level(user.clearance).label}\t"
            f"{department}\t{state}{'（待改密码）' if user.must_change_password else ''}")


def init_app(app: Flask) -> None:
    @app.cli.group("user")
    def user_group():
        """Users: list, create, edit, deactivate, reactivate, reset-password, tokens, sessions."""

    @user_group.command("list")
    def list_command():
        """Every account: user name, name, role, clearance, department, state."""
        for user in db.session.execute(select(User).order_by(User.username)).scalars():
            click.echo(_describe(user))
        db.session.commit()

    @user_group.command("create")
    @click.argument("name")
    @click.option("--role", required=True, help="officer staff dept_head gm_office legal gm auditor admin")
    @click.option("--department", default="", help="department name, code or id")
    @click.option("--clearance", default="internal", help="公开 内部 秘密 机密 绝密 or their keys")
    @click.option("--display-name", default="")
    def create_command(name, role, department, clearance, display_name):
        """Create a user with a one-time password (printed alone on the last line), to be
        changed at the first login."""
        try:
            level = Level.parse(clearance)
        except ValueError:
            _fail(f"未知密级：{clearance}")
        password = accounts.one_time_password()

        def create():
            dept = find_department(db.session, department) if department else None
            return accounts.create_user(
                db.session, username=name, password=password, role=role,
                department_id=dept.id if dept else None, clearance=level,
                display_name=display_name, must_change_password=True)
        user = _run(create)
        click.echo(f"已创建用户 {user.username}（{user.role}，{level.label}），一次性密码（首次登录须修改）：")
        click.echo(password)

    @user_group.command("edit")
    @click.argument("name")
    @click.option("--role", default=None)
    @click.option("--department", default=None, help="name, code or id; '' for none")
    @click.option("--clearance", default=None)
    @click.option("--display-name", default=None)
    @click.option("--gm-office-director/--not-gm-office-director", default=None,
                  help="总经理办公室主任 (only for gm_office users)")
    def edit_command(name, role, department, clearance, display_name, gm_office_director):
        """Change a user's role, clearance, department, name or designation."""
        user = _user(name)
        data = {k: v for k, v in (("role", role), ("department", department),
                                  ("clearance", clearance), ("display_name", display_name),
                                  ("gm_office_director", gm_office_director))
                if v is not None}
        changes = changed_warning(user, lambda: accounts.update_user(db.session, None, user, data))
        if not changes:
            click.echo("没有修改")
        for key, (old, new) in changes.items():
            click.echo(f"{key}: {old} → {new}")

    @user_group.command("deactivate")
    @click.argument("name")
    def deactivate_command(name):
        """Deactivate: no more logins; every session and API token ends now."""
        user = _user(name)
        changed_warning(user, lambda: accounts.deactivate_user(db.session, user))
        click.echo(f"已停用用户 {name}，其全部会话和 API 令牌已失效")

    @user_group.command("reactivate")
    @click.argument("name")
    def reactivate_command(name):
        """Let a deactivated user log in again."""
        user = _user(name)
        _run(lambda: accounts.reactivate_user(db.session, user))
        click.echo(f"已恢复用户 {name}")

    @user_group.command("reset-password")
    @click.argument("name")
    def reset_password_command(name):
        """A one-time password (printed alone on the last line); sessions and tokens end."""
        user = _user(name)
        password = _run(lambda: accounts.reset_password(db.session, user))
        click.echo(f"{name} 的一次性密码（登录后须修改），其全部会话和 API 令牌已失效：")
        click.echo(password)

    @user_group.command("revoke-token")
    @click.argument("name")
    @click.option("--id", "token_id", default=None, help="one token's id (default: all)")
    def revoke_token_command(name, token_id):
        """Revoke one API token of the user, or all of them."""
        user = _user(name)
        if token_id is None:
            found = accounts.tokens(db.session, user)
            _run(lambda: [accounts.revoke_token(db.session, user, t.id) for t in found])
            click.echo(f"已撤销 {name} 的 {len(found)} 个 API 令牌")
        else:
            _run(lambda: accounts.revoke_token(db.session, user, token_id))
            click.echo(f"已撤销 {name} 的 API 令牌 {token_id}")

    @user_group.command("sessions")
    @click.argument("name")
    def sessions_command(name):
        """The user's open web sessions and working API tokens."""
        user = _user(name)
        for row in sessions.active_sessions(db.session, user):
            click.echo(f"会话 {row.id}\t{local(row.created_at):%Y-%m-%d %H:%M}\t"
                       f"{local(row.last_seen_at):%Y-%m-%d %H:%M}\t{row.ip}\t{row.user_agent[:60]}")
        for token in accounts.tokens(db.session, user):
            used = f"{local(token.last_used_at):%Y-%m-%d %H:%M}" if token.last_used_at else "未使用"
            click.echo(f"令牌 {token.id}\t{token.prefix}…\t{local(token.created_at):%Y-%m-%d %H:%M}\t{used}")
        db.session.commit()

    @app.cli.group("department")
    def department_group():
        """Departments: list, create, edit."""

    @department_group.command("list")
    def department_list_command():
        for d in organisation.list_departments(db.session):
            receives = f"\t接收：{d.receives.replace(',', '、')}" if d.receives else ""
            click.echo(f"{d.id}\t{d.code}\t{d.name}{receives}")
        db.session.commit()

    @department_group.command("create")
    @click.argument("name")
    @click.option("--code", required=True)
    @click.option("--receives", default="", help="categories it receives as a receiving "
                  "unit of transfers, e.g. 销售,签约 ('*' every one)")
    def department_create_command(name, code, receives):
        """Create a department (name and code unique)."""
        d = _run(lambda: organisation.create_department(
            db.session, None, {"name": name, "code": code, "receives": receives}))
        click.echo(f"已创建部门 {d.name}（id {d.id}，代码 {d.code}）")

    @department_group.command("edit")
    @click.argument("department")
    @click.option("--name", default=None)
    @click.option("--code", default=None)
    @click.option("--receives", default=None, help="categories it receives ('' for none)")
    def department_edit_command(department, name, code, receives):
        """Rename DEPARTMENT (name, code or id), set its code or what it receives."""
        data = {k: v for k, v in (("name", name), ("code", code), ("receives", receives))
                if v is not None}

        def edit():
            return organisation.update_department(
                db.session, None, find_department(db.session, department), data)
        changes = _run(edit)
        click.echo("；".join(f"{k}: {o} → {n}" for k, (o, n) in changes.items()) or "没有修改")

    @app.cli.group("project")
    def project_group():
        """Projects (苑) offered when a dossier is opened: list, add, edit."""

    @project_group.command("list")
    def project_list_command():
        for p in organisation.list_projects(db.session):
            click.echo(f"{p.id}\t{p.name}\t{'供选择' if p.active else '已停用'}")
        db.session.commit()

    @project_group.command("add")
    @click.argument("name")
    def project_add_command(name):
        p = _run(lambda: organisation.create_project(db.session, None, {"name": name}))
        click.echo(f"已添加项目 {p.name}")

    @project_group.command("edit")
    @click.argument("project_id")
    @click.option("--name", default=None)
    @click.option("--active/--retired", default=None)
    def project_edit_command(project_id, name, active):
        """Correct a project's name or stop/resume offering it."""
        data = {k: v for k, v in (("name", name), ("active", active)) if v is not None}

        def edit():
            return organisation.update_project(
                db.session, None, organisation.get_project(db.session, project_id), data)
        changes = _run(edit)
        click.echo("；".join(f"{k}: {o} → {n}" for k, (o, n) in changes.items()) or "没有修改")
