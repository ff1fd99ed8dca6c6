"""What a reader may not open leaves no trace: not in the level a dossier shows, not in the
dashboard's count of dossiers."""

import pytest

from archive.extensions import db
from archive.models import Dossier, User
from archive.services import access, grants


@pytest.fixture
def xs_dossier(make_customer, make_dossier, file_doc):
    """A 内部 dossier of the sales department holding a 机密 document."""
    dossier = make_dossier(make_customer("张伟", "XS"))
    file_doc(dossier, "认购书", "销售")
    file_doc(dossier, "纠纷处理意见", "其他", classification="机密")
    db.session.commit()
    return dossier


def test_a_dossier_shows_no_level_of_a_document_the_reader_may_not_open(
        client, login_as, api, xs_dossier):
    staff = login_as("staff")
    page = staff.get(f"/dossiers/{xs_dossier.id}").get_data(as_text=True)
    assert "纠纷处理意见" not in page
    assert 'class="level l3"' not in page and 'class="level l1">内部' in page
    customer_page = staff.get(f"/customers/{xs_dossier.customer_id}").get_data(as_text=True)
    assert 'class="level l3"' not in customer_page
    # The printed forms are the archive room's, at the true level (not the staff's).
    assert staff.get(f"/dossiers/{xs_dossier.id}/cover").status_code == 403
    assert staff.get(f"/dossiers/{xs_dossier.id}/index").status_code == 403
    body = client.get(f"/api/v1/dossiers/{xs_dossier.id}", headers=api("staff")).json
    assert body["level"]["label"] == "内部"
    # The archive room, cleared for it, sees the dossier at its document's level.
    body = client.get(f"/api/v1/dossiers/{xs_dossier.id}", headers=api("officer")).json
    assert body["level"]["label"] == "机密"


def _dashboard_dossiers(client) -> int:
    page = client.get("/").get_data(as_text=True)
    stats = page[page.index('class="stats"'):]
    return int(stats.split("<b>")[2].split("</b>")[0])


def test_dashboard_counts_only_dossiers_the_user_may_open(login_as, make_customer, make_dossier):
    customer = make_customer("张伟", "XS")
    make_dossier(customer)
    make_dossier(customer, room="0801", classification="秘密")
    db.session.commit()
    assert _dashboard_dossiers(login_as("staff_public")) == 0  # 公开 clearance
    assert _dashboard_dossiers(login_as("staff")) == 1
    assert _dashboard_dossiers(login_as("head")) == 2
    assert _dashboard_dossiers(login_as("service")) == 0  # another department


def test_dossier_filter_agrees_with_can(users, make_customer, make_dossier):
    xs, kf = make_customer("张伟", "XS"), make_customer("李娜", "KF")
    for i, level in enumerate(["公开", "内部", "秘密", "机密"]):
        make_dossier(xs, room=f"0{i}01", classification=level)
        make_dossier(kf, room=f"0{i}02", classification=level)
    top = make_dossier(xs, room="0901", classification="机密")
    top.classification = 4  # 绝密, as a level change would leave it
    db.session.commit()
    grants.designate(db.session, users["gm"], {"user": "staff", "dossier_id": top.id})
    everything = db.session.query(Dossier).all()
    for user in db.session.query(User).all():
        condition = access.dossier_filter(user)
        query = db.session.query(Dossier.id)
        found = {i for (i,) in (query if condition is None else query.filter(condition))}
        assert found == {d.id for d in everything if access.can(user, "dossier.view", d)}, \
            user.username
