"""The may-read rule has three forms: the object check (`can(user, 'dossier.view' |
'document.view' | 'customer.view', obj)`, i.e. `access.may_read`), the SQL conditions
(`customer_filter`, `dossier_filter`: counts and listings) and the search filter
(`visibility`: hits, totals, facets). They must agree for every person on every object,
or a listing counts what a page refuses, or a search shows a title its page hides.

The object check has a fourth form for lists read as rows (`readable_rows`: search hits),
held to `can(user, 'document.view', document)` here too.

The archive below holds a dossier of every level for two departments' customers, a
document of every level in each (a low item in a high dossier, a 绝密 item in a low one),
designations for a 绝密 dossier, for a 绝密 document and for a dossier below 绝密 (which
opens nothing but the 绝密 items in it), grants for a department, for one customer, an
expired one and one not yet valid; it is read by a person of every role at every
clearance and by the people those grants and designations name."""

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from archive.clock import now
from archive.extensions import db
from archive.models import AccessGrant, Customer, Designation, Document, Dossier, Level, Role, User
from archive.models.enums import DocumentStatus
from archive.services import access, filing, indexing
from archive.services.indexing import search_service
from archive.services.search import SearchQuery

LEVELS = list(Level)


@pytest.fixture
def archive(app, make_customer, make_dossier, users, departments):
    gm = users["gm"]
    customers = {"xs": make_customer("张伟", "XS"), "xs2": make_customer("王芳", "XS"),
                 "kf": make_customer("李娜", "KF"), "kf2": make_customer("刘洋", "KF"),
                 "fl": make_customer("陈静", "FL")}
    dossiers, documents = {}, {}
    for key in ("xs", "kf"):
        for level in LEVELS:
            actor = "gm" if level is Level.TOP_SECRET else "officer"
            dossiers[key, level] = make_dossier(customers[key], building=key, room=f"{level}01",
                                                classification=level.label, actor=actor)
    for key in ("xs2", "kf2", "fl"):
        dossiers[key, Level.INTERNAL] = make_dossier(customers[key], building=key)
    for (key, dossier_level), dossier in dossiers.items():
        for level in LEVELS:
            top = Level.TOP_SECRET in (level, dossier_level)
            documents[key, dossier_level, level] = filing.file_document(
                db.session, users["gm" if top else "officer"], dossier.id,
                {"title": f"{key}-{dossier_level.key}-{level.key}", "category": "其他",
                 "classification": level.label}, [], store=app.extensions["blob_store"],
                limits=filing.Limits.from_config(app.config), index=False)

    def user(name, role, department, clearance):
        person = User(username=name, display_name=name, password_hash="!", role=role.value,
                      department_id=departments[department].id if department else None,
                      clearance=int(clearance))
        db.session.add(person)
        return person

    # Everyone of every role at every clearance, in the sales department.
    for role in Role:
        for level in LEVELS:
            user(f"{role.value}-{level.key}", role, "XS", level)
    extra = {name: user(name, Role.STAFF, dept, Level.CONFIDENTIAL) for name, dept in (
        ("granted-kf", "ZB"), ("granted-kf2", "ZB"), ("expired-kf", "XS"),
        ("future-kf", "XS"), ("designated", "ZB"), ("designated-doc", "XS"),
        ("designated-low", "ZB"), ("nobody", None))}
    db.session.flush()
    moment = now()

    def grant(name, start, end, **target):
        db.session.add(AccessGrant(user_id=extra[name].id, valid_from=moment + start,
                                   valid_until=moment + end, approved_by_id=gm.id, **target))

    day = timedelta(days=1)
    grant("granted-kf", -day, 30 * day, department_id=departments["KF"].id)  # 002:67
    grant("granted-kf2", -day, 30 * day, customer_id=customers["kf2"].id)
    grant("expired-kf", -9 * day, -8 * day, department_id=departments["KF"].id)
    grant("future-kf", 8 * day, 9 * day, department_id=departments["KF"].id)

    def designate(name, **target):  # 002:43
        db.session.add(Designation(user_id=extra[name].id, designated_by_id=gm.id, **target))

    designate("designated", dossier_id=dossiers["xs", Level.TOP_SECRET].id)
    designate("designated-doc", document_id=documents["kf", Level.INTERNAL, Level.TOP_SECRET].id)
    designate("designated-low", dossier_id=dossiers["kf", Level.SECRET].id)
    # Designations reach the index as each document's readers: index after them.
    db.session.commit()
    assert indexing.index_after_commit(db.session, [d.id for d in documents.values()])
    return customers, dossiers, documents


def _searched(user) -> set[int]:
    """Every document a search for everything shows `user`, page by page."""
    found, page = set(), 1
    while True:
        result = search_service().search(
            SearchQuery(page=page, per_page=100, facets=False), access.visibility(user))
        found |= {hit.document_id for hit in result.hits}
        if page * 100 >= result.total:
            assert len(found) == result.total
            return found
        page += 1


