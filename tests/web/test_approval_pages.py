"""The approval engine through its pages: 待审批 shows exactly what the user may decide,
decisions and withdrawals change the database as they say, refusals change nothing,
asking for another department's customer file tells nothing about the customer, and a
route changed through the admin page and the GM's inbox governs the next request."""

import re
from datetime import timedelta

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import event, func, select

from archive import clock, samples
from archive.extensions import db
from archive.models import (
    AccessGrant,
    ApprovalRequest,
    ApprovalRoute,
    AuditEvent,
    CopyApproval,
    Designation,
    Level,
)
from archive.models.approval import APPROVER_LABELS, KIND_LABELS, STATUS_LABELS
from archive.services import work
from archive.web.approvals import LABELS
from tests.web.test_translations import CATALOGUE


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


@pytest.fixture
def docs(make_customer, make_dossier, file_doc):
    """A sales (XS) customer's document and a customer-service (KF) customer's."""
    xs = make_dossier(make_customer("韩梅", code="KH-XS-1"), room="101")
    kf = make_dossier(make_customer("丙客户", department="KF", code="KH-KF-7",
                                    id_number="440300199001011238"), room="102")
    pdf = [("认购书.pdf", samples.make_pdf("认购书", ["客户认购。"]))]
    return {"xs": file_doc(xs, "韩梅 认购书", files=pdf),
            "kf": file_doc(kf, "丙客户 维修记录", files=pdf, category="维修")}


