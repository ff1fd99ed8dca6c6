"""Transfers through the pages: staff prepare a batch from what their department holds,
the archive room receives it counting item by item (a short item goes back), the printed
清单 carries both signatures, and a handover is signed once nothing is outstanding."""

import pytest
from sqlalchemy import select

from archive import clock
from archive.extensions import db
from archive.models import Document, TransferBatch


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_prepare_receive_and_print(client, login_as, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("孔移交"))
    a = file_doc(dossier, "认购书", "销售", actor="staff", pages="3")
    b = file_doc(dossier, "维修单", "维修", actor="staff", pages="2")
    login_as("staff")
    assert "认购书" in _page(client, "/transfers/new")
    assert "部门保管（待移交）" in _page(client, f"/documents/{a.id}")
    made = client.post("/transfers", data={"items": [str(a.id), str(b.id)],
                                           f"pages-{a.id}": "3", f"pages-{b.id}": "2",
                                           "submit": "1"})
    assert made.status_code == 302
    batch = db.session.execute(select(TransferBatch)).scalar_one()
    assert batch.status == "submitted"

    login_as("officer")
    page = _page(client, f"/transfers/{batch.id}")
    assert f'name="count-{a.id}"' in page and "清点无误，签收" in page
    received = client.post(f"/transfers/{batch.id}/receive", data={
        f"count-{a.id}": "1", f"pages-{a.id}": "3", f"count-{b.id}": "1", f"pages-{b.id}": "1",
        f"note-{b.id}": "少一页"})
    assert received.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Document, a.id).custody, db.session.get(Document, b.id).custody) == (
        "archive", "department")
    sheet = _page(client, f"/transfers/{batch.id}/form")
    assert "王销售" in sheet and "李档案" in sheet and "件数或页数不符" in sheet
    listing = _page(client, "/transfers")  # the short item went back as a new draft batch
    assert listing.count("data-batch=") == 2 and 'data-status="draft"' in listing
    csv_text = client.get("/transfers/register.csv").get_data(as_text=True)
    assert "认购书" in csv_text and "少一页" in csv_text


def test_a_handover_page_lists_what_is_held_and_is_signed(client, login_as, make_customer,
                                                          make_dossier, file_doc):
    dossier = make_dossier(make_customer("孔交接"))
    held = file_doc(dossier, "来函", "其他", actor="staff")
    login_as("head")
    opened = client.post("/handovers", data={"person": "staff", "receiver": "staff_secret",
                                             "kind": "leave"})
    assert opened.status_code == 302
    login_as("staff_secret")
    listed = _page(client, "/handovers")
    handover_id = int(listed.split('data-handover="')[1].split('"')[0])
    page = _page(client, f"/handovers/{handover_id}")
    assert "来函" in page and "接收人签收" in page
    assert client.post(f"/handovers/{handover_id}/sign").status_code == 302
    db.session.expire_all()
    assert db.session.get(Document, held.id).custody_holder.username == "staff_secret"
    assert "已签收" in _page(client, f"/handovers/{handover_id}")
