"""Customer codes the archive gives follow one configurable form (CUSTOMER_CODE_FORMAT,
default KH{year}{seq:04d}): the next number after the highest used under this year's
prefix, typed or generated. A broken format is refused with nothing changed."""

import pytest

from archive.clock import today
from archive.extensions import db
from archive.services import customers, work
from archive.services.errors import Invalid
from tests.conftest import archive_state


def test_generated_codes_follow_the_default_form(app, make_customer, login_as, departments):
    year = today().year
    assert app.config["CUSTOMER_CODE_FORMAT"] == "KH{year}{seq:04d}"
    assert make_customer("张伟").code == f"KH{year}0001"
    assert make_customer("李娜").code == f"KH{year}0002"
    make_customer("王芳", code=f"KH{year}0041")  # typed in the same form
    make_customer("刘洋", code="老客户-7")  # typed in another: not counted
    page = login_as("officer").post("/customers/new", data={
        "name": "陈静", "department": departments["XS"].id})
    assert page.status_code == 302
    created = db.session.query(customers.Customer).filter_by(name="陈静").one()
    assert created.code == f"KH{year}0042"


def test_the_form_is_configurable(app, call, departments):
    app.config["CUSTOMER_CODE_FORMAT"] = "SZ-{year}-{seq:05d}"
    response = call("officer", "POST", "/api/v1/customers", json={
        "name": "张伟", "department": departments["XS"].id})
    assert response.status_code == 201
    assert response.get_json()["code"] == f"SZ-{today().year}-00001"


@pytest.mark.parametrize("fmt", ["KH{year}", "KH{seq}{seq}", "KH{room}{seq}", "KH{seq", "KH{seq:s}"])
def test_a_broken_format_is_refused_and_nothing_changes(app, users, departments, fmt):
    before = archive_state(app)
    with pytest.raises(Invalid) as error, work.unit(db.session):
        customers.create_customer(db.session, users["officer"], {
            "name": "张伟", "department": departments["XS"].id}, code_format=fmt)
    assert "客户编号格式配置错误" in error.value.message
    assert archive_state(app) == before
