"""Transfers through the API: a department's documents wait in its custody with a
deadline from the rules (working days from the calendar), a batch is submitted and
received with per-item counts (what does not reconcile goes back as a new batch), both
sides are recorded, and every wrong step is refused with nothing changed; a handover stays
open while the person still has a batch waiting for its receipt."""

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from archive import clock
from archive.extensions import db
from archive.models import Document, TransferBatch, TransferItem


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("魏移交"))


def _doc(document_id):
    db.session.expire_all()
    return db.session.get(Document, document_id)


def _state():
    db.session.expire_all()
    return (db.session.execute(select(func.count()).select_from(TransferBatch)).scalar(),
            db.session.execute(select(func.count()).select_from(TransferItem)).scalar(),
            sorted(db.session.execute(select(Document.id, Document.custody,
                                             Document.custody_holder_id)).all()))


def test_what_staff_file_waits_in_their_department_with_a_deadline(dossier, file_doc, users):
    # 000:750: within 5 working days of the subscription; the 2025 国庆 holidays and the
    # Sunday worked in exchange (9-28) come from the calendar.
    sale = file_doc(dossier, "认购书", "销售", actor="staff", date="2025-09-26")
    assert (sale.custody, sale.custody_department_id, sale.custody_holder_id) == (
        "department", users["staff"].department_id, users["staff"].id)
    assert sale.transfer_due_on == date(2025, 10, 10)
    # 003:39: the 10th of the next month, moved to a working day.
    letter = file_doc(dossier, "客户来函", "其他", actor="staff")
    assert letter.transfer_due_on == date(2027, 1, 11)  # 2027-01-10 is a Sunday
    # No project move-in date: no deadline, never a guess (000:758-760).
    card = file_doc(dossier, "房产证复印件", "办证", actor="staff")
    assert card.transfer_rule == "move_in" and card.transfer_due_on is None
    kept = file_doc(dossier, "合同", "签约")  # the archive room files into its own custody
    assert (kept.custody, kept.transfer_due_on) == ("archive", None)


def test_a_batch_is_received_item_by_item_and_the_rest_goes_back(call, dossier, file_doc):
    a = file_doc(dossier, "认购书", "销售", actor="staff", pages="3")
    b = file_doc(dossier, "合同", "签约", actor="staff", pages="10")
    made = call("staff", "POST", "/api/v1/transfers",
                {"items": [a.id, {"document_id": b.id, "count": 1, "pages": 10}],
                 "note": "十一月资料"})
    assert made.status_code == 201, made.json
    batch = made.json
    assert batch["status"]["key"] == "draft" and batch["number"].startswith("YJ")
    submitted = call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    assert submitted.json["status"]["key"] == "submitted"
    # The sender cannot sign the receipt; the archive room does, counting.
    own = call("staff", "POST", f"/api/v1/transfers/{batch['id']}/receive", {"items": []})
    assert own.status_code == 403
    received = call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": a.id, "count": 1, "pages": 3},
                  {"document_id": b.id, "count": 1, "pages": 9, "note": "缺第10页"}],
        "note": "已清点"})
    assert received.status_code == 200, received.json
    body = received.json
    assert body["status"]["key"] == "partly_received"
    assert (body["prepared_by"]["username"], body["received_by"]["username"]) == (
        "staff", "officer")
    assert body["submitted_at"] and body["received_at"]
    assert [i["outcome"]["key"] for i in body["items"]] == ["received", "short"]
    assert (_doc(a.id).custody, _doc(b.id).custody) == ("archive", "department")
    back = call("staff", "GET", "/api/v1/transfers?status=draft").json["transfers"]
    assert len(back) == 1 and back[0]["returned_from_id"] == batch["id"]
    assert "缺第10页" in back[0]["return_reason"]
    assert [i["document_id"] for i in back[0]["items"]] == [b.id]
    rows = list(csv.reader(io.StringIO(call("officer", "GET",
                                            "/api/v1/transfers/register.csv").data.decode())))
    assert rows[0][0].lstrip("\ufeff") == "移交清单" and len(rows) == 3


