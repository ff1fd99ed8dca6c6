"""Customers, units, dossiers and the references between dossiers."""

import functools
import unicodedata

from sqlalchemy import bindparam, func, inspect, or_, select
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from archive.clock import today
from archive.models import (
    Customer,
    Department,
    Document,
    Dossier,
    DossierReference,
    Group,
    StoredFile,
    Unit,
    User,
)
from archive.models.enums import CASE_GROUP, GROUPS, Level, Retention
from archive.services import (
    access,
    audit,
    duplicates,
    numbering,
    organisation,
    personal_data,
    validation,
    work,
)
from archive.services.errors import NOT_FOUND_MESSAGES, Conflict, Invalid, NotFound, not_found

KINDS = {"person": "个人", "company": "公司"}
# How often a number the server chooses is chosen again when concurrent registrations keep
# taking it first (each try sees the numbers they committed).
RACE_RETRIES = 5
# 004:23-25 classifies customers on two scales: by the intent to cooperate (优先/重要,
# 普通, 潜在 — 等级) and by the size of the cooperation (大, 中, 小 — 规模).
GRADES = ("重要", "普通", "潜在")
SCALES = ("大", "中", "小")


def grade_and_scale(data: dict, *, grade_default: str | None = "普通",
                    scale_default: str | None = "") -> dict:
    """The 等级 and 规模 fields of a customer form, each on its own scale; a size typed as
    a grade is refused with where it belongs. A default of None leaves the field out
    when it is not given (a correction)."""
    found = {}
    if validation.text(data, "grade", "客户等级") in SCALES:
        raise Invalid("“大、中、小”是客户规模（按合作规模），请填在“客户规模”一栏；"
                      "客户等级（按合作意向）只能是：重要、普通、潜在", details={"field": "grade"})
    for key, label, options, default in (("grade", "客户等级", GRADES, grade_default),
                                         ("scale", "客户规模", SCALES, scale_default)):
        if default is None and key not in data:
            continue
        found[key] = validation.choice(data, key, label, options, default=default or "")
    return found


def get_or_404(session, model, object_id, message: str = "对象不存在", *, options=()):
    """The `model` row with `object_id`, or NotFound. A customer, dossier or document is
    refused in the words of `errors.not_found`, as one that may not be seen is; `message`
    names the other kinds of row (a grant, a level change). `options`: loader options
    (what to load with the row); the row is then read afresh, since an object the session
    already holds would be refreshed without them (and changes not flushed are lost)."""
    object_id = validation.row_id(object_id)
    obj = _get(session, model, object_id, tuple(options)) if object_id is not None else None
    if obj is None:
        kind = model.__name__.lower()
        raise not_found(kind) if kind in NOT_FOUND_MESSAGES else NotFound(message)
    return obj


def _get(session, model, object_id: int, options: tuple):
    """session.get(model, object_id) (with `options`, read afresh), the query built once
    per model and options: every page opens its object this way, and each request begins
    with the session's objects expired, so session.get would build its query anew (half
    its cost, bench/request_cpu.py). An object held and not expired is returned as
    session.get returns it, without a query."""
    if not options:
        held = session.identity_map.get(identity_key(model, object_id))
        if held is not None and not inspect(held).expired:
            return session.get(model, object_id)
    return session.execute(_by_key(model, options), {"key": object_id}).scalar_one_or_none()


@functools.lru_cache(maxsize=64)  # bounded: a caller may build its options afresh each time
def _by_key(model, options: tuple):
    (key,) = inspect(model).primary_key
    statement = select(model).where(key == bindparam("key"))
    if options:
        statement = statement.options(*options).execution_options(populate_existing=True)
    return statement


def find_department(session, value) -> Department:
    """A department by id, code or name (as the CLI and API accept it)."""
    if isinstance(value, Department):
        return value
    text = str(value or "").strip()
    if not text:
        raise Invalid("请选择负责部门", code="missing_field", details={"field": "department"})
    stmt = select(Department).where(
        or_(Department.name == text, Department.code == text,
            Department.id == (validation.row_id(text) if text.isdecimal() else -1))
    )
    department = session.execute(stmt).scalar_one_or_none()
    if department is None:
        raise Invalid(f"部门不存在：{text}", details={"field": "department"})
    return department


def registering_departments(session, actor: User) -> list[Department]:
    """The departments `actor` may register a customer under (create_customer's rule):
    every department for the archive room, else the actor's own and those of a grant."""
    return [d for d in session.execute(select(Department).order_by(Department.id)).scalars()
            if access.in_scope(actor, Customer(department_id=d.id))]


