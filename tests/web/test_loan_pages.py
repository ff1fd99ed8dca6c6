"""Lending through the pages: a request from the dossier page (whole, one group, chosen
documents), form errors that keep what was typed and change nothing, the counter's flow
with the database checked, the register (print page and CSV, compared with rows written
by hand) with its date range, and who may open the counter and the register."""

import csv
import io
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from archive import clock
from archive.extensions import db
from archive.models import ApprovalRequest, Loan, LossReport


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


def _at(moment: str) -> None:
    """Move the clock to a fixed local time (before logging in: sessions read it)."""
    clock.reset()
    clock.travel(datetime.fromisoformat(moment) - clock.now())


@pytest.fixture
def paper(make_customer, make_dossier, file_doc):
    """A 销售经营部 customer's dossier: two paper originals in group a (3 and 4 pages) and
    one in group b (2 pages)."""
    dossier = make_dossier(make_customer("宋借阅"))
    docs = [file_doc(dossier, "宋借阅 认购书", pages="3"),
            file_doc(dossier, "宋借阅 合同", "签约", pages="4"),
            file_doc(dossier, "宋借阅 维修单", "维修", pages="2")]
    return dossier, docs


def _counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.execute(select(func.count()).select_from(model)).scalar_one()
                 for model in (Loan, ApprovalRequest, LossReport))


def _ask(client, dossier, **form):
    data = {"scope": "whole", "kind": "read", "purpose": "核对签约资料", **form}
    return client.post(f"/dossiers/{dossier.id}/loans/new", data=data)


def _last_loan() -> Loan:
    db.session.expire_all()
    return db.session.execute(select(Loan).order_by(Loan.id.desc())).scalars().first()


def _flashes(page: str) -> list[str]:
    return re.findall(r'<div class="flash [a-z]+" role="[a-z]+"[^>]*>([^<]*)</div>', page)


def test_the_dossier_page_links_to_the_request_form(login_as, paper):
    dossier, docs = paper
    page = login_as("staff").get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert f'href="/dossiers/{dossier.id}/loans/new"' in page
    form = login_as("staff").get(f"/dossiers/{dossier.id}/loans/new").get_data(as_text=True)
    assert all(f'name="document_ids" value="{d.id}"' in form for d in docs)
    # auditors only read the register: no request link for them
    page = login_as("auditor").get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "/loans/new" not in page


@pytest.mark.parametrize("scope, extra, expected", [
    ("whole", {}, [0, 1, 2]),
    ("group", {"group": "b"}, [2]),
    ("documents", {"document_ids": "chosen"}, [0, 1]),
])
def test_request_through_the_form(login_as, paper, scope, extra, expected):
    dossier, docs = paper
    if extra.get("document_ids") == "chosen":
        extra = {"document_ids": [str(docs[0].id), str(docs[1].id)]}
    client = login_as("staff")
    response = _ask(client, dossier, scope=scope, **extra)
    loan = _last_loan()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/loans/{loan.id}"
    assert sorted(i.document_id for i in loan.items) == sorted(docs[n].id for n in expected)
    assert (loan.status, loan.kind, loan.borrower.username, loan.purpose) == (
        "requested", "read", "staff", "核对签约资料")
    page = client.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert "借阅申请 " + loan.number + " 已提交，等待审批" in page
    assert page.count("<tr data-document=") == len(expected)