def test_wrong_steps_are_refused_and_change_nothing(call, dossier, file_doc, make_customer,
                                                    make_dossier):
    mine = file_doc(dossier, "认购书", "销售", actor="staff")
    archived = file_doc(dossier, "合同", "签约")
    other = file_doc(make_dossier(make_customer("客服客户", department="KF")), "维修单", "维修",
                     actor="service")
    before = _state()
    cases = [
        ("staff", {"items": []}, 422),
        ("staff", {"items": [archived.id]}, 409),  # already in the archive's custody
        ("staff", {"items": [other.id]}, 404),  # another department's: not even visible
        ("staff", {"items": [mine.id, mine.id]}, 422),
        ("staff", {"items": [{"document_id": mine.id, "pages": -1}]}, 422),
        ("officer", {"items": [mine.id]}, 403),  # the archive room does not send
        ("auditor", {"items": [mine.id]}, 403),
    ]
    for user, body, status in cases:
        response = call(user, "POST", "/api/v1/transfers", body)
        assert response.status_code == status, (user, body, response.json)
    assert _state() == before
    batch = call("staff", "POST", "/api/v1/transfers", {"items": [mine.id]}).json
    assert call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive",
                {"items": []}).status_code == 409  # a draft is not received
    call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    again = call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    assert again.status_code == 409 and again.json["error"]["code"] == "not_draft"
    twice = call("staff", "POST", "/api/v1/transfers", {"items": [mine.id]})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "in_batch"
    stranger = call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive",
                    {"items": [{"document_id": archived.id, "count": 1}]})
    assert stranger.status_code == 422
    assert call("service", "GET", f"/api/v1/transfers/{batch['id']}").status_code == 404
    state = _state()
    assert call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive",
                {"items": [{"document_id": mine.id, "count": "x"}]}).status_code == 422
    assert _state() == state


def test_a_handover_stays_open_while_a_batch_waits_for_its_receipt(call, dossier, file_doc,
                                                                   users):
    held = file_doc(dossier, "认购书", "销售", actor="staff")
    other = file_doc(dossier, "来函", "其他", actor="staff")
    batch = call("staff", "POST", "/api/v1/transfers", {"items": [held.id], "submit": True}).json
    assert batch["status"]["key"] == "submitted"
    opened = call("head", "POST", "/api/v1/handovers", {
        "person": "staff", "receiver": "staff_secret", "kind": "leave", "reason": "离职"})
    assert opened.status_code == 201, opened.json
    handover = opened.json
    assert handover["outstanding"]["batches"] == [batch["number"]]
    assert sorted(handover["outstanding"]["documents"]) == sorted([held.id, other.id])
    url = f"/api/v1/handovers/{handover['id']}/sign"
    assert call("staff", "POST", url).status_code == 403  # the receiver signs
    waiting = call("staff_secret", "POST", url)
    assert waiting.status_code == 409 and waiting.json["error"]["code"] == "batches_pending"
    assert call("officer", "GET", "/api/v1/handovers").json["handovers"][0]["open"] is True
    call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive",
         {"items": [{"document_id": held.id, "count": 1, "pages": None}]})
    signed = call("staff_secret", "POST", url)
    assert signed.status_code == 200 and signed.json["open"] is False
    assert _doc(other.id).custody_holder_id == users["staff_secret"].id
    assert _doc(held.id).custody == "archive"
    assert call("staff_secret", "POST", url).status_code == 409
    assert call("staff", "POST", "/api/v1/handovers", {
        "person": "head", "receiver": "staff"}).status_code == 403


def test_a_move_in_date_gives_move_in_material_its_deadline(client, login_as, dossier,
                                                            file_doc):
    card = file_doc(dossier, "房产证复印件", "办证", actor="staff")
    assert card.transfer_due_on is None
    login_as("staff")
    assert client.post("/transfers/move-in", data={"project": "翠湖苑",
                                                   "move_in_on": "2026-09-15"}).status_code == 403
    login_as("admin")
    assert client.post("/transfers/move-in", data={"project": "翠湖苑",
                                                   "move_in_on": "2026-09-15"}).status_code == 302
    # A month after the move-in (2026-10-15) has passed when it was filed: quarterly,
    # the end of this quarter (000:758-760).
    assert _doc(card.id).transfer_due_on == date(2026, 12, 31)
    assert client.post("/transfers/rules", data={"key": "move_in", "trigger": "move_in",
                                                 "workdays": "0", "months": "4"}).status_code == 302
    assert _doc(card.id).transfer_due_on == date(2027, 1, 15)


def _receives(code: str, categories: str) -> None:
    from archive.models import Department
    from archive.services import organisation, work

    with work.unit(db.session):
        department = db.session.execute(
            select(Department).where(Department.code == code)).scalar_one()
        organisation.update_department(db.session, None, department, {"receives": categories})