def _selected(model, condition) -> set[int]:
    query = db.session.query(model.id)
    return {i for (i,) in (query if condition is None else query.filter(condition))}


def _rows():
    """Every document as the row form of the check reads it."""
    return db.session.execute(
        select(*access.document_columns()).join(Dossier, Document.dossier_id == Dossier.id)
        .join(Customer, Dossier.customer_id == Customer.id)).all()


def test_object_check_sql_filters_and_search_filter_agree_for_everyone(archive):
    _, dossiers, documents = archive
    everyone = db.session.query(User).order_by(User.username).all()
    all_customers = db.session.query(Customer).all()
    all_dossiers = db.session.query(Dossier).all()
    all_documents = db.session.query(Document).all()
    assert len(all_documents) == len(documents) and len(everyone) > len(Role) * len(LEVELS)
    seen, opened_by = {}, {}
    for user in everyone:
        access.forget(user)
        name = user.username
        customers = {c.id for c in all_customers if access.can(user, "customer.view", c)}
        assert customers == _selected(Customer, access.customer_filter(user)), name
        opened = {d.id for d in all_dossiers if access.can(user, "dossier.view", d)}
        assert opened == {d.id for d in all_dossiers if access.may_read(user, d)}, name
        assert opened == _selected(Dossier, access.dossier_filter(user)), name
        read = {d.id for d in all_documents if access.can(user, "document.view", d)}
        assert read == {d.id for d in all_documents if access.may_read(user, d)}, name
        assert read == _searched(user), name
        assert read == {r.id for r in access.readable_rows(user, _rows())}, name
        seen[name], opened_by[name] = read, opened

    # The agreement is not an empty one: each path of the rule opened what it should.
    def docs(*keys):
        return {documents[k].id for k in keys}

    top = Level.TOP_SECRET
    assert seen["gm-public"] == {d.id for d in all_documents}  # 002:43
    assert seen["officer-top_secret"] == {  # 绝密 clearance opens no 绝密 (002:43)
        documents[k].id for k in documents if top not in k}
    assert seen["staff-secret"] == {documents[k].id for k in documents
                                    if k[0] in ("xs", "xs2") and max(k[1:]) <= Level.SECRET}
    assert {documents[k].id for k in documents
            if k[0] in ("kf", "kf2") and top not in k} == seen["granted-kf"]
    assert seen["granted-kf2"] == docs(*(("kf2", Level.INTERNAL, lv) for lv in LEVELS[:4]))
    assert seen["expired-kf"] == seen["future-kf"] == {
        documents[k].id for k in documents if k[0] in ("xs", "xs2") and top not in k}
    assert seen["designated"] == docs(*(("xs", top, lv) for lv in LEVELS))
    assert seen["designated-doc"] == seen["expired-kf"] | docs(("kf", Level.INTERNAL, top))
    assert seen["designated-low"] == docs(("kf", Level.SECRET, top))
    assert seen["nobody"] == set()
    low_item = documents["xs", Level.SECRET, Level.PUBLIC].id  # a dossier's level is a floor
    assert low_item not in seen["staff-internal"] and low_item in seen["staff-secret"]
    assert opened_by["designated"] == {dossiers["xs", top].id}
    assert opened_by["designated-low"] == set()  # 秘密 is not opened by a designation
    assert opened_by["granted-kf2"] == {dossiers["kf2", Level.INTERNAL].id}


def test_row_form_agrees_on_withdrawn_documents_and_asks_designations_once(app, archive):
    _, _, documents = archive
    gone = documents["xs", Level.PUBLIC, Level.PUBLIC]
    gone.status = DocumentStatus.WITHDRAWN.value  # 撤销归档: a tombstone for the archive room
    db.session.flush()
    rows = _rows()
    statements = []

    def count(_conn, _cursor, sql, *_args):
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", count)
    checked = {}
    everyone = db.session.query(User).order_by(User.username).all()
    for user in everyone:
        access.forget(user)
        read = {d.id for d in documents.values() if access.can(user, "document.view", d)}
        access.forget(user)
        del statements[:]
        checked[user.username] = {r.id for r in access.readable_rows(user, rows)}
        assert checked[user.username] == read, user.username
        # The grants (for those whose reach depends on them) and the designations of
        # the rows from 绝密 up: never a query per row.
        assert len(statements) <= 2, (user.username, statements)
    event.remove(db.engine, "before_cursor_execute", count)
    assert gone.id in checked["officer-secret"] and gone.id in checked["auditor-secret"]
    assert gone.id not in checked["staff-secret"]
    assert documents["xs", Level.SECRET, Level.PUBLIC].id in checked["staff-secret"]