@pytest.mark.parametrize("form, message", [
    ({"purpose": ""}, "借阅用途"),
    ({"due": "2099-01-01"}, "借阅期限超出规定"),
    ({"due": "明天"}, "应还日期格式应为 YYYY-MM-DD"),
    ({"scope": "documents"}, "请勾选要借阅的文件"),
    ({"scope": "group", "group": ""}, "请选择要借阅的分组"),
    ({"kind": "steal"}, "借阅方式只能是"),
])
def test_form_errors_keep_the_input_and_change_nothing(login_as, paper, form, message):
    dossier, docs = paper
    before = _counts()
    typed = {"purpose": "核对<签约>资料", "due": "2099-01-01", **form}
    if form.get("scope") != "documents":
        typed.setdefault("document_ids", [str(docs[1].id)])
    response = _ask(login_as("staff"), dossier, **typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert _counts() == before
    # what was typed is back in the form, escaped
    if typed["purpose"]:
        assert ">核对&lt;签约&gt;资料</textarea>" in page
    assert f'value="{typed["due"]}"' in page
    if "document_ids" in typed:
        assert f'value="{docs[1].id}" id="doc-{docs[1].id}" checked' in page


def test_the_counter_flow_through_the_pages(login_as, paper):
    dossier, docs = paper
    _ask(login_as("staff"), dossier, kind="out", scope="group", group="a")
    loan = _last_loan()
    request_id = db.session.execute(select(ApprovalRequest.id).where(
        ApprovalRequest.loan_id == loan.id)).scalar_one()
    officer = login_as("officer")
    assert f'data-loan="{loan.id}"' not in officer.get("/loans/counter").get_data(as_text=True)
    # checkout before approval: flashed, nothing changed
    page = officer.post(f"/loans/{loan.id}/checkout", data={"items": "2", "pages": "7"},
                        follow_redirects=True).get_data(as_text=True)
    assert "借阅待审批，不能出借" in _flashes(page)
    assert _last_loan().status == "requested"
    # 002:942: the head, then the GM-office director, through the inbox
    login_as("head").post(f"/approvals/{request_id}/approve", data={"note": "同意"})
    login_as("gmoffice").post(f"/approvals/{request_id}/approve", data={"note": "准予借出"})
    assert _last_loan().status == "approved"

    officer = login_as("officer")
    counter = officer.get("/loans/counter").get_data(as_text=True)
    assert f'<tr data-loan="{loan.id}" data-status="approved"' in counter
    # a miscount is refused with the list's count, nothing changed
    page = officer.post(f"/loans/{loan.id}/checkout", data={"items": "1", "pages": "7"},
                        follow_redirects=True).get_data(as_text=True)
    assert "出借件数应为 2（借阅清单所列），实点 1" in _flashes(page)
    assert (_last_loan().status, _last_loan().items_out) == ("approved", None)
    page = officer.post(f"/loans/{loan.id}/checkout", data={"items": "2", "pages": "7"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已出借，已登记件数和页数" in _flashes(page)
    out = _last_loan()
    assert (out.status, out.items_out, out.pages_out, out.out_by.username) == (
        "out", 2, 7, "officer")
    # back one page short: returned, with a damage report on the loan
    page = officer.post(f"/loans/{loan.id}/return", data={
        "items": "2", "pages": "6", "condition": "缺一页", "effect": "核对合同条款"},
        follow_redirects=True).get_data(as_text=True)
    back = _last_loan()
    assert (back.status, back.items_back, back.pages_back, back.effect) == (
        "returned", 2, 6, "核对合同条款")
    assert [(r.what, r.count) for r in back.reports] == [("damaged", 1)]
    assert "遗失/损毁" in page
    report = back.reports[0]
    officer.post(f"/loans/reports/{report.id}/close", data={"outcome": "found",
                                                          "note": "夹在合同中"})
    db.session.expire_all()
    assert (report.outcome, report.closing_note) == ("found", "夹在合同中")
    # returning twice is refused on the page and changes nothing
    page = officer.post(f"/loans/{loan.id}/return", data={"items": "2", "pages": "7"},
                        follow_redirects=True).get_data(as_text=True)
    assert "该借阅未出借，不能归还" in _flashes(page)
    assert _last_loan().pages_back == 6


def test_the_register_csv_has_the_rows_written_by_hand(login_as, paper, api):
    api_headers = api
    dossier, docs = paper
    _at("2031-03-03 09:30:00")
    _ask(login_as("staff"), dossier, kind="out", purpose="核对签约资料", due="2031-03-10")
    first = _last_loan()
    request_id = db.session.execute(select(ApprovalRequest.id).where(
        ApprovalRequest.loan_id == first.id)).scalar_one()
    login_as("head").post(f"/approvals/{request_id}/approve", data={"note": "同意"})
    login_as("gmoffice").post(f"/approvals/{request_id}/approve", data={"note": ""})
    login_as("officer").post(f"/loans/{first.id}/checkout", data={"items": "3", "pages": "9"})
    # back the next week; then the head borrows one of them directly (002:869) and loses it
    _at("2031-03-11 13:00:00")
    officer = login_as("officer")  # a day idle ends a session
    officer.post(f"/loans/{first.id}/return", data={"items": "3", "pages": "9",
                                                    "condition": "完好", "effect": "核对签约"})
    _at("2031-03-11 14:00:00")
    _ask(login_as("head"), dossier, scope="documents", document_ids=[str(docs[2].id)],
         purpose="=处理投诉", due="2031-03-20")
    second = _last_loan()
    officer = login_as("officer")
    officer.post(f"/loans/{second.id}/checkout", data={"items": "1", "pages": "2"})
    _at("2031-03-12 10:00:00")
    officer = login_as("officer")
    officer.post(f"/loans/{second.id}/return", data={"items": "0", "pages": "0"})
    _at("2031-03-12 11:00:00")

    response = login_as("officer").get("/loans/register.csv")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0] == ["借阅人", "部门/单位", "联系方式", "借阅日期", "应还日期", "实际归还日期",
                       "档号", "题名", "密级", "用途", "审批人及意见", "出借件数/页数",
                       "归还件数/页数", "状态", "备注"]
    n1, n2 = first.number, second.number
    assert rows[1:] == [
        ["王销售", "销售经营部", "", "2031-03-03", "2031-03-10", "2031-03-11", dossier.number,
         "宋借阅 认购书；宋借阅 合同；宋借阅 维修单", "内部", "核对签约资料",
         "陈经理 同意（同意）；周主任 同意", "3/9", "3/9", "已归还",
         f"{n1}；借出；归还状况：完好；利用效果：核对签约"],
        ["陈经理", "销售经营部", "", "2031-03-11", "2031-03-20", "2031-03-12", dossier.number,
         "宋借阅 维修单", "内部", "'=处理投诉", "直接借阅（002:869）", "1/2", "0/0", "遗失",
         f"{n2}；阅览；遗失报告（未结案）：出借 1 件 2 页，归还 0 件 0 页"],
    ]
    # the API gives the same rows
    api = login_as("officer").get("/api/v1/loans/register", headers=api_headers("officer"))
    assert api.json["columns"] == rows[0]
    assert [r["cells"] for r in api.json["rows"]] == [
        [cell.removeprefix("'") for cell in row] for row in rows[1:]]
    assert [r["number"] for r in api.json["rows"]] == [n1, n2]
    # the date range filters on the day lent; the page shows the same rows
    only = login_as("officer").get("/loans/register.csv?start=2031-03-04&end=2031-03-31")
    assert [r[3] for r in list(csv.reader(io.StringIO(only.get_data(as_text=True)[1:])))[1:]
            ] == ["2031-03-11"]
    page = login_as("officer").get("/loans/register?start=2031-03-01&end=2031-03-10")
    text = page.get_data(as_text=True)
    assert f'data-loan="{first.id}"' in text and f'data-loan="{second.id}"' not in text
    # overdue shows as 逾期 (the second is returned; the first is back, so borrow again)
    bad = login_as("officer").get("/loans/register?start=2031-03-10&end=2031-03-01")
    assert bad.status_code == 422 and "截止日期不能早于起始日期" in bad.get_data(as_text=True)
    assert login_as("officer").get("/loans/register.csv?start=昨天").status_code == 422


def test_overdue_shows_on_the_register_and_the_dashboards(login_as, paper):
    dossier, docs = paper
    _at("2031-03-03 09:30:00")
    _ask(login_as("head"), dossier, purpose="查阅", due="2031-03-05")
    loan = _last_loan()
    login_as("officer").post(f"/loans/{loan.id}/checkout", data={"items": "3", "pages": "9"})
    _at("2031-03-08 09:00:00")
    rows = list(csv.reader(io.StringIO(
        login_as("gm").get("/loans/register.csv").get_data(as_text=True)[1:])))
    assert rows[1][13] == "逾期"
    officer = login_as("officer").get("/").get_data(as_text=True)
    assert re.search(rf'<li data-loan="{loan.id}">.*逾期 3 天', officer)
    head = login_as("head").get("/").get_data(as_text=True)
    assert 'id="todo-due"' in head and "逾期 3 天" in head
    assert 'id="todo-overdue"' not in head
    mine = login_as("head").get("/loans/mine").get_data(as_text=True)
    assert f'data-loan="{loan.id}" data-status="out" class="overdue"' in mine


@pytest.mark.parametrize("url", ["/loans/counter", "/loans/register", "/loans/register.csv",
                                 "/api/v1/loans/register"])
def test_staff_cannot_open_the_counter_or_the_register(login_as, api, url):
    extra = {"headers": api("staff")} if url.startswith("/api/") else {}
    assert login_as("staff").get(url, **extra).status_code == 403
    extra = {"headers": api("officer")} if url.startswith("/api/") else {}
    assert login_as("officer").get(url, **extra).status_code == 200


def test_a_hidden_loan_answers_like_a_missing_one(login_as, paper):
    dossier, _docs = paper
    _ask(login_as("staff"), dossier)
    loan = _last_loan()
    client = login_as("service")  # another department's staff
    hidden, missing = client.get(f"/loans/{loan.id}"), client.get("/loans/987654")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.data == missing.data
    assert client.get(f"/loans/{loan.id}/form").data == client.get("/loans/987654/form").data
    assert client.post(f"/loans/{loan.id}/renew", data={"reason": "x"}).status_code == 404
    assert login_as("staff").get(f"/loans/{loan.id}/form").status_code == 200


def test_an_external_readers_loan_is_registered_with_the_readers_particulars(
        client, api, login_as, make_customer, make_dossier, file_doc):
    from archive import samples

    dossier = make_dossier(make_customer("宋外查"))
    file_doc(dossier, "宋外查 认购书", pages="2")
    _at("2031-04-01 10:00:00")
    form = {"reader_kind": "police", "unit": "深圳市公安局南山分局", "name": "张警官",
            "credential_type": "警官证", "credential_number": "440305123456",
            "notice_number": "南公（刑）协字〔2031〕7号", "phone": "0755-26000000",
            "dossier_id": str(dossier.id), "purpose": "协助调查", "days": "3",
            "credential_scan": (io.BytesIO(samples.make_jpeg(["警官证"])), "警官证.jpg"),
            "notice_scan": (io.BytesIO(samples.make_pdf("通知书", ["协助调查。"])), "通知书.pdf")}
    asked = client.post("/api/v1/loans/external", headers=api("officer"), data=form,
                        content_type="multipart/form-data")
    assert asked.status_code == 201, asked.json
    loan = _last_loan()
    request_id = db.session.execute(select(ApprovalRequest.id).where(
        ApprovalRequest.loan_id == loan.id)).scalar_one()
    login_as("legal").post(f"/approvals/{request_id}/approve", data={"note": "手续齐全"})
    officer = login_as("officer")
    officer.post(f"/loans/{loan.id}/checkout", data={"items": "1", "pages": "2"})
    assert "张警官" in officer.get("/loans/counter").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(
        officer.get("/loans/register.csv").get_data(as_text=True)[1:])))
    assert rows[1:] == [
        ["张警官", "深圳市公安局南山分局", "0755-26000000", "2031-04-01", "2031-04-04", "",
         dossier.number, "宋外查 认购书", "内部", "协助调查", "孙法务 同意（手续齐全）", "1/2", "",
         "借出", f"{loan.number}；阅览；警官证；南公（刑）协字〔2031〕7号"]]


