"""The administrator's pages (issue 18): users, departments and projects run from the UI,
every action audited, every bad input refused with a Chinese reason and nothing changed;
deactivation and a password reset take effect at once; the administrator's role opens no
archive content."""

import json
import re

import pytest
from sqlalchemy import func, select

from archive.extensions import db
from archive.models import (
    ApiToken,
    AuditEvent,
    Department,
    LoginSession,
    Project,
    Unit,
    User,
)
from archive.services import access, accounts, work
from tests.conftest import login


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    found = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.seq)).scalars().all()
    db.session.commit()
    return found


def _user(name: str) -> User:
    db.session.expire_all()
    user = db.session.execute(select(User).where(User.username == name)).scalar_one()
    db.session.commit()
    return user


def _state() -> dict:
    """What a refused administration form must leave as it was."""
    db.session.expire_all()
    users = db.session.execute(select(User.username, User.role, User.clearance,
                                      User.department_id, User.active, User.display_name,
                                      User.gm_office_director, User.password_hash)
                               .order_by(User.id)).all()
    state = {
        "users": [tuple(u) for u in users],
        "departments": [tuple(d) for d in db.session.execute(
            select(Department.id, Department.name, Department.code)).all()],
        "projects": [tuple(p) for p in db.session.execute(
            select(Project.id, Project.name, Project.active)).all()],
        "tokens": db.session.scalar(select(func.count()).select_from(ApiToken)
                                    .where(ApiToken.revoked.is_(False))),
        "sessions": db.session.scalar(select(func.count()).select_from(LoginSession)
                                      .where(LoginSession.ended_at.is_(None))),
        "events": db.session.scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action.like("user.%")
                                           | AuditEvent.action.like("department.%")
                                           | AuditEvent.action.like("project.%")
                                           | AuditEvent.action.like("token.revoked")
                                           | AuditEvent.action.like("session.ended"))),
    }
    db.session.commit()
    return state


def _password_on(page: str) -> str:
    found = re.search(r'<code class="one-time-password">([^<]+)</code>', page)
    assert found, page[:2000]
    return found.group(1)


# -- one home for administration -------------------------------------------------------

def test_the_admin_home_links_every_administration_page(login_as):
    client = login_as("admin")
    assert 'href="/admin"' in client.get("/").get_data(as_text=True)
    page = client.get("/admin").get_data(as_text=True)
    for link in ("/admin/users", "/admin/departments", "/admin/projects", "/admin/calendar",
                 "/admin/routes", "/retention/schedule"):
        assert f'href="{link}"' in page, link


def test_others_have_no_admin_link_and_are_refused(login_as):
    client = login_as("officer")
    assert 'href="/admin"' not in client.get("/").get_data(as_text=True)
    assert client.get("/admin/users").status_code == 403


# -- users ------------------------------------------------------------------------------

def test_a_new_user_gets_a_one_time_password_and_must_change_it(app, login_as, departments):
    client = login_as("admin")
    response = client.post("/admin/users", data={
        "username": "xiaoli", "display_name": "小李", "role": "staff", "clearance": "secret",
        "department": departments["KF"].id})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "已创建用户 xiaoli" in page
    password = _password_on(page)
    user = _user("xiaoli")
    assert (user.role, user.clearance, user.department_id, user.display_name) == (
        "staff", 2, departments["KF"].id, "小李")
    assert user.must_change_password and password not in user.password_hash
    created = _events("user.created")[-1]
    assert created.actor_name == "admin" and created.object_id == str(user.id)

    # The first login leads to the password form, whatever page is asked for; no API use.
    newcomer = app.test_client()
    assert login(newcomer, "xiaoli", password).status_code == 302
    for path in ("/", "/customers", "/search?q=合同"):
        answer = newcomer.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith(
            "/account/password"), path
    with work.unit(db.session):
        token = accounts.create_token(db.session, _user("xiaoli"))
    headers = {"Authorization": f"Bearer {token}"}
    assert newcomer.get("/api/v1/customers", headers=headers).status_code == 401
    same = newcomer.post("/account/password", data={"old": password, "new": password,
                                                    "confirm": password})
    assert same.status_code == 422 and "不能与原密码相同" in same.get_data(as_text=True)
    changed = newcomer.post("/account/password", data={
        "old": password, "new": "Brand-new-2026", "confirm": "Brand-new-2026"})
    assert changed.status_code == 302
    assert newcomer.get("/customers").status_code == 200
    assert not _user("xiaoli").must_change_password
    with work.unit(db.session):  # the change revoked the tokens made before it
        token = accounts.create_token(db.session, _user("xiaoli"))
    headers = {"Authorization": f"Bearer {token}"}
    assert newcomer.get("/api/v1/customers", headers=headers).status_code == 200


