"""A litigation case file is its own kind of dossier (000:824, issue 18): one volume in
filing order with its own 卷内目录, no customer groups a–e and no empty 销售/出租期 tables.
Filing into it keeps working, case files opened before keep theirs, and moving a
document into one lands in its volume."""

import pytest
from sqlalchemy import select

from archive.extensions import db
from archive.models import Dossier, Group
from archive.models.enums import GROUPS
from archive.services import customers, work
from archive.services.errors import Invalid
from tests.conftest import NUMBER_FORMAT, archive_state


@pytest.fixture
def case(app, users, make_customer):
    with work.unit(db.session):
        return customers.create_dossier(db.session, users["officer"], {
            "customer_id": make_customer().id, "kind": "case", "number": "(2024)粤0305民初1号",
            "title": "房屋质量纠纷案"}, number_format=NUMBER_FORMAT)


def test_a_case_file_is_one_volume(case, file_doc, login_as):
    assert [g.code for g in case.groups] == ["k"]
    complaint = file_doc(case, "民事起诉状", "诉讼")
    evidence = file_doc(case, "证据目录", "其他")
    legacy_client = file_doc(case, "民事判决书", "诉讼", group="c")  # as clients sent before
    assert [d.seq for d in (complaint, evidence, legacy_client)] == [1, 2, 3]
    assert {d.group.code for d in (complaint, evidence, legacy_client)} == {"k"}
    client = login_as("officer")
    page = client.get(f"/dossiers/{case.id}").get_data(as_text=True)
    index = client.get(f"/dossiers/{case.id}/index").get_data(as_text=True)
    for text in (page, index):
        assert "民事起诉状" in text and "证据目录" in text
        for name in GROUPS.values():
            assert name not in text, name
    upload = client.get(f"/dossiers/{case.id}/upload").get_data(as_text=True)
    assert 'name="group"' not in upload


def test_a_customer_dossier_keeps_its_groups(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    assert [g.code for g in dossier.groups] == list(GROUPS)
    assert file_doc(dossier, "维修记录", "维修").group.code == "b"


@pytest.mark.parametrize("kind, group", [("case", "x"), ("customer", "k")])
def test_a_group_the_dossier_has_not_is_refused(app, case, make_customer, make_dossier,
                                                  file_doc, kind, group):
    dossier = case if kind == "case" else make_dossier(make_customer("李娜"))
    before = archive_state(app)
    with pytest.raises(Invalid) as error:
        file_doc(dossier, "起诉状", "诉讼", group=group)
    assert "分组只能是" in error.value.message
    assert archive_state(app) == before


def test_a_case_file_opened_before_keeps_its_documents_and_takes_new_ones(
        app, users, make_customer, file_doc, login_as):
    customer = make_customer()
    old = Dossier(number="(2023)粤0305民初7号", kind="case", title="旧案",
                  customer_id=customer.id)
    old.groups = [Group(code=code) for code in GROUPS]  # laid out in a–e, as before
    db.session.add(old)
    db.session.commit()
    filed_before = file_doc(old, "旧判决书", "诉讼")  # filed now: into its own volume
    assert filed_before.group.code == "k" and filed_before.seq == 1
    in_c = db.session.execute(select(Group).where(Group.dossier_id == old.id,
                                                  Group.code == "c")).scalar_one()
    filed_before.group_id, filed_before.seq = in_c.id, 1  # as an old filing into c was
    db.session.commit()
    newer = file_doc(old, "执行裁定书", "诉讼")
    assert (newer.group.code, newer.seq) == ("k", 2)  # numbers are never reused
    page = login_as("officer").get(f"/dossiers/{old.id}").get_data(as_text=True)
    assert "旧判决书" in page and "执行裁定书" in page
    assert "销售、签约、办证及入伙资料" not in page and "出租期资料" not in page


def test_a_document_moved_into_a_case_file_lands_in_its_volume(call, case, make_customer,
                                                                make_dossier, file_doc):
    dossier = make_dossier(make_customer("李娜"))
    judgment = file_doc(dossier, "民事判决书", "诉讼")
    response = call("officer", "PATCH", f"/api/v1/documents/{judgment.id}",
                    json={"dossier_id": case.id, "group": "c", "reason": "应归入案卷"})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    moved = db.session.get(type(judgment), judgment.id)
    assert (moved.dossier_id, moved.group.code, moved.seq) == (case.id, "k", 1)
