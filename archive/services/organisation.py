"""Departments and projects (苑), kept by the administrator (issue 18). Every change is
audited; the CLI calls the same functions with no actor."""

import re

from sqlalchemy import func, select

from archive.models import Department, Project, User
from archive.models.enums import CATEGORIES
from archive.services import access, audit, validation, work
from archive.services.errors import Conflict, Invalid, NotFound

# A department's code is printed in numbers and picked in the CLI: letters, digits, "-".
CODE = re.compile(r"[\w-]{1,20}")


def _require(actor: User | None) -> None:
    if actor is not None:
        access.require(actor, "org.manage")


def list_departments(session) -> list[Department]:
    """Every department, by code."""
    return list(session.execute(select(Department).order_by(Department.code)).scalars())


def get_department(session, department_id) -> Department:
    department_id = validation.row_id(department_id)
    department = session.get(Department, department_id) if department_id is not None else None
    if department is None:
        raise NotFound("部门不存在")
    return department


def _department_fields(session, data: dict, current: Department | None) -> dict:
    fields = {}
    if current is None or "name" in data:
        fields["name"] = validation.text(data, "name", "部门名称", required=True, max_len=100)
    if current is None or "code" in data:
        code = validation.text(data, "code", "部门代码", required=True, max_len=20).upper()
        if not CODE.fullmatch(code):
            raise Invalid("部门代码只能包含文字、字母、数字和连字符（最多 20 个字符）",
                          details={"field": "code"})
        fields["code"] = code
    if "receives" in data:
        fields["receives"] = received_categories(data)
    for key, label in (("name", "部门名称"), ("code", "部门代码")):
        if key not in fields:
            continue
        stmt = select(Department.id).where(func.lower(getattr(Department, key))
                                           == fields[key].lower())
        if current is not None:
            stmt = stmt.where(Department.id != current.id)
        if session.execute(stmt).first():
            raise Conflict(f"{label}已被使用：{fields[key]}", details={"field": key})
    return fields


def received_categories(data: dict) -> str:
    """The categories a department receives as a receiving unit of transfers, as stored:
    "销售,签约" (from a list, or text split on commas or 、), "*" for every one, "" none."""
    value = data.get("receives")
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，、\s]+", value) if v]
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("接收类别须为类别名称的列表", details={"field": "receives"})
    if "*" in value:
        return "*"
    for name in value:
        if name not in CATEGORIES:
            raise Invalid(f"接收类别只能是：{'、'.join(CATEGORIES)}，或 *（全部）",
                          details={"field": "receives"})
    return ",".join(c for c in CATEGORIES if c in value)


def create_department(session, actor: User | None, data: dict) -> Department:
    """A new department with a unique name and code."""
    _require(actor)
    department = Department(**_department_fields(session, data, None))
    if not work.insert(session, department):  # created meanwhile by a concurrent request
        raise Conflict(f"部门名称或代码已被使用：{department.name}（{department.code}）")
    audit.record(session, actor, "department.created", department, name=department.name,
                 code=department.code, **({"receives": department.receives}
                                          if department.receives else {}))
    return department


def update_department(session, actor: User | None, department: Department, data: dict) -> dict:
    """Rename a department, set its code or the categories it receives as a receiving unit
    of transfers; {field: [old, new]} of what changed. Dossier numbers already issued keep
    the code they were issued with."""
    _require(actor)
    fields = _department_fields(session, data, department)
    changes = {k: [getattr(department, k), v] for k, v in fields.items()
               if getattr(department, k) != v}
    for key, (_old, value) in changes.items():
        setattr(department, key, value)
    if changes:
        audit.record(session, actor, "department.updated", department, changes=changes)
    return changes


def list_projects(session, *, active_only: bool = False) -> list[Project]:
    """The projects, by name (only those still offered, if `active_only`)."""
    stmt = select(Project).order_by(Project.name)
    if active_only:
        stmt = stmt.where(Project.active.is_(True))
    return list(session.execute(stmt).scalars())


def get_project(session, project_id) -> Project:
    project_id = validation.row_id(project_id)
    project = session.get(Project, project_id) if project_id is not None else None
    if project is None:
        raise NotFound("项目不存在")
    return project


def _project_name(session, data: dict, current: Project | None) -> str:
    name = validation.text(data, "name", "项目名称", required=True, max_len=100)
    stmt = select(Project.id).where(Project.name == name)
    if current is not None:
        stmt = stmt.where(Project.id != current.id)
    if session.execute(stmt).first():
        raise Conflict(f"项目已存在：{name}", details={"field": "name"})
    return name


def create_project(session, actor: User | None, data: dict) -> Project:
    """Add a project to the list the dossier form offers."""
    _require(actor)
    project = Project(name=_project_name(session, data, None))
    if not work.insert(session, project):  # added meanwhile by a concurrent request
        raise Conflict(f"项目已存在：{project.name}", details={"field": "name"})
    audit.record(session, actor, "project.created", project, name=project.name)
    return project


def update_project(session, actor: User | None, project: Project, data: dict) -> dict:
    """Correct a project's name in the list, or stop or resume offering it. Units and
    dossier numbers already issued keep the name they were issued with."""
    _require(actor)
    new = {}
    if "name" in data:
        new["name"] = _project_name(session, data, project)
    if "active" in data:
        new["active"] = str(data["active"]).lower() in ("1", "true", "on", "yes")
    changes = {k: [getattr(project, k), v] for k, v in new.items() if getattr(project, k) != v}
    for key, (_old, value) in changes.items():
        setattr(project, key, value)
    if changes:
        audit.record(session, actor, "project.updated", project, changes=changes)
    return changes


def require_project(session, name: str) -> str:
    """`name` if it is a project on the list still offered, else Invalid naming the list
    (a typo must not create a new project)."""
    if session.execute(select(Project.id).where(Project.name == name,
                                                Project.active.is_(True))).first():
        return name
    offered = "、".join(p.name for p in list_projects(session, active_only=True))
    raise Invalid(f"项目不在项目列表中：{name}（可选：{offered or '无，请管理员先添加项目'}）",
                  code="unknown_project", details={"field": "project"})
