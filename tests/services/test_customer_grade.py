"""Customer 等级 and 规模 are two fields, as the seed classifies customers (004:23-25): by
the intent to cooperate (重要 / 普通 / 潜在) and by the size of the cooperation (大 / 中 /
小). A size typed as a grade is refused with where it belongs; the migration moves old
sizes to the scale."""

import flask_migrate
import pytest
from sqlalchemy import text

from archive import create_app
from archive.extensions import db
from archive.services import customers, work
from archive.services.errors import Invalid
from config import TestConfig
from tests import databases
from tests.conftest import archive_state


def test_grade_and_scale_are_two_fields(make_customer, login_as):
    customer = make_customer(grade="重要", scale="大")
    assert (customer.grade, customer.scale) == ("重要", "大")
    plain = make_customer("李娜")
    assert (plain.grade, plain.scale) == ("普通", "")
    page = login_as("officer").get("/customers/new").get_data(as_text=True)
    grade_select = page.split('name="grade"')[1].split("</select>")[0]
    scale_select = page.split('name="scale"')[1].split("</select>")[0]
    assert "大" not in grade_select and "潜在" in grade_select
    assert "大" in scale_select and "潜在" not in scale_select


@pytest.mark.parametrize("data, message", [
    ({"grade": "大"}, "请填在“客户规模”一栏"),
    ({"grade": "特级"}, "客户等级只能是"),
    ({"scale": "重要"}, "客户规模只能是"),
])
def test_a_value_of_the_wrong_scale_is_refused(app, users, departments, data, message):
    before = archive_state(app)
    with pytest.raises(Invalid) as error, work.unit(db.session):
        customers.create_customer(db.session, users["officer"], {
            "name": "张伟", "department": departments["XS"].id, **data})
    assert message in error.value.message
    assert archive_state(app) == before


def test_the_api_takes_and_gives_both(call, departments):
    created = call("officer", "POST", "/api/v1/customers", json={
        "name": "深圳市华南贸易有限公司", "kind": "company", "department": departments["XS"].id,
        "grade": "潜在", "scale": "中"})
    assert created.status_code == 201
    assert (created.get_json()["grade"], created.get_json()["scale"]) == ("潜在", "中")
    refused = call("officer", "POST", "/api/v1/customers", json={
        "name": "鹏程投资", "department": departments["XS"].id, "grade": "小"})
    assert refused.status_code == 422 and "客户规模" in refused.get_json()["error"]["message"]


def test_the_migration_moves_old_sizes_to_the_scale(tmp_path):
    databases.create_empty(tmp_path)
    app = create_app(TestConfig(tmp_path))
    with app.app_context():
        flask_migrate.upgrade(revision="a18c0c0de018")
        db.session.execute(text("INSERT INTO departments (id, name, code) VALUES (1, '销售', 'XS')"))
        for n, grade in enumerate(["大", "重要", "小", "潜在"], start=1):
            db.session.execute(text(
                "INSERT INTO customers (id, code, name, kind, id_number, phone, address, grade,"
                " department_id, notes, created_at) VALUES (:id, :code, '客户', 'person', '',"
                " '', '', :grade, 1, '', '2026-01-01 08:00:00')"),
                {"id": n, "code": f"KH{n}", "grade": grade})
        db.session.commit()
        flask_migrate.upgrade(revision="a18c0c0de018b")
        rows = db.session.execute(text("SELECT grade, scale FROM customers ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("普通", "大"), ("重要", ""), ("普通", "小"),
                                            ("潜在", "")]
        db.session.commit()
        flask_migrate.downgrade(revision="a18c0c0de018")
        rows = db.session.execute(text("SELECT grade FROM customers ORDER BY id")).scalars()
        assert list(rows) == ["大", "重要", "小", "潜在"]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    app.extensions["search"].close()
