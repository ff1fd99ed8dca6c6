"""Level changes, stamped downloads and GM grants through the web pages."""

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive import clock, samples
from archive.models import ApprovalRequest, AuditEvent, Level


@pytest.fixture
def doc(make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("韩梅"))
    return file_doc(dossier, "韩梅 认购书", files=[("认购书.pdf", samples.make_pdf(
        "认购书", ["客户韩梅认购。"]))])


def test_raise_through_the_pages_then_internal_staff_get_404(session, login_as, doc):
    client = login_as("staff")
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "申请变更密级" in page and "保管期限" in page
    response = client.post(f"/documents/{doc.id}/classification",
                           data={"to": "secret", "reason": "含收入证明"})
    assert response.status_code == 302
    change = session.execute(select(ApprovalRequest)).scalar_one()

    client = login_as("head")
    pending = client.get("/classification/pending").get_data(as_text=True)
    assert "韩梅 认购书" in pending and "含收入证明" in pending
    client.post(f"/classification/{change.id}/approve")
    client = login_as("gmoffice")
    response = client.post(f"/classification/{change.id}/approve",
                           data={"next": f"/documents/{doc.id}"})
    assert response.headers["Location"].endswith(f"/documents/{doc.id}")
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "已生效" in page and "陈经理" in page and "周主任" in page

    client = login_as("staff")
    assert client.get(f"/documents/{doc.id}").status_code == 404
    session.refresh(doc)
    assert doc.classification == Level.SECRET


def test_dossier_page_offers_a_whole_dossier_change_and_the_cover_shows_the_new_level(
        session, login_as, doc):
    client = login_as("staff")
    page = client.get(f"/dossiers/{doc.dossier_id}").get_data(as_text=True)
    assert "申请变更密级" in page
    client.post(f"/dossiers/{doc.dossier_id}/classification", data={"to": "秘密", "reason": "整卷"})
    change = session.execute(select(ApprovalRequest)).scalar_one()
    assert change.dossier_id == doc.dossier_id
    login_as("head").post(f"/classification/{change.id}/approve")
    login_as("gmoffice").post(f"/classification/{change.id}/approve")
    cover = login_as("officer").get(f"/dossiers/{doc.dossier_id}/cover").get_data(as_text=True)
    assert "秘密" in cover and "永久" in cover
    assert login_as("staff").get(f"/dossiers/{doc.dossier_id}").status_code == 404


def test_requester_approving_own_request_is_refused_and_audited(session, login_as, doc):
    client = login_as("head")
    asked = client.post(f"/documents/{doc.id}/classification", data={"to": "秘密", "reason": "x"},
                        follow_redirects=True).get_data(as_text=True)
    # The head's asking decided the head's step: it waits for the GM office only.
    assert "密级变更申请已提交，待总经理办公室审批" in asked
    change = session.execute(select(ApprovalRequest)).scalar_one()
    response = client.post(f"/classification/{change.id}/approve", follow_redirects=True)
    assert "不能审批本人提出的申请" in response.get_data(as_text=True)
    session.refresh(change)
    # The head's asking decided the head's step (approvals.SELF_CONSENT); the refusal nothing.
    assert [(s.approver, s.decision) for s in change.steps] == [
        ("customer_dept_head", "approved"), ("gm_office", None)]
    denied = session.execute(select(AuditEvent).where(
        AuditEvent.action == "approval.approve")).scalar_one()
    assert denied.outcome == "denied"


def test_redirect_after_decision_stays_on_site(session, login_as, doc):
    client = login_as("staff")
    client.post(f"/documents/{doc.id}/classification", data={"to": "秘密", "reason": "x"})
    change = session.execute(select(ApprovalRequest)).scalar_one()
    response = login_as("head").post(f"/classification/{change.id}/approve",
                                     data={"next": "//evil.example/"})
    assert response.headers["Location"].endswith("/classification/pending")


def test_redirect_after_decision_refuses_a_tab_hidden_host(session, login_as, doc):
    client = login_as("staff")
    client.post(f"/documents/{doc.id}/classification", data={"to": "秘密", "reason": "x"})
    change = session.execute(select(ApprovalRequest)).scalar_one()
    response = login_as("head").post(f"/classification/{change.id}/reject",
                                     data={"next": "/\t/evil.example/"})
    assert response.headers["Location"].endswith("/classification/pending")