def create_customer(session, actor: User, data: dict, *,
                    code_format: str = numbering.DEFAULT_CUSTOMER_CODE) -> Customer:
    """Register a customer under a responsible department; with no code typed, the next
    code in `code_format` (the archive's CUSTOMER_CODE_FORMAT)."""
    access.require(actor, "customer.create")
    name = validation.text(data, "name", "客户名称", required=True)
    kind = validation.choice(data, "kind", "客户类型", list(KINDS), default="person")
    if data.get("department") in (None, "") and actor.department_id:
        department = session.get(Department, actor.department_id)
    else:
        department = find_department(session, data.get("department"))
    if not access.in_scope(actor, Customer(department_id=department.id)):
        raise access.Forbidden("只能为本部门登记客户")
    typed = validation.text(data, "code", "客户编号", max_len=40)
    code = typed or numbering.customer_code(session, code_format)
    if session.execute(select(Customer.id).where(Customer.code == code)).first():
        raise Conflict(f"客户编号已存在：{code}", code="duplicate_customer")
    customer = Customer(
        code=code,
        name=name,
        kind=kind,
        id_number=personal_data.id_number(data, kind),
        phone=personal_data.phone(data),
        address=validation.text(data, "address", "联系地址", max_len=300),
        **grade_and_scale(data),
        department_id=department.id,
        notes=validation.text(data, "notes", "备注", max_len=2000),
        created_by_id=actor.id,
    )
    same = duplicates.check_customer(session, actor, customer.name, customer.id_number,
                                     customer.phone,
                                     confirm=validation.flag(data, "confirm_different", "确认不是同一客户"))
    # A code taken by a concurrent registration after the check: a typed one is a
    # conflict; a generated one is the server's to choose, so the next one is taken.
    for _attempt in range(RACE_RETRIES):
        if work.insert(session, customer):
            break
        if typed:
            raise Conflict(f"客户编号已存在：{code}", code="duplicate_customer")
        customer.code = code = numbering.customer_code(session, code_format)
    else:
        raise Conflict("客户编号正被同时登记的其他客户占用，请重试", code="duplicate_customer")
    audit.record(session, actor, "customer.created", customer, code=code, name=name)
    if same:
        audit.record(session, actor, "customer.confirmed_different", customer,
                     others=[c.code for c in same])
    return customer


