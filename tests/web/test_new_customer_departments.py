"""登记客户 offers only the departments the user may register under (issue 18): a staff
member sees their own department (and one a GM grant opens), the archive room every
department; a department chosen anyway is refused with nothing changed."""

from datetime import timedelta

import pytest

from archive.clock import now
from archive.extensions import db
from archive.models import AccessGrant
from tests.conftest import archive_state


def _offered(page: str) -> set[str]:
    select = page.split('name="department"')[1].split("</select>")[0]
    return {name for name in ("销售经营部", "客服中心", "法律室", "总经理办公室") if name in select}


@pytest.mark.parametrize("who, offered", [
    ("staff", {"销售经营部"}),
    ("service", {"客服中心"}),
    ("legal", {"法律室"}),
    ("officer", {"销售经营部", "客服中心", "法律室", "总经理办公室"}),
])
def test_the_form_offers_only_what_the_user_may_choose(login_as, who, offered):
    assert _offered(login_as(who).get("/customers/new").get_data(as_text=True)) == offered


def test_a_grant_adds_its_department(login_as, users, departments):
    db.session.add(AccessGrant(user_id=users["staff"].id, department_id=departments["KF"].id,
                               valid_from=now() - timedelta(days=1),
                               valid_until=now() + timedelta(days=5),
                               approved_by_id=users["gm"].id))
    db.session.commit()
    page = login_as("staff").get("/customers/new").get_data(as_text=True)
    assert _offered(page) == {"销售经营部", "客服中心"}


def test_another_department_sent_anyway_is_refused(app, login_as, departments):
    client = login_as("staff")
    before = archive_state(app)
    response = client.post("/customers/new", data={"name": "张伟",
                                                   "department": departments["KF"].id})
    assert response.status_code == 403
    assert archive_state(app) == before