def test_a_receiving_unit_receives_only_its_categories(call, dossier, file_doc, users):
    """000:750: the sales site hands its material to 客户事务组, a department the
    administrator makes a receiving unit of the 销售 category; anything else, and any
    department that is not a receiving unit, is refused with nothing changed."""
    sale = file_doc(dossier, "认购书", "销售", actor="staff", pages="2")
    repair = file_doc(dossier, "维修记录", "维修", actor="staff")
    kf, fl = users["service"].department_id, users["legal"].department_id
    _receives("KF", "销售")
    before = _state()
    for body, code in [
        ({"items": [sale.id], "to_department_id": fl}, "not_a_receiver"),
        ({"items": [sale.id, repair.id], "to_department_id": kf}, "not_received_here"),
    ]:
        refused = call("staff", "POST", "/api/v1/transfers", body)
        assert refused.status_code == 422 and refused.json["error"]["code"] == code, refused.json
    assert "请移交档案室" in refused.json["error"]["message"]
    assert _state() == before

    batch = call("staff", "POST", "/api/v1/transfers",
                 {"items": [sale.id], "to_department_id": kf}).json
    assert batch["to"] == {"id": kf, "name": "客服中心"}
    # The administrator takes the category away before the batch is sent: refused then.
    _receives("KF", "")
    state = _state()
    late = call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    assert late.status_code == 422 and late.json["error"]["code"] == "not_received_here"
    assert _state() == state
    _receives("KF", "销售,签约")
    assert call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit").status_code == 200
    # The archive room does not receive for a department; its own head does, once the GM
    # has let them read the sending department's customer files (002:67): until then they
    # are told why, and nothing changes.
    assert call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive",
                {"items": []}).status_code == 403
    state = _state()
    blind = call("service_head", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": sale.id, "count": 1, "pages": 2}]})
    assert blind.status_code == 403 and "总经理授权" in blind.json["error"]["message"]
    assert "认购书" not in blind.json["error"]["message"]
    assert _state() == state
    granted = call("gm", "POST", "/api/v1/grants", {
        "user": "service_head", "department": "XS", "reason": "客户事务组接收销售资料",
        "valid_until": (clock.today() + timedelta(days=300)).isoformat()})
    assert granted.status_code == 201, granted.json
    received = call("service_head", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": sale.id, "count": 1, "pages": 2}]})
    assert received.status_code == 200, received.json
    held = _doc(sale.id)
    assert (held.custody, held.custody_department_id) == ("department", kf)


@pytest.mark.parametrize("note", ["x" * 100_000, ["缺"], {"说明": "缺"}])
def test_a_missing_items_note_is_checked_like_every_other(call, dossier, file_doc, note):
    """A note on an item marked missing was stored as given: any length, a list as its
    Python text (found by a probe of the running app)."""
    a = file_doc(dossier, "认购书", "销售", actor="staff", pages="3")
    batch = call("staff", "POST", "/api/v1/transfers", {"items": [a.id]}).json
    call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    answer = call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": a.id, "missing": True, "note": note}]})
    assert answer.status_code == 422, answer.json
    assert call("officer", "GET", f"/api/v1/transfers/{batch['id']}").json["status"]["key"] == \
        "submitted"


def test_the_register_csv_writes_a_formula_like_title_as_text(call, client, api, dossier,
                                                              file_doc):
    """What users typed reaches the 移交登记簿: a title a spreadsheet would run as a formula
    is written with a leading apostrophe, as the other exports do (found by a probe)."""
    a = file_doc(dossier, '=HYPERLINK("http://x")', "销售", actor="staff", pages="3")
    batch = call("staff", "POST", "/api/v1/transfers", {"items": [a.id]}).json
    call("staff", "POST", f"/api/v1/transfers/{batch['id']}/submit")
    received = call("officer", "POST", f"/api/v1/transfers/{batch['id']}/receive", {
        "items": [{"document_id": a.id, "count": 1, "pages": 3}]})
    assert received.status_code == 200, received.json
    text = client.get("/api/v1/transfers/register.csv", headers=api("officer")).get_data(
        as_text=True)
    assert '\'=HYPERLINK(""http://x"")' in text and ',=HYPERLINK' not in text


def test_a_handover_goes_only_to_someone_who_may_read_what_is_handed_over(
        call, make_customer, make_dossier, file_doc):
    """Handovers were signed to the administrator, or across departments, leaving documents
    held by someone who gets 404 on them (found by a black-box probe)."""
    kf = make_dossier(make_customer("客服交接客户", department="KF"), room="1203")
    file_doc(kf, "报修单", "维修", actor="service")
    state = _state()
    for receiver in ("admin", "auditor"):
        refused = call("officer", "POST", "/api/v1/handovers",
                       {"person": "service", "receiver": receiver, "kind": "leave"})
        assert refused.status_code == 422, receiver
        assert refused.json["error"]["details"]["field"] == "receiver"
    elsewhere = call("officer", "POST", "/api/v1/handovers",
                     {"person": "service", "receiver": "staff", "kind": "move"})
    assert elsewhere.status_code == 422 and "1 份文件" in elsewhere.json["error"]["message"]
    assert "报修单" not in elsewhere.get_data(as_text=True)
    assert _state() == state
    assert call("officer", "POST", "/api/v1/handovers",
                {"person": "service", "receiver": "gmoffice", "kind": "leave"}).status_code == 201