def list_customers(session, actor: User, *, q: str = "", page: int = 1, per_page: int = 20):
    """Customers within the actor's reach, filtered by name or code, one page."""
    access.require(actor, "customer.list")
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))  # merged: in history only
    scope = access.customer_filter(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    q = (q or "").strip()
    if q:
        # % and _ are what the user typed, not wildcards.
        stmt = stmt.where(or_(Customer.name.contains(q, autoescape=True),
                              Customer.code.contains(q, autoescape=True)))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    page = max(1, page)
    # The page shows each customer's department: loaded with the rows.
    rows = session.execute(
        stmt.options(joinedload(Customer.department))
        .order_by(Customer.code).limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return total, rows


def visible_dossier_counts(session, actor: User, listed: list[Customer]) -> dict[int, int]:
    """customer id -> how many of its dossiers the actor may open (`visible_dossiers`
    counted), for a list of customers in one query: `access.dossier_filter` is the SQL
    form of the same rule."""
    ids = [c.id for c in listed]
    if not ids:
        return {}
    stmt = (select(Dossier.customer_id, func.count()).where(Dossier.customer_id.in_(ids))
            .group_by(Dossier.customer_id))
    condition = access.dossier_filter(actor)
    if condition is not None:
        stmt = stmt.where(condition)
    counts = dict(session.execute(stmt).all())
    return {i: counts.get(i, 0) for i in ids}


def get_customer(session, actor: User, customer_id) -> Customer:
    """A customer the actor may see, audited as a view."""
    customer = get_or_404(session, Customer, customer_id)
    access.require(actor, "customer.view", customer)
    audit.record(session, actor, "customer.viewed", customer)
    return customer


# The word the dossier number format adds after a unit's part: typed with it ("6栋",
# "3单元") or without, the part is stored without it (one form, one unit).
UNIT_SUFFIXES = {"building": "栋", "unit_no": "单元"}


def _unit_part(data: dict, key: str, label: str) -> str:
    """A building, unit or room as stored: full-width digits made ASCII, the part's own
    word ("栋", "单元") dropped from its end."""
    value = unicodedata.normalize("NFKC", validation.text(data, key, label, max_len=20))
    suffix = UNIT_SUFFIXES.get(key)
    while suffix and value.endswith(suffix):
        value = value[:-len(suffix)].strip()
    if not value:
        raise Invalid(f"请填写{label}（如 6 或 6{suffix or ''}）" if suffix else f"请填写{label}",
                      code="missing_field", details={"field": key})
    return value


def _unit(session, data: dict) -> Unit:
    """The unit the form names, found or created. Units stored before the parts were
    normalised ("6栋", "3单元") are found by either form, and keep theirs: numbers already
    issued stay as printed."""
    parts = {
        "project": organisation.require_project(session, validation.text(
            data, "project", "项目（苑）", required=True, max_len=100)),
        "building": _unit_part(data, "building", "栋号"),
        "unit_no": _unit_part(data, "unit_no", "单元"),
        "room": _unit_part(data, "room", "房号"),
    }
    forms = {key: (parts[key], parts[key] + suffix) for key, suffix in UNIT_SUFFIXES.items()}
    found = session.execute(
        select(Unit).where(Unit.project == parts["project"], Unit.room == parts["room"],
                           Unit.building.in_(forms["building"]),
                           Unit.unit_no.in_(forms["unit_no"]))
        .order_by(Unit.id)
    ).scalars().all()
    exact = [u for u in found if (u.building, u.unit_no) == (parts["building"], parts["unit_no"])]
    unit = (exact or found or [None])[0]
    if unit is None:
        unit = Unit(**parts)
        if not work.insert(session, unit):  # registered meanwhile by a concurrent request
            unit = session.execute(select(Unit).filter_by(**parts)).scalar_one()
    return unit


def create_dossier(session, actor: User, data: dict, *, number_format: str) -> Dossier:
    """Open a dossier for a customer's unit (一户一档), or a litigation case file.

    A customer's dossiers reference each other automatically (000:738).
    """
    customer_id = validation.integer(data, "customer_id", "客户", required=True)
    customer = get_or_404(session, Customer, customer_id)
    access.require(actor, "customer.view", customer)
    access.require(actor, "dossier.create", customer, hide=False)
    # One new dossier of a customer at a time (the customer's row locked until commit): a
    # second opened at the same instant waits, then sees this one, so the two reference
    # each other and 一户一档 is checked against it.
    # The audit head is locked first: this unit records an event under it before commit,
    # and a writer holding it (an import's unit) may come for this customer next, so one
    # lock order (head, then rows) keeps the two from deadlocking on PostgreSQL.
    audit.hold_head(session)
    customer = session.execute(
        select(Customer).where(Customer.id == customer.id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one()  # merged while it waited?
    if customer.merged_into_id is not None:
        raise Conflict("该客户已并入其他客户，请在合并后的客户下建档", code="merged_customer")
    kind = validation.choice(data, "kind", "档案类型", ["customer", "case"], default="customer")
    classification = validation.level(data, "classification", Level.INTERNAL)
    if classification > access.max_filing_level(actor):
        raise access.Forbidden("不能建立高于本人密级的档案")
    retention = validation.retention(data, Retention.PERMANENT.value)
    if kind == "customer":
        unit = _unit(session, data)
        if session.execute(
            select(Dossier.id).where(Dossier.customer_id == customer.id, Dossier.unit_id == unit.id)
        ).first():
            raise Conflict("该客户在此房产已有档案（一户一档）", code="duplicate_dossier")
        number = numbering.dossier_number(session, number_format, unit)
        title = validation.text(data, "title", "题名") or f"{customer.name} {unit.label}"
    else:
        unit = None
        number = validation.text(data, "number", "案卷编号", required=True, max_len=120)
        if session.execute(select(Dossier.id).where(Dossier.number == number)).first():
            raise _case_number_taken(number)
        title = validation.text(data, "title", "题名", required=True)
    dossier = Dossier(
        number=number,
        kind=kind,
        title=title,
        customer_id=customer.id,
        unit_id=unit.id if unit else None,
        classification=int(classification),
        retention=retention,
        location=validation.text(data, "location", "保存地点"),
        compiled_by=validation.text(data, "compiled_by", "立卷人", max_len=60) or actor.display_name,
        checked_by=validation.text(data, "checked_by", "检查人", max_len=60),
        remarks=validation.text(data, "remarks", "备考", max_len=2000),
        created_by_id=actor.id,
    )
    # A case file is one volume in filing order; customer groups a–e are a customer's.
    dossier.groups = [Group(code=code) for code in (GROUPS if kind == "customer" else [CASE_GROUP])]
    _insert_dossier(session, dossier, unit, number_format)
    siblings = session.execute(
        select(Dossier).where(Dossier.customer_id == customer.id, Dossier.id != dossier.id,
                              Dossier.kind == "customer")
    ).scalars().all() if kind == "customer" else []
    for other in siblings:
        session.add(DossierReference(from_dossier_id=dossier.id, to_dossier_id=other.id,
                                     kind="same_customer", created_by_id=actor.id))
        session.add(DossierReference(from_dossier_id=other.id, to_dossier_id=dossier.id,
                                     kind="same_customer", created_by_id=actor.id))
    audit.record(session, actor, "dossier.created", dossier, number=dossier.number)
    return dossier


def _case_number_taken(number: str) -> Conflict:
    """A case number (案号) the archive already has a case file for, whoever may see it: one
    court case, one case file (docs/hardening.md, "case numbers"). The answer names the
    number the user typed and nothing of the case file: not its customer, department,
    level or contents."""
    return Conflict(f"案号 {number} 已有案卷；如需归入该案卷，请联系档案室",
                    code="duplicate_number")


def _insert_dossier(session, dossier: Dossier, unit: Unit | None, number_format: str) -> None:
    """Write a new dossier after the checks, which a concurrent request may have overtaken:
    the same customer and unit, or a typed case number, is a conflict as the check says; a
    number the server chose for a unit is chosen again (the next suffix)."""
    for _attempt in range(RACE_RETRIES):
        if work.insert(session, dossier):
            return
        if unit is None:
            raise _case_number_taken(dossier.number)
        if session.execute(select(Dossier.id).where(Dossier.customer_id == dossier.customer_id,
                                                    Dossier.unit_id == unit.id)).first():
            raise Conflict("该客户在此房产已有档案（一户一档）", code="duplicate_dossier")
        dossier.number = numbering.dossier_number(session, number_format, unit)
    raise Conflict("档案编号正被同时建立的其他档案占用，请重试", code="duplicate_number")


def dossier_of_unit(session, actor: User, customer: Customer, data: dict, *,
                    number_format: str) -> Dossier:
    """The customer's dossier for the unit `data` names (project, building, unit_no,
    room), opened as `create_dossier` opens one if the customer has none there yet (a
    bulk import files into it either way)."""
    access.require(actor, "customer.view", customer)
    unit = _unit(session, data)
    found = session.execute(
        select(Dossier).where(Dossier.customer_id == customer.id, Dossier.unit_id == unit.id,
                              Dossier.kind == "customer").order_by(Dossier.id)
    ).scalars().first()
    if found is not None:
        return found
    return create_dossier(session, actor, {**data, "customer_id": customer.id},
                          number_format=number_format)


def holder_of_unit(session, name: str, data: dict) -> Customer | None:
    """The customer called `name` who holds a dossier on the unit `data` names: a
    manifest row without a customer code or ID number means that customer, if any."""
    unit = _unit(session, data)
    return session.execute(
        select(Customer).join(Dossier, Dossier.customer_id == Customer.id)
        .where(Dossier.unit_id == unit.id, Customer.name == name).order_by(Customer.id)
    ).scalars().first()


def _normal_unit(unit: Unit) -> Unit:
    """The unit's parts in the one stored form (a unit stored before, e.g. "6栋", as "6"),
    unsaved: for the number the unit has today."""
    parts = {"building": unit.building, "unit_no": unit.unit_no}
    return Unit(project=unit.project, room=unit.room,
                **{key: _unit_part(parts, key, key) for key in parts})


def needs_renumbering(dossier: Dossier, number_format: str) -> bool:
    """Whether a customer dossier's number differs from the one its unit has in today's
    form (its own suffix -2, -3 … for a later buyer aside)."""
    if dossier.kind != "customer" or dossier.unit is None:
        return False
    base = numbering.format_number(number_format, _normal_unit(dossier.unit))
    number = dossier.number
    return not (number == base or (number.startswith(base + "-")
                                   and number[len(base) + 1:].isdecimal()))


def renumber_dossier(session, actor: User, dossier_id, *, number_format: str) -> tuple[str, str]:
    """Give a customer dossier the number its unit has in today's form (a number issued
    before the unit's parts were normalised, such as 翠湖苑-6栋栋3单元单元1402). Numbers
    are printed on covers and shelves, so this is the archive room's deliberate act: the
    old number is kept in a dated 备考表 note, the change audited, the dossier's documents
    re-indexed under the new number. Returns (old, new)."""
    from archive.services import indexing, work

    dossier = get_or_404(session, Dossier, dossier_id)
    access.require(actor, "dossier.view", dossier)
    access.require(actor, "dossier.correct", dossier, hide=False)
    if dossier.kind != "customer" or dossier.unit is None:
        raise Invalid("诉讼案卷按案号编号，不能重新编号", code="not_renumberable")
    old = dossier.number
    if not needs_renumbering(dossier, number_format):
        raise Conflict(f"档案号 {old} 已是规范格式，无需重新编号", code="already_standard")
    new = numbering.dossier_number(session, number_format, _normal_unit(dossier.unit))
    dossier.number = new
    note = f"{today().isoformat()} 重新编号：原档案号 {old}，新档案号 {new}（{actor.display_name}）"
    dossier.remarks = f"{dossier.remarks}\n{note}" if dossier.remarks else note
    ids = [d.id for d in dossier.documents]
    if ids:
        indexing.flag(session, ids)
        work.after_commit(session, lambda: indexing.index_after_commit(session, ids))
    audit.record(session, actor, "dossier.renumbered", dossier, old=old, new=new)
    return old, new


def add_reference(session, actor: User, from_id, data: dict) -> DossierReference:
    """A manual reference, e.g. from the judgment filed in a customer dossier to the
    litigation case file (000:824)."""
    source = get_or_404(session, Dossier, from_id)
    access.require(actor, "dossier.view", source)
    access.require(actor, "document.upload", source, hide=False)
    number = validation.text(data, "to_dossier_number", "被参照档案号", max_len=120)
    if number:  # officers know dossiers by number; the API may give the id
        target = session.execute(
            select(Dossier).where(Dossier.number == number)).scalar_one_or_none()
        if target is None:
            raise not_found("dossier")
    else:
        target_id = validation.integer(data, "to_dossier_id", "被参照档案", required=True)
        target = get_or_404(session, Dossier, target_id)
    access.require(actor, "dossier.view", target)
    if target.id == source.id:
        raise Invalid("档案不能参照自身")
    document_id = validation.integer(data, "document_id", "文件")
    if document_id is not None:
        from archive.models import Document

        document = get_or_404(session, Document, document_id)
        if document.dossier_id != source.id or not access.can(actor, "document.view", document):
            raise not_found("document")
    # What the reference is follows from the dossier referred to: a case file, or another
    # dossier (REFERENCE_KINDS).
    kind = validation.choice(data, "kind", "参照类型", ["case_file", "related"],
                             default="case_file" if target.kind == "case" else "related")
    if kind == "case_file" and target.kind != "case":
        raise Invalid(f"{target.number} 不是诉讼案卷；参照其他档案请选“相关档案”",
                      details={"field": "kind"})
    existing = session.execute(select(DossierReference.kind).filter_by(
        from_dossier_id=source.id, to_dossier_id=target.id)).scalars().first()
    if existing is not None:
        raise Conflict(f"两份档案之间已有参照（{REFERENCE_KINDS[existing]}）",
                       code="duplicate_reference")
    ref = DossierReference(from_dossier_id=source.id, to_dossier_id=target.id, kind=kind,
                           document_id=document_id,
                           note=validation.text(data, "note", "说明", max_len=300),
                           created_by_id=actor.id)
    back = DossierReference(from_dossier_id=target.id, to_dossier_id=source.id, kind=kind,
                            document_id=document_id, note=ref.note, created_by_id=actor.id)
    if not work.insert(session, ref, back):  # added meanwhile by a concurrent request
        raise Conflict("两份档案之间已有参照（刚由他人同时添加）", code="duplicate_reference")
    audit.record(session, actor, "dossier.referenced", source, to=target.number, kind=kind)
    return ref


def get_dossier(session, actor: User, dossier_id, *, record: bool = True,
                page: bool = False) -> Dossier:
    """A dossier the actor may open, audited as a view unless `record` is False (a page
    that only checks it before doing something else). With `page`, its customer (which
    the check reads) and its unit come in the same query, instead of one query each."""
    dossier = get_or_404(session, Dossier, dossier_id, options=_dossier_page_loads() if page else ())
    access.require(actor, "dossier.view", dossier)
    if record:
        audit.record(session, actor, "dossier.viewed", dossier)
    return dossier


@functools.cache
def _dossier_page_loads() -> tuple:
    # Built once, so that get_or_404 finds its statement built too (_by_key).
    return joinedload(Dossier.customer), joinedload(Dossier.unit)


def load_contents(session, dossier: Dossier) -> Dossier:
    """Load the dossier's groups, documents and their files (without the files' text) in
    one query each, for a page that lists them all (the 卷内目录, the 备考表's totals)
    instead of one query per group and per document.

    The collections are filled from four queries built once, not by selectinload: its
    loaders built and keyed their queries on every page, as much again as running them
    (about 2 against 1 ms for a dossier of 8 documents, bench/request_cpu.py)."""
    queries = _contents()
    groups = session.execute(queries["groups"], {"dossier": dossier.id}).scalars().all()
    documents = session.execute(queries["documents"], {"dossier": dossier.id}).scalars().all()
    by_group: dict[int, list[Document]] = {group.id: [] for group in groups}
    if by_group:
        for document in session.execute(queries["by_group"], {"groups": list(by_group)}).scalars():
            by_group[document.group_id].append(document)
    files: dict[int, list[StoredFile]] = {document.id: [] for document in documents}
    if files:
        for stored in session.execute(queries["files"], {"documents": list(files)}).scalars():
            files[stored.document_id].append(stored)
    # As loaded (each in its relationship's order): reading them queries nothing more.
    set_committed_value(dossier, "groups", groups)
    set_committed_value(dossier, "documents", documents)
    for group in groups:
        set_committed_value(group, "documents", by_group[group.id])
    for document in documents:
        set_committed_value(document, "files", files[document.id])
    return dossier


@functools.cache
def _contents() -> dict:
    """load_contents' queries, in the orders of the relationships they fill."""
    return {
        "groups": select(Group).where(Group.dossier_id == bindparam("dossier"))
        .order_by(Group.code),
        "documents": select(Document).where(Document.dossier_id == bindparam("dossier"))
        .order_by(Document.id),
        "by_group": select(Document)
        .where(Document.group_id.in_(bindparam("groups", expanding=True)))
        .order_by(Document.group_id, Document.seq),
        "files": select(StoredFile).options(defer(StoredFile.text))
        .where(StoredFile.document_id.in_(bindparam("documents", expanding=True)))
        .order_by(StoredFile.document_id, StoredFile.id),
    }


def visible_dossiers(actor: User, customer: Customer) -> list[Dossier]:
    """The customer's dossiers the actor may open (web page and API alike)."""
    return [d for d in customer.dossiers if access.can(actor, "dossier.view", d)]


# What a reference is, as the dossier page names it.
REFERENCE_KINDS = {"same_customer": "同一客户的其他档案，自动建立", "case_file": "诉讼案卷",
                   "related": "相关档案"}


def remove_reference(session, actor: User, dossier_id, reference_id) -> DossierReference:
    """Remove a manual reference (both directions; the archive room). The references
    between one customer's dossiers are kept by the archive itself (000:738)."""
    source = get_or_404(session, Dossier, dossier_id)
    access.require(actor, "dossier.view", source)
    access.require(actor, "reference.remove", source, hide=False)
    ref = session.get(DossierReference, validation.row_id(reference_id) or -1)
    if ref is None or ref.from_dossier_id != source.id:
        raise NotFound("参照不存在")
    if ref.kind == "same_customer":
        raise Conflict("同一客户的档案之间的参照由系统建立，不能删除", code="automatic_reference")
    target = ref.to_dossier
    back = session.execute(select(DossierReference).filter_by(
        from_dossier_id=target.id, to_dossier_id=source.id, kind=ref.kind)).scalar_one_or_none()
    for row in (ref, back):
        if row is not None:
            session.delete(row)
    session.flush()
    audit.record(session, actor, "dossier.reference_removed", source, to=target.number,
                 kind=ref.kind, note=ref.note)
    return ref


def references(session, actor: User, dossier: Dossier) -> list[DossierReference]:
    """The dossier's references whose target the actor may see."""
    refs = session.execute(_references_from(), {"dossier": dossier.id}).scalars().all()
    return [r for r in refs if access.can(actor, "dossier.view", r.to_dossier)]


@functools.cache
def _references_from():
    # Built once: every dossier page asks it.
    return (select(DossierReference)
            .where(DossierReference.from_dossier_id == bindparam("dossier"))
            .options(joinedload(DossierReference.to_dossier)).order_by(DossierReference.id))