def _requests(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-request="(\d+)"', page)}


def _one(session, **where) -> ApprovalRequest:
    session.expire_all()
    return session.execute(select(ApprovalRequest).filter_by(**where)).scalar_one()


def _flashes(page: str) -> list[str]:
    return re.findall(r'<div class="flash [a-z]+" role="[a-z]+">([^<]*)</div>', page)


def _ask_access(client, customer="丙客户", reason="协助处理投诉", **extra):
    return client.post("/access-requests", data={"customer": customer, "reason": reason,
                                                 **extra}, follow_redirects=True)


def _raise(client, document):
    return client.post(f"/documents/{document.id}/classification",
                       data={"to": "秘密", "reason": "含收入证明"})


def test_inbox_lists_exactly_the_steps_the_user_may_decide(session, login_as, docs):
    _ask_access(login_as("staff"))
    access_request = _one(session, kind="cross_department")
    _raise(login_as("staff"), docs["xs"])
    raise_request = _one(session, kind="level_raise")

    expected = {"staff": set(), "service": set(), "officer": set(), "legal": set(),
                "gm": {access_request.id}, "head": {raise_request.id},
                "gmoffice": {raise_request.id}, "service_head": set()}
    for username, ids in expected.items():
        page = login_as(username).get("/approvals").get_data(as_text=True)
        assert _requests(page) == ids, username
        if not ids:
            assert "没有待您审批的申请" in page

    gm_page = login_as("gm").get("/approvals").get_data(as_text=True)
    # The GM, who decides, sees what was typed and the customers it matches.
    assert "丙客户" in gm_page and 'data-customer="KH-KF-7"' in gm_page
    assert "协助处理投诉" in gm_page and "王销售" in gm_page and "002:67" in gm_page
    head_page = login_as("head").get("/approvals").get_data(as_text=True)
    assert "韩梅 认购书" in head_page and "含收入证明" in head_page and "000:742" in head_page
    assert 'data-customer=' not in head_page


def test_gm_approves_in_the_inbox_and_the_grant_opens_the_customer(
        session, login_as, docs, users):
    _ask_access(login_as("staff"), customer="KH-KF-7", days="10")
    asked = _one(session, kind="cross_department")
    staff = login_as("staff")
    assert staff.get(f"/documents/{docs['kf'].id}").status_code == 404

    response = login_as("gm").post(f"/approvals/{asked.id}/approve",
                                   data={"note": "同意", "customer": "KH-KF-7",
                                         "valid_until": ""}, follow_redirects=True)
    assert "已批准，申请已生效" in _flashes(response.get_data(as_text=True))
    asked = _one(session, id=asked.id)
    grant = session.execute(select(AccessGrant).filter_by(request_id=asked.id)).scalar_one()
    assert asked.status == "approved" and asked.customer_id == docs["kf"].dossier.customer_id
    assert grant.user_id == users["staff"].id and grant.customer_id == asked.customer_id
    assert grant.valid_until == asked.decided_at + timedelta(days=10)
    assert [s.note for s in asked.steps] == ["同意"]

    staff = login_as("staff")
    assert staff.get(f"/documents/{docs['kf'].id}").status_code == 200
    mine = staff.get("/approvals/mine").get_data(as_text=True)
    assert 'data-status="approved"' in mine and "丙客户（KH-KF-7）" in mine
    # The GM's grants page names the customer, not its database id.
    grants_page = login_as("gm").get("/grants").get_data(as_text=True)
    assert "丙客户（KH-KF-7）" in grants_page and f"客户 #{grant.customer_id}" not in grants_page


def test_gm_picks_the_customer_and_the_end_date(session, login_as, docs):
    _ask_access(login_as("staff"), customer="丙")  # matches by name, not exactly
    asked = _one(session, kind="cross_department")
    gm = login_as("gm")
    until = (clock.now() + timedelta(days=3)).date()
    gm.post(f"/approvals/{asked.id}/approve",
            data={"customer": "440300199001011238", "valid_until": until.isoformat()})
    grant = session.execute(select(AccessGrant)).scalar_one()
    assert grant.customer_id == docs["kf"].dossier.customer_id
    assert grant.valid_until.date() == until


def test_a_typed_text_the_gm_cannot_resolve_is_flashed_and_nothing_is_granted(
        session, login_as, docs):
    _ask_access(login_as("staff"), customer="查无此人")
    asked = _one(session, kind="cross_department")
    gm = login_as("gm")
    assert "没有与所填内容匹配的客户" in gm.get("/approvals").get_data(as_text=True)
    page = gm.post(f"/approvals/{asked.id}/approve", data={"customer": "查无此人"},
                   follow_redirects=True).get_data(as_text=True)
    assert "没有名称、编号或证件号为“查无此人”的客户" in _flashes(page)[0]
    asked = _one(session, id=asked.id)
    assert asked.status == "pending" and [s.decision for s in asked.steps] == [None]
    assert session.execute(select(func.count(AccessGrant.id))).scalar_one() == 0


def test_reject_through_the_inbox_with_a_note(session, login_as, docs):
    _raise(login_as("staff"), docs["xs"])
    asked = _one(session, kind="level_raise")
    page = login_as("head").post(f"/approvals/{asked.id}/reject", data={"note": "无需提高"},
                                 follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["已驳回申请"]
    asked = _one(session, id=asked.id)
    assert asked.status == "rejected"
    assert [(s.decision, s.note) for s in asked.steps if s.decision] == [("rejected", "无需提高")]
    session.refresh(docs["xs"])
    assert docs["xs"].classification == Level.INTERNAL
    # The requester sees the outcome and its history on 我的申请.
    mine = login_as("staff").get("/approvals/mine").get_data(as_text=True)
    assert 'data-status="rejected"' in mine and "无需提高" in mine and "陈经理" in mine


def test_two_approvals_through_the_inbox_apply_the_raise(session, login_as, docs):
    _raise(login_as("staff"), docs["xs"])
    asked = _one(session, kind="level_raise")
    page = login_as("head").post(f"/approvals/{asked.id}/approve",
                                 follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["已审批，待总经理办公室审批"]
    login_as("gmoffice").post(f"/approvals/{asked.id}/approve")
    assert _one(session, id=asked.id).status == "approved"
    session.refresh(docs["xs"])
    assert docs["xs"].classification == Level.SECRET


def test_deciding_twice_is_flashed_and_changes_nothing(session, login_as, docs):
    _raise(login_as("staff"), docs["xs"])
    asked = _one(session, kind="level_raise")
    head = login_as("head")
    head.post(f"/approvals/{asked.id}/approve", data={"note": "第一次"}, follow_redirects=True)
    before = [(s.decided_by_id, s.decision, s.note, s.decided_at) for s in
              _one(session, id=asked.id).steps]
    page = head.post(f"/approvals/{asked.id}/approve", data={"note": "第二次"},
                     follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["同一人不能重复审批同一申请"]
    page = head.post(f"/approvals/{asked.id}/reject", data={"note": "改主意"},
                     follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["同一人不能重复审批同一申请"]
    asked = _one(session, id=asked.id)
    assert asked.status == "pending"
    assert [(s.decided_by_id, s.decision, s.note, s.decided_at)
            for s in asked.steps] == before
    denied = session.execute(select(func.count(AuditEvent.id)).where(
        AuditEvent.outcome == "denied", AuditEvent.action.in_(
            ["approval.approve", "approval.reject"]))).scalar_one()
    assert denied == 2


def test_withdraw_is_the_requesters_alone(session, login_as, docs):
    _raise(login_as("staff"), docs["xs"])
    asked = _one(session, kind="level_raise")
    # The head may see it (its subject is theirs to read) but not take it back.
    head = login_as("head")
    assert head.get(f"/approvals/{asked.id}").status_code == 200
    assert head.post(f"/approvals/{asked.id}/withdraw").status_code == 403
    # A user who may not read its subject is told it does not exist.
    service = login_as("service")
    assert service.get(f"/approvals/{asked.id}").status_code == 404
    assert service.post(f"/approvals/{asked.id}/withdraw").status_code == 404
    assert service.post(f"/approvals/{asked.id}/approve").status_code == 404
    assert _one(session, id=asked.id).status == "pending"

    staff = login_as("staff")
    mine = staff.get("/approvals/mine").get_data(as_text=True)
    assert f'action="/approvals/{asked.id}/withdraw"' in mine
    page = staff.post(f"/approvals/{asked.id}/withdraw", data={"next": "/approvals/mine"},
                      follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["已撤回申请"] and 'data-status="withdrawn"' in page
    assert f'action="/approvals/{asked.id}/withdraw"' not in page
    assert _one(session, id=asked.id).status == "withdrawn"
    # Withdrawn, it is no longer anyone's to decide.
    assert _requests(login_as("head").get("/approvals").get_data(as_text=True)) == set()
    page = login_as("head").post(f"/approvals/{asked.id}/approve",
                                 follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["申请已由申请人撤回"]


def test_missing_requests_answer_404(login_as):
    client = login_as("gm")
    for path in ("/approvals/987654", "/approvals/987654/approve"):
        response = client.get(path) if "approve" not in path else client.post(path)
        assert response.status_code == 404


def _article(page: str, request_id: int) -> str:
    match = re.search(rf'<article [^>]*data-request="{request_id}".*?</article>', page, re.S)
    return match.group(0)


def _anonymous(article: str, request_id: int, typed: str) -> str:
    """The article without what differs between two requests anyway: id, times, text."""
    article = re.sub(rf'(request-|data-request="|/approvals/){request_id}\b', r"\1#", article)
    article = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "T", article)
    return article.replace(typed, "…")


def test_asking_never_tells_whether_the_typed_customer_exists(session, login_as, docs):
    """The same answer, byte for byte but for what was typed, for an existing customer of
    another department and for a name that matches nobody."""
    staff = login_as("staff")
    answers, ids = [], []
    for typed in ("丙客户", "胡编乱造的名字"):
        response = staff.post("/access-requests", data={"customer": typed, "reason": "核对"})
        assert response.status_code == 302
        ids.append(_one(session, payload_json=f'{{"customer_text": "{typed}", "days": 30}}').id)
        follow = staff.get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.headers["Location"], _flashes(follow),
                        _anonymous(_article(follow, ids[-1]), ids[-1], typed)))
    assert answers[0] == answers[1]
    assert answers[0][1] == ["查阅申请已提交，待总经理或副总经理审批"]
    rows = session.execute(select(ApprovalRequest).order_by(ApprovalRequest.id)).scalars().all()
    assert [(r.customer_id, r.payload["customer_text"]) for r in rows] == [
        (None, "丙客户"), (None, "胡编乱造的名字")]
    assert "KH-KF-7" not in staff.get("/approvals/mine").get_data(as_text=True)


def test_a_bad_ask_is_flashed_and_files_nothing(session, login_as, docs):
    staff = login_as("staff")
    for data in ({"customer": "", "reason": "x"}, {"customer": "丙客户", "reason": ""},
                 {"customer": "丙客户", "reason": "x", "days": "400"}):
        page = staff.post("/access-requests", data=data,
                          follow_redirects=True).get_data(as_text=True)
        assert _flashes(page) and "已提交" not in page
    assert session.execute(select(func.count(ApprovalRequest.id))).scalar_one() == 0
    # Those whose reach is not one department do not ask (an auditor only reads).
    assert login_as("auditor").post("/access-requests", data={
        "customer": "丙客户", "reason": "x"}).status_code == 403
    assert 'id="ask-access"' not in login_as("auditor").get("/approvals/mine").get_data(
        as_text=True)
    assert session.execute(select(func.count(ApprovalRequest.id))).scalar_one() == 0


def test_route_change_through_the_admin_page_and_the_gm_inbox(session, login_as, docs):
    admin = login_as("admin")
    page = admin.get("/admin/routes").get_data(as_text=True)
    route = session.execute(select(ApprovalRoute).filter_by(kind="level_raise")).scalar_one()
    assert "000:742" in page and "002:67" in page and 'id="propose-level_raise"' in page
    assert "客户所属部门负责人 + 总经理办公室" in page
    # The form's text is the route as it is now: one stage per line, keys by comma.
    assert ">customer_dept_head, gm_office</textarea>" in page

    page = admin.post(f"/admin/routes/{route.id}/changes", data={
        "steps": "customer_dept_head, gm_office\nlegal", "time_limit_hours": "",
        "reason": "加法律审核"}, follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["路线变更已提交，待总经理或副总经理审批"]
    proposal = _one(session, kind="route_change")

    gm = login_as("gm")
    inbox = gm.get("/approvals").get_data(as_text=True)
    assert _requests(inbox) == {proposal.id}
    assert "客户所属部门负责人 + 总经理办公室 → 法律室" in _article(inbox, proposal.id)
    gm.post(f"/approvals/{proposal.id}/approve", data={"note": "同意"})

    page = login_as("admin").get("/admin/routes").get_data(as_text=True)
    rows = re.findall(r'<tr data-route="(\d+)" data-kind="level_raise" class="(\w+)">', page)
    assert [cls for _, cls in rows] == ["active", "retired"]
    assert int(rows[1][0]) == route.id

    _raise(login_as("staff"), docs["xs"])
    asked = _one(session, kind="level_raise")
    assert [(s.stage, s.approver) for s in asked.steps] == [
        (1, "customer_dept_head"), (1, "gm_office"), (2, "legal")]
    audit = session.execute(select(AuditEvent).where(AuditEvent.action == "route.changed")
                            ).scalar_one()
    assert audit.actor_name == "gm"


def test_route_proposals_refused_change_nothing(session, login_as):
    route = session.execute(select(ApprovalRoute).filter_by(kind="level_raise")).scalar_one()
    session.commit()
    # Only the administrator proposes; others may read the routes.
    head = login_as("head")
    assert head.get("/admin/routes").status_code == 200
    assert 'id="propose-level_raise"' not in head.get("/admin/routes").get_data(as_text=True)
    assert head.post(f"/admin/routes/{route.id}/changes", data={
        "steps": "legal", "reason": "x"}).status_code == 403
    admin = login_as("admin")
    assert admin.post("/admin/routes/987654/changes", data={
        "steps": "legal", "reason": "x"}).status_code == 404
    for data, message in (({"steps": "nobody", "reason": "x"}, "审批步骤应为"),
                          ({"steps": "customer_dept_head, gm_office", "reason": "x"},
                           "新路线与现行路线相同"),
                          ({"steps": "legal", "reason": ""}, "变更理由")):
        page = admin.post(f"/admin/routes/{route.id}/changes", data=data,
                          follow_redirects=True).get_data(as_text=True)
        assert message in _flashes(page)[0]
    assert session.execute(select(func.count(ApprovalRequest.id))).scalar_one() == 0


def test_designated_reader_asks_to_copy_and_the_gm_approves_in_the_inbox(
        session, login_as, users, docs, make_dossier, make_customer, file_doc):
    dossier = make_dossier(make_customer("绝密客户", code="KH-XS-9"), room="109",
                           actor="gm", classification="绝密")
    top = file_doc(dossier, "绝密 合同", actor="gm", classification="绝密", files=[
        ("合同.pdf", samples.make_pdf("合同", ["绝密内容。"]))])
    with work.unit(session):
        session.add(Designation(user_id=users["legal"].id, dossier_id=dossier.id,
                                designated_by_id=users["gm"].id))
    legal = login_as("legal")
    page = legal.get(f"/documents/{top.id}").get_data(as_text=True)
    assert 'id="ask-copy"' in page
    assert legal.get(f"/documents/{top.id}/download").status_code == 403
    page = legal.post(f"/documents/{top.id}/copy-requests",
                      data={"hours": "2", "reason": "诉讼举证"},
                      follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["复制申请已提交，待总经理或副总经理审批"]
    asked = _one(session, kind="top_secret_copy")
    # Staff of the customer's department may not even know of the document.
    assert login_as("staff").post(f"/documents/{top.id}/copy-requests", data={
        "reason": "x"}).status_code == 404

    gm = login_as("gm")
    assert _requests(gm.get("/approvals").get_data(as_text=True)) == {asked.id}
    gm.post(f"/approvals/{asked.id}/approve")
    approval = session.execute(select(CopyApproval)).scalar_one()
    assert approval.user_id == users["legal"].id and approval.request_id == asked.id
    assert login_as("legal").get(f"/documents/{top.id}/download").status_code == 200


def test_the_dashboard_panel_shows_what_waits(session, login_as, docs):
    _ask_access(login_as("staff"))
    asked = _one(session, kind="cross_department")
    page = login_as("gm").get("/").get_data(as_text=True)
    panel = re.search(r'<section class="card todo" id="todo">.*?</section>', page, re.S).group(0)
    assert re.search(r'<span class="count">1</span>', panel)
    assert f'href="/approvals/{asked.id}"' in panel
    page = login_as("staff").get("/").get_data(as_text=True)
    panel = re.search(r'<section class="card todo" id="todo">.*?</section>', page, re.S).group(0)
    assert re.search(r'<span class="count none">0</span>', panel)
    requests_block = re.search(r'id="todo-requests".*?</div>', panel, re.S).group(0)
    assert f'href="/approvals/{asked.id}"' in requests_block and "丙客户" in requests_block
    # Decided, it leaves both lists.
    login_as("gm").post(f"/approvals/{asked.id}/approve")
    page = login_as("staff").get("/").get_data(as_text=True)
    assert f'href="/approvals/{asked.id}"' not in page
    assert f'href="/approvals/{asked.id}"' not in login_as("gm").get("/").get_data(as_text=True)


def test_the_dashboard_costs_the_same_queries_however_many_requests_wait(
        session, login_as, make_customer, make_dossier, file_doc):
    """One inbox query for the panel, its rows' subjects loaded with them: the dashboard
    (in the load benchmark) must not grow a query per waiting request."""
    documents = [file_doc(make_dossier(make_customer(f"客户{i}", code=f"KH-Q-{i}"),
                                       room=str(300 + i)), f"文件{i}") for i in range(7)]
    # Filed later, these fill the dashboard's recent documents: the requests' subjects
    # are not among them, so nothing else on the page has loaded them.
    later = make_dossier(make_customer("近期客户", code="KH-Q-R"), room="399")
    for i in range(40):
        file_doc(later, f"近期文件{i}")

    def dashboard_queries() -> int:
        client = login_as("head")
        client.get("/")
        statements = []
        listen = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(statements)

    staff = login_as("staff")
    for document in documents[:2]:
        _raise(staff, document)
    few = dashboard_queries()
    staff = login_as("staff")
    for document in documents[2:]:
        _raise(staff, document)
    assert _requests(login_as("head").get("/approvals").get_data(as_text=True)) and \
        dashboard_queries() == few


def test_the_gm_grants_by_customer_name_code_or_id_number(session, login_as, docs):
    gm = login_as("gm")
    assert '<input name="customer"' in gm.get("/grants").get_data(as_text=True)
    until = (clock.now() + timedelta(days=5)).date().isoformat()
    page = gm.post("/grants", data={"user": "staff", "customer": "没有这个客户",
                                    "valid_until": until, "reason": "x"},
                   follow_redirects=True).get_data(as_text=True)
    assert "没有名称、编号或证件号为“没有这个客户”的客户" in _flashes(page)[0]
    assert session.execute(select(func.count(AccessGrant.id))).scalar_one() == 0
    page = gm.post("/grants", data={"user": "staff", "customer": "440300199001011238",
                                    "valid_until": until, "reason": "协助"},
                   follow_redirects=True).get_data(as_text=True)
    assert _flashes(page) == ["已授权"] and "丙客户（KH-KF-7）" in page
    grant = session.execute(select(AccessGrant)).scalar_one()
    assert grant.customer_id == docs["kf"].dossier.customer_id


def test_the_engines_labels_are_in_the_english_catalogue(login_as, session, docs):
    labels = {*KIND_LABELS.values(), *APPROVER_LABELS.values(), *STATUS_LABELS.values()}
    assert set(LABELS) == labels
    with CATALOGUE.open("rb") as fh:
        english = {m.id: m.string for m in read_po(fh, locale="en") if m.id}
    assert all(english.get(label) for label in labels), labels - set(english)

    _raise(login_as("staff"), docs["xs"])
    head = login_as("head")
    head.get("/lang/en")
    page = head.get("/approvals").get_data(as_text=True)
    assert english["提高密级"] in page and english["客户所属部门负责人"] in page
    assert english["待审批"] in page
