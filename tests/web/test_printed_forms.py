"""封面, 卷内目录 and 备考表 as printed forms are the archive room's (issue 18): it prints
them at the dossier's true level. A reader with less clearance has the dossier page only,
so never holds a cover showing a lower level than the dossier really holds."""

import pytest

from tests.conftest import archive_state

FORMS = ("/cover", "/index", "/remarks")


@pytest.fixture
def dossier(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, "认购书", "销售")
    file_doc(dossier, "纠纷处理意见", "其他", classification="机密")
    file_doc(dossier, "和解协议", "其他", classification="绝密", actor="gm")
    return dossier


@pytest.mark.parametrize("who", ["staff", "head", "auditor", "gm"])
def test_others_have_the_page_but_not_the_forms(app, login_as, dossier, who):
    client = login_as(who)
    page = client.get(f"/dossiers/{dossier.id}")
    assert page.status_code == 200
    assert f"/dossiers/{dossier.id}/cover" not in page.get_data(as_text=True)
    before = archive_state(app)
    for form in FORMS:
        assert client.get(f"/dossiers/{dossier.id}{form}").status_code == 403, form
    assert archive_state(app) == before


@pytest.mark.parametrize("who", ["officer", "gmoffice"])
def test_the_archive_room_prints_them_at_the_true_level(login_as, dossier, who):
    client = login_as(who)
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert f"/dossiers/{dossier.id}/cover" in page
    cover = client.get(f"/dossiers/{dossier.id}/cover").get_data(as_text=True)
    assert 'level-mark">绝密' in cover  # the 绝密 item it may not open still sets the level
    index = client.get(f"/dossiers/{dossier.id}/index").get_data(as_text=True)
    assert "密级：绝密" in index and "和解协议" not in index
    assert client.get(f"/dossiers/{dossier.id}/remarks").status_code == 200