def test_an_overdue_top_secret_loan_is_listed_only_to_the_designated(
        login_as, users, make_customer, make_dossier, file_doc):
    from archive.services import grants, work

    top = make_dossier(make_customer("孙绝密"), room="0606", actor="gm", classification="绝密")
    file_doc(top, "孙绝密 协议", actor="gm", pages="1")
    with work.unit(db.session):
        for name in ("gm", "officer"):
            grants.designate(db.session, users["gm"], {"user": name, "dossier_id": top.id})
    _at("2031-03-03 09:30:00")
    _ask(login_as("gm"), top, purpose="核对协议", due="2031-03-05")  # direct (002:869)
    loan = _last_loan()
    login_as("officer").post(f"/loans/{loan.id}/checkout", data={"items": "1", "pages": "1"})
    assert _last_loan().status == "out"
    _at("2031-03-08 09:00:00")
    assert f'<li data-loan="{loan.id}">' in login_as("officer").get("/").get_data(as_text=True)
    # the GM office's counter role is cleared to 机密 and not designated
    page = login_as("gmoffice").get("/").get_data(as_text=True)
    assert 'id="todo-overdue"' not in page and loan.number not in page


def test_an_original_out_or_lost_is_marked_wherever_it_is_listed(
        app, login_as, make_customer, make_dossier, file_doc, users):
    """Issue 16: a paper original on loan shows who has it and until when; an open loss
    report shows 遗失 on the document, its dossier's list and search, until it is closed."""
    from archive.services import approvals
    from archive.services import loans as loan_service
    from archive.services import work as unit

    dossier = make_dossier(make_customer("冯标记"), room="1201")
    doc = file_doc(dossier, "冯标记 房产证原件", "办证", pages="2")
    with unit.unit(db.session):
        loan = loan_service.request_loan(db.session, users["officer"], {
            "dossier_id": dossier.id, "kind": "out", "purpose": "办证", "days": 3,
            "borrower": "staff"})
    [request] = loan_service.requests_of(db.session, loan)
    for decider in ("head", "gmoffice"):
        with unit.unit(db.session):
            approvals.approve(db.session, users[decider], request.id)
    with unit.unit(db.session):
        loan_service.checkout(db.session, users["officer"], loan.id, {"items": 1, "pages": 2})
    due = f"{loan.due_at:%Y-%m-%d}"
    client = login_as("staff")
    for url in (f"/documents/{doc.id}", f"/dossiers/{dossier.id}", "/search?q=冯标记"):
        page = client.get(url).get_data(as_text=True)
        assert f"借出：王销售，应还 {due}（{loan.number}）" in page, url
    with unit.unit(db.session):
        loan_service.check_in(db.session, users["officer"], loan.id, {"items": 0, "pages": 0})
    for url in (f"/documents/{doc.id}", f"/dossiers/{dossier.id}", "/search?q=冯标记"):
        page = client.get(url).get_data(as_text=True)
        assert "借出：" not in page and f"遗失（{loan.number} 报告，待结案）" in page, url
    with unit.unit(db.session):
        loan_service.close_report(db.session, users["officer"], loan.reports[0].id,
                                  {"outcome": "found", "note": "找回"})
    assert "遗失（" not in client.get(f"/documents/{doc.id}").get_data(as_text=True)
