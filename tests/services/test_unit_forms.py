"""栋号 and 单元 typed the natural way ("6栋", "3单元") or bare ("6", "3") name one unit and
give one dossier number (issue 18): never 翠湖苑-6栋栋3单元单元1402. Numbers issued before
keep their printed form."""

import pytest
from sqlalchemy import select

from archive.extensions import db
from archive.models import Dossier, Unit
from archive.services import customers, work
from archive.services.errors import Conflict, Invalid
from tests.conftest import NUMBER_FORMAT, archive_state


@pytest.mark.parametrize("building, unit_no, room", [
    ("6栋", "3单元", "1402"), ("6", "3", "1402"), ("６栋", "３ 单元", "１４０２"), (6, 3, 1402),
])
def test_both_forms_give_one_number(make_customer, make_dossier, building, unit_no, room):
    dossier = make_dossier(make_customer(), building=building, unit_no=unit_no, room=room)
    assert dossier.number == "翠湖苑-6栋3单元1402"
    assert (dossier.unit.building, dossier.unit.unit_no, dossier.unit.room) == ("6", "3", "1402")


def test_the_two_forms_are_one_unit(make_customer, make_dossier):
    first = make_dossier(make_customer("张伟"), building="6栋", unit_no="3单元", room="1402")
    second = make_dossier(make_customer("李娜"), building="6", unit_no="3", room="1402")
    assert first.unit_id == second.unit_id
    assert second.number == "翠湖苑-6栋3单元1402-2"  # the unit's next buyer (销售历史)
    with pytest.raises(Conflict):  # 一户一档, whichever form is typed
        make_dossier(first.customer, building="6", unit_no="3单元", room="1402")


def test_a_number_issued_before_stays_as_printed(app, make_customer, make_dossier, users):
    customer = make_customer()
    legacy = Unit(project="翠湖苑", building="6栋", unit_no="3单元", room="1402")
    db.session.add(legacy)
    db.session.flush()
    issued = Dossier(number="翠湖苑-6栋栋3单元单元1402", customer_id=customer.id,
                     unit_id=legacy.id, title="旧档案")
    db.session.add(issued)
    db.session.commit()
    before = archive_state(app)
    with pytest.raises(Conflict):  # the same customer and unit, typed either way
        make_dossier(customer, building="6栋", unit_no="3单元", room="1402")
    assert archive_state(app) == before
    other = make_dossier(make_customer("李娜"), building="6", unit_no="3", room="1402")
    assert other.unit_id == legacy.id
    db.session.expire_all()
    assert db.session.get(Dossier, issued.id).number == "翠湖苑-6栋栋3单元单元1402"


@pytest.mark.parametrize("field, value, message", [
    ("building", "栋", "请填写栋号"), ("unit_no", "单元", "请填写单元"), ("room", " ", "请填写房号"),
])
def test_a_part_that_is_only_its_word_is_refused(app, make_customer, users, field, value,
                                                  message):
    customer = make_customer()
    before = archive_state(app), db.session.query(Unit).count()
    data = {"customer_id": customer.id, "project": "翠湖苑", "building": "6", "unit_no": "3",
            "room": "1402", field: value}
    with pytest.raises(Invalid) as error, work.unit(db.session):
        customers.create_dossier(db.session, users["officer"], data, number_format=NUMBER_FORMAT)
    assert message in error.value.message
    assert (archive_state(app), db.session.query(Unit).count()) == before
    assert not db.session.execute(select(Dossier.id).where(Dossier.customer_id == customer.id)
                                  ).first()