@pytest.mark.parametrize("form, status, message", [
    ({"username": "x", "role": "staff"}, 422, "用户名只能包含"),
    ({"username": "张三", "role": "staff"}, 422, "用户名只能包含"),
    ({"username": "newbie", "role": "janitor"}, 422, "未知角色"),
    ({"username": "newbie", "role": "staff", "clearance": "超级"}, 422, "密级只能是"),
    ({"username": "newbie", "role": "staff", "department": "987654"}, 404, "部门不存在"),
    ({"username": "newbie", "role": "staff", "display_name": "x" * 101}, 422, "姓名过长"),
    ({"username": "staff", "role": "staff"}, 409, "用户已存在"),
])
def test_a_bad_new_user_is_refused_and_nothing_changes(login_as, form, status, message):
    client = login_as("admin")
    before = _state()
    response = client.post("/admin/users", data=form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert _state() == before


def test_editing_role_clearance_department_and_designation_is_audited(login_as, departments):
    client = login_as("admin")
    staff = _user("staff")
    response = client.post(f"/admin/users/{staff.id}", data={
        "display_name": "王销售", "role": "gm_office", "clearance": "confidential",
        "department": departments["ZB"].id, "gm_office_director": "1"})
    assert response.status_code == 302
    staff = _user("staff")
    assert (staff.role, staff.clearance, staff.department_id, staff.gm_office_director) == (
        "gm_office", 3, departments["ZB"].id, True)
    changes = json.loads(_events("user.updated")[-1].details)["changes"]
    assert changes["role"] == ["staff", "gm_office"] and changes["clearance"] == [1, 3]
    assert changes["department_id"] == [departments["XS"].id, departments["ZB"].id]
    assert changes["gm_office_director"] == [False, True]


@pytest.mark.parametrize("who, form, status, message", [
    ("staff", {"role": "chief"}, 422, "未知角色"),
    ("staff", {"role": "staff", "clearance": "7"}, 422, "密级"),
    ("staff", {"role": "staff", "department": "无此部门"}, 422, "部门不存在"),
    ("staff", {"role": "staff", "gm_office_director": "1"}, 422, "总经理办公室主任"),
    ("admin", {"role": "staff"}, 409, "不能取消自己的管理员角色"),
])
def test_a_bad_edit_is_refused_and_nothing_changes(login_as, who, form, status, message):
    client = login_as("admin")
    target = _user(who)
    before = _state()
    response = client.post(f"/admin/users/{target.id}", data={"clearance": "internal", **form})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert _state() == before


def test_deactivation_stops_login_sessions_and_tokens_at_once(app, login_as, api):
    headers = api("head")
    victim = app.test_client()
    assert login(victim, "head").status_code == 302
    assert victim.get("/customers").status_code == 200
    client = login_as("admin")
    head = _user("head")
    page = client.get(f"/admin/users/{head.id}").get_data(as_text=True)
    assert page.count("data-session=") == 1 and page.count("data-token=") == 1

    assert client.post(f"/admin/users/{head.id}/deactivate").status_code == 302
    assert victim.get("/customers").status_code == 302  # signed out at its next request
    assert app.test_client().get("/api/v1/customers", headers=headers).status_code == 401
    assert login(app.test_client(), "head").status_code == 401
    event = _events("user.deactivated")[-1]
    assert event.actor_name == "admin"
    assert json.loads(event.details) == {"sessions_ended": 1, "tokens_revoked": 1}

    before = _state()
    again = client.post(f"/admin/users/{head.id}/deactivate")
    assert again.status_code == 409 and "账号已停用" in again.get_data(as_text=True)
    assert _state() == before

    assert client.post(f"/admin/users/{head.id}/reactivate").status_code == 302
    assert _events("user.reactivated")[-1].actor_name == "admin"
    assert login(app.test_client(), "head").status_code == 302
    # The tokens revoked stay revoked.
    assert app.test_client().get("/api/v1/customers", headers=headers).status_code == 401
    before = _state()
    assert client.post(f"/admin/users/{head.id}/reactivate").status_code == 409
    assert _state() == before


def test_the_admin_cannot_deactivate_themself(login_as):
    client = login_as("admin")
    before = _state()
    response = client.post(f"/admin/users/{_user('admin').id}/deactivate")
    assert response.status_code == 409 and "不能停用自己的账号" in response.get_data(as_text=True)
    assert _state() == before


def test_a_password_reset_ends_sessions_and_tokens_and_gives_a_one_time_password(
        app, login_as, api):
    headers = api("legal")
    victim = app.test_client()
    assert login(victim, "legal").status_code == 302
    client = login_as("admin")
    legal = _user("legal")
    response = client.post(f"/admin/users/{legal.id}/reset-password")
    assert response.status_code == 200
    password = _password_on(response.get_data(as_text=True))
    assert victim.get("/customers").status_code == 302
    assert app.test_client().get("/api/v1/customers", headers=headers).status_code == 401
    assert login(app.test_client(), "legal").status_code == 401  # the old password is gone
    fresh = app.test_client()
    assert login(fresh, "legal", password).status_code == 302
    assert fresh.get("/").headers["Location"].endswith("/account/password")
    event = _events("user.password_reset")[-1]
    assert event.actor_name == "admin"
    assert json.loads(event.details) == {"sessions_ended": 1, "tokens_revoked": 1}
    assert password not in event.details


def test_revoking_one_token_and_ending_one_session(app, login_as, api):
    first, second = api("service"), api("service")
    browser = app.test_client()
    assert login(browser, "service").status_code == 302
    client = login_as("admin")
    service = _user("service")
    tokens = accounts.tokens(db.session, service)
    db.session.commit()
    newest = tokens[0]
    assert client.post(f"/admin/users/{service.id}/tokens/{newest.id}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/customers", headers=second).status_code == 401
    assert app.test_client().get("/api/v1/customers", headers=first).status_code == 200
    assert json.loads(_events("token.revoked")[-1].details) == {"prefix": newest.prefix}

    before = _state()
    assert client.post(f"/admin/users/{service.id}/tokens/{newest.id}/revoke").status_code == 409
    # Another user's token is not found through this user.
    other = _user("staff")
    assert client.post(f"/admin/users/{other.id}/tokens/{tokens[1].id}/revoke").status_code == 404
    assert _state() == before

    row = db.session.execute(select(LoginSession).where(
        LoginSession.user_id == service.id, LoginSession.ended_at.is_(None))).scalar_one()
    db.session.commit()
    assert client.post(f"/admin/users/{service.id}/sessions/{row.id}/end").status_code == 302
    assert browser.get("/customers").status_code == 302
    assert _events("session.ended")[-1].actor_name == "admin"
    before = _state()
    assert client.post(f"/admin/users/{service.id}/sessions/{row.id}/end").status_code == 409
    assert _state() == before


def test_a_missing_user_answers_404(login_as):
    client = login_as("admin")
    before = _state()
    assert client.get("/admin/users/987654").status_code == 404
    assert client.post("/admin/users/987654/deactivate").status_code == 404
    assert _state() == before


# -- departments and projects ------------------------------------------------------------

def test_departments_are_created_renamed_and_recoded(login_as):
    client = login_as("admin")
    assert client.post("/admin/departments", data={"name": "物业服务部", "code": "wy"}
                       ).status_code == 302
    department = db.session.execute(select(Department).where(Department.code == "WY")
                                    ).scalar_one()
    db.session.commit()
    assert "物业服务部" in client.get("/admin/departments").get_data(as_text=True)
    assert client.post(f"/admin/departments/{department.id}",
                       data={"name": "物业管理部", "code": "WG"}).status_code == 302
    db.session.expire_all()
    assert (department.name, department.code) == ("物业管理部", "WG")
    assert json.loads(_events("department.updated")[-1].details)["changes"] == {
        "name": ["物业服务部", "物业管理部"], "code": ["WY", "WG"]}
    assert _events("department.created")[-1].actor_name == "admin"


@pytest.mark.parametrize("form, status, message", [
    ({"name": "", "code": "AB"}, 422, "请填写部门名称"),
    ({"name": "新部门", "code": ""}, 422, "请填写部门代码"),
    ({"name": "新部门", "code": "A B"}, 422, "部门代码只能包含"),
    ({"name": "销售经营部", "code": "NEW"}, 409, "部门名称已被使用"),
    ({"name": "新部门", "code": "xs"}, 409, "部门代码已被使用"),
    ({"name": "新部门", "code": "NB", "receives": "销售、档案"}, 422, "接收类别只能是"),
])
def test_a_bad_department_is_refused_and_nothing_changes(login_as, departments, form, status,
                                                         message):
    client = login_as("admin")
    before = _state()
    created = client.post("/admin/departments", data=form)
    assert created.status_code == status and message in created.get_data(as_text=True)
    edited = client.post(f"/admin/departments/{departments['KF'].id}", data=form)
    assert edited.status_code == status and message in edited.get_data(as_text=True)
    assert _state() == before


def test_a_department_is_made_a_receiving_unit_of_transfers(login_as, departments):
    client = login_as("admin")
    kf = departments["KF"]
    assert client.post(f"/admin/departments/{kf.id}", data={
        "name": kf.name, "code": kf.code, "receives": "签约，销售"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Department, kf.id).receives == "销售,签约"  # in the schedule's order
    assert json.loads(_events("department.updated")[-1].details)["changes"] == {
        "receives": ["", "销售,签约"]}
    page = client.get("/admin/departments").get_data(as_text=True)
    assert 'value="销售、签约"' in page
    assert client.post(f"/admin/departments/{kf.id}", data={
        "name": kf.name, "code": kf.code, "receives": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Department, kf.id).receives == ""


def test_the_dossier_form_offers_the_projects_the_admin_keeps(login_as, make_customer):
    customer = make_customer()
    admin = login_as("admin")
    assert admin.post("/admin/projects", data={"name": "碧海湾"}).status_code == 302
    project = db.session.execute(select(Project).where(Project.name == "碧海湾")).scalar_one()
    db.session.commit()
    assert _events("project.created")[-1].actor_name == "admin"
    officer = login_as("officer")
    form = officer.get(f"/customers/{customer.id}/dossiers/new").get_data(as_text=True)
    assert '<select name="project">' in form and "<option >碧海湾</option>" in form
    created = officer.post(f"/customers/{customer.id}/dossiers/new", data={
        "project": "碧海湾", "building": "1", "unit_no": "1", "room": "101"})
    assert created.status_code == 302

    # A retired project is no longer offered, and no longer accepted.
    admin = login_as("admin")
    assert admin.post(f"/admin/projects/{project.id}", data={"name": "碧海湾"}
                      ).status_code == 302
    officer = login_as("officer")
    form = officer.get(f"/customers/{customer.id}/dossiers/new").get_data(as_text=True)
    assert "碧海湾" not in form


@pytest.mark.parametrize("project", ["翠湖园", "碧海湾", ""])
def test_a_project_not_on_the_list_is_refused_and_nothing_changes(app, login_as, make_customer,
                                                                  project):
    from tests.conftest import archive_state

    customer = make_customer()
    db.session.add(Project(name="碧海湾", active=False))
    db.session.commit()
    before = (archive_state(app), db.session.query(Unit).count())
    db.session.commit()
    response = login_as("officer").post(f"/customers/{customer.id}/dossiers/new", data={
        "project": project, "building": "1", "unit_no": "1", "room": "101"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert ("项目不在项目列表中" if project else "请填写项目") in page
    assert (archive_state(app), db.session.query(Unit).count()) == before


@pytest.mark.parametrize("form, status, message", [
    ({"name": ""}, 422, "请填写项目名称"),
    ({"name": "翠湖苑"}, 409, "项目已存在"),
    ({"name": "苑" * 101}, 422, "项目名称过长"),
])
def test_a_bad_project_is_refused_and_nothing_changes(login_as, form, status, message):
    client = login_as("admin")
    other = db.session.execute(select(Project).where(Project.name == "锦绣花园")).scalar_one()
    db.session.commit()
    before = _state()
    created = client.post("/admin/projects", data=form)
    assert created.status_code == status and message in created.get_data(as_text=True)
    edited = client.post(f"/admin/projects/{other.id}", data={**form, "active": "1"})
    assert edited.status_code == status and message in edited.get_data(as_text=True)
    assert _state() == before


# -- the administrator's role opens no content -------------------------------------------

def test_the_admin_role_never_opens_archive_content(app, client, login_as, make_customer,
                                                    make_dossier, file_doc, departments):
    from archive import samples
    from archive.services import indexing

    customer = make_customer()
    dossier = make_dossier(customer)
    document = file_doc(dossier, "管理员不可见合同", files=[
        ("合同.pdf", samples.make_pdf("管理员不可见合同", ["管理员不可见合同正文。"]))])
    indexing.index_after_commit(db.session, [document.id])
    # Even given the sales department and a high clearance, the role opens nothing.
    admin = _user("admin")
    with work.unit(db.session):
        admin.department_id = departments["XS"].id
        admin.clearance = 3
    admin = _user("admin")
    assert not access.may_read(admin, document) and not access.may_read(admin, dossier)
    assert not access.may_read(admin, customer)
    db.session.commit()
    client = login_as("admin")
    assert client.get(f"/documents/{document.id}").status_code == 404
    assert client.get(f"/documents/{document.id}/preview").status_code == 404
    assert client.get(f"/dossiers/{dossier.id}").status_code == 404
    assert client.get(f"/customers/{customer.id}").status_code == 404
    assert "管理员不可见合同" not in client.get("/search?q=管理员不可见").get_data(as_text=True)
    assert customer.name not in client.get("/customers").get_data(as_text=True)
    # The same account as a sales officer would open it: the role alone closes it.
    staff = _user("staff")
    assert access.may_read(staff, document)
    db.session.commit()
