"""A number issued before the unit's parts were normalised stays as printed until the
archive room renumbers the dossier, which keeps the old number in a dated 备考表 note
(issue 18). Search follows the new number; a number already in today's form, a case
file, or a reader outside the archive room is refused with nothing changed."""

import json

import pytest
from sqlalchemy import select

from archive.extensions import db
from archive.models import AuditEvent, Dossier, Unit
from archive.services import indexing
from tests.conftest import archive_state


@pytest.fixture
def legacy(app, make_customer, file_doc):
    customer = make_customer()
    unit = Unit(project="翠湖苑", building="6栋", unit_no="3单元", room="1402")
    db.session.add(unit)
    db.session.flush()
    dossier = Dossier(number="翠湖苑-6栋栋3单元单元1402", customer_id=customer.id, unit_id=unit.id,
                      title="张伟 旧档案")
    from archive.models import Group
    from archive.models.enums import GROUPS

    dossier.groups = [Group(code=code) for code in GROUPS]
    db.session.add(dossier)
    db.session.commit()
    document = file_doc(dossier, "认购书", "销售")
    indexing.index_after_commit(db.session, [document.id])
    return dossier


def _row(dossier_id):
    db.session.expire_all()
    row = db.session.get(Dossier, dossier_id)
    state = (row.number, row.remarks)
    db.session.commit()
    return state


def test_the_archive_room_renumbers_and_the_old_number_is_kept(login_as, legacy):
    client = login_as("officer")
    page = client.get(f"/dossiers/{legacy.id}").get_data(as_text=True)
    assert 'id="renumber"' in page
    response = client.post(f"/dossiers/{legacy.id}/renumber", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "已重新编号：翠湖苑-6栋栋3单元单元1402 → 翠湖苑-6栋3单元1402" in text
    number, remarks = _row(legacy.id)
    assert number == "翠湖苑-6栋3单元1402"
    assert "重新编号：原档案号 翠湖苑-6栋栋3单元单元1402，新档案号 翠湖苑-6栋3单元1402（李档案）" in remarks
    sheet = client.get(f"/dossiers/{legacy.id}/remarks").get_data(as_text=True)
    assert "原档案号 翠湖苑-6栋栋3单元单元1402" in sheet
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "dossier.renumbered")).scalar_one()
    assert json.loads(event.details) == {"old": "翠湖苑-6栋栋3单元单元1402",
                                         "new": "翠湖苑-6栋3单元1402"}
    db.session.commit()
    hits = client.get("/search?q=翠湖苑-6栋3单元1402").get_data(as_text=True)
    assert "认购书" in hits
    again = client.post(f"/dossiers/{legacy.id}/renumber", follow_redirects=True)
    assert "已是规范格式" in again.get_data(as_text=True)
    assert 'id="renumber"' not in client.get(f"/dossiers/{legacy.id}").get_data(as_text=True)


def test_others_may_not_renumber(app, login_as, legacy):
    before = (archive_state(app), _row(legacy.id))
    for who in ("staff", "head", "auditor", "gm"):
        client = login_as(who)
        assert 'id="renumber"' not in client.get(f"/dossiers/{legacy.id}").get_data(as_text=True)
        assert client.post(f"/dossiers/{legacy.id}/renumber").status_code == 403, who
    assert (archive_state(app), _row(legacy.id)) == before


def test_a_standard_number_or_a_case_file_is_not_renumbered(app, login_as, users, make_customer,
                                                            make_dossier):
    from archive.services import customers, work
    from tests.conftest import NUMBER_FORMAT

    standard = make_dossier(make_customer())
    with work.unit(db.session):
        case = customers.create_dossier(db.session, users["officer"], {
            "customer_id": standard.customer_id, "kind": "case", "number": "(2024)粤0305民初5号",
            "title": "纠纷案"}, number_format=NUMBER_FORMAT)
    client = login_as("officer")
    for dossier, message in ((standard, "已是规范格式"), (case, "诉讼案卷按案号编号")):
        before = _row(dossier.id)
        page = client.post(f"/dossiers/{dossier.id}/renumber", follow_redirects=True)
        assert message in page.get_data(as_text=True)
        assert _row(dossier.id) == before