def test_secret_preview_and_download_are_stamped(session, login_as, doc, file_doc):
    secret = file_doc(doc.dossier, "收入证明", classification="秘密",
                      files=[("收入证明.pdf", samples.make_pdf("收入证明", ["月收入"]))])
    client = login_as("head")
    for purpose in ("preview", "download"):
        response = client.get(f"/documents/{secret.id}/{purpose}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert "no-store" in response.headers["Cache-Control"]
        text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
        assert "秘密" in text and "陈经理" in text


def test_top_secret_download_without_approval_is_403_and_audited(session, users, login_as,
                                                                 file_doc, doc):
    top = file_doc(doc.dossier, "绝密件", classification="绝密", actor="gm",
                   files=[("绝密.pdf", samples.make_pdf("绝密件", ["重大事项"]))])
    gm = login_as("gm")
    page = gm.get(f"/documents/{top.id}").get_data(as_text=True)
    assert "绝密知悉人员" in page and "批准复制" in page
    gm.post("/designations", data={"user": "head", "document_id": top.id})

    client = login_as("head")
    page = client.get(f"/documents/{top.id}").get_data(as_text=True)
    assert "未经总经理批准" in page and f"/documents/{top.id}/files/" in page
    assert "download" not in page.split("复制批准")[0].split("电子文件")[1]
    preview = client.get(f"/documents/{top.id}/preview")
    assert preview.status_code == 200
    assert "陈经理" in PdfReader(io.BytesIO(preview.data)).pages[0].extract_text()
    response = client.get(f"/documents/{top.id}/download")
    assert response.status_code == 403
    assert "绝密文件未经总经理批准" in response.get_data(as_text=True)
    denied = session.execute(select(AuditEvent).where(
        AuditEvent.action == "document.download", AuditEvent.outcome == "denied")).scalars().all()
    assert [e.actor_name for e in denied] == ["head"]

    login_as("gm").post("/copy-approvals", data={"user": "head", "document_id": top.id,
                                                 "hours": "1", "reason": "报送"})
    client = login_as("head")
    assert client.get(f"/documents/{top.id}/download").status_code == 200


def test_gm_grants_page_opens_another_department_until_revoked(session, login_as, doc):
    client = login_as("service")
    assert client.get(f"/documents/{doc.id}").status_code == 404
    gm = login_as("gm")
    assert gm.get("/grants").status_code == 200
    until = (clock.now() + timedelta(days=1)).date().isoformat()
    gm.post("/grants", data={"user": "service", "department": "XS", "valid_until": until,
                             "reason": "协查"})
    assert "协查" in gm.get("/grants").get_data(as_text=True)
    client = login_as("service")
    assert client.get(f"/documents/{doc.id}").status_code == 200


@pytest.mark.parametrize("name", ["staff", "gmoffice", "head", "auditor", "admin"])
def test_only_the_gm_manages_grants(login_as, name, doc):
    client = login_as(name)
    assert client.get("/grants").status_code == 403
    assert client.post("/grants", data={"user": "service", "department": "XS",
                                        "valid_until": "2099-01-01", "reason": "x"}
                       ).status_code == 403
    assert client.post("/designations", data={"user": "service",
                                              "document_id": doc.id}).status_code == 403


def test_request_messages_name_the_right_approvers_and_are_translated(
        session, login_as, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer("李雷"))
    secret = file_doc(dossier, "李雷 诉讼材料", "诉讼", classification="秘密")
    client = login_as("officer")
    client.post(f"/documents/{secret.id}/classification", data={"to": "内部", "reason": "已结案"})
    page = client.get(f"/documents/{secret.id}").get_data(as_text=True)
    # Lowering needs the GM office only: the message must not promise the department head.
    assert "密级变更申请已提交，待总经理办公室审批" in page and "部门负责人与" not in page
    change = session.execute(select(ApprovalRequest)).scalar_one()
    gmoffice = login_as("gmoffice")
    gmoffice.get("/lang/en")
    page = gmoffice.post(f"/classification/{change.id}/approve",
                         follow_redirects=True).get_data(as_text=True)
    assert "The level change has taken effect" in page and "密级变更已生效" not in page


def test_a_reader_designated_for_one_document_sees_its_dossier_number_without_a_link(
        session, users, login_as, make_customer, make_dossier, file_doc):
    """002:43: the GM designates readers for a 绝密 dossier or for one document in it. One
    designated for the document opens that document only; the dossier (its other 绝密
    papers) stays closed to them, so its number is shown as text, not as a link that
    answers 404 (a design question from a black-box probe)."""
    from archive.services import grants, work

    dossier = make_dossier(make_customer("绝密客户"), room="0606", actor="gm",
                           classification="绝密")
    top = file_doc(dossier, "绝密 协议", "其他", classification="绝密", actor="gm")
    with work.unit(session):
        grants.designate(session, users["gm"], {"user": "head", "document_id": top.id})
    client = login_as("head")
    page = client.get(f"/documents/{top.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert dossier.number in body and f'href="/dossiers/{dossier.id}"' not in body
    assert client.get(f"/dossiers/{dossier.id}").status_code == 404
    with work.unit(session):
        grants.designate(session, users["gm"], {"user": "head", "dossier_id": dossier.id})
    assert f'href="/dossiers/{dossier.id}"' in client.get(f"/documents/{top.id}").get_data(
        as_text=True)
    assert client.get(f"/dossiers/{dossier.id}").status_code == 200
