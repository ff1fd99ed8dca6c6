"""A dossier's level is a floor for its documents (issue 14, finding 15): an 内部 item
filed into a 秘密 case file opens only to readers who may open the case file, in every
view, download, search hit, total and facet; lowering the dossier opens it again."""

import io

import pytest
from pypdf import PdfReader

from archive import samples
from archive.extensions import db
from archive.models import Level

PDF = samples.make_pdf("判决书", ["本院认为：被告应支付违约金。紫藤花架"])


@pytest.fixture
def low_item(make_customer, make_dossier, file_doc):
    """An 内部 document inside a 秘密 dossier of 销售经营部's customer."""
    case = make_dossier(make_customer("罗诉讼"), classification="秘密")
    document = file_doc(case, "一审判决书", "诉讼", files=[("判决.pdf", PDF)],
                        classification="内部")
    assert document.level is Level.INTERNAL and document.access_level is Level.SECRET
    db.session.commit()
    return case, document


def _search(call, user, q="紫藤花架"):
    response = call(user, "GET", "/api/v1/search", query_string={"q": q})
    assert response.status_code == 200
    return response.get_json()


def test_a_low_item_in_a_higher_dossier_is_hidden_wherever_the_dossier_is(call, low_item):
    case, document = low_item
    # staff: 内部 clearance, the customer's own department.
    for url in (f"/api/v1/dossiers/{case.id}", f"/api/v1/documents/{document.id}",
                f"/api/v1/documents/{document.id}/content"):
        assert call("staff", "GET", url).status_code == 404, url
    found = _search(call, "staff")
    assert found["total"] == 0 and found["hits"] == []
    assert sum(found["facets"].get("classification", {}).values()) == 0
    # Same words as for a missing document: nothing tells it exists.
    missing = call("staff", "GET", "/api/v1/documents/99999999").get_json()
    assert call("staff", "GET", f"/api/v1/documents/{document.id}").get_json() == missing


def test_readers_of_the_dossier_see_the_item_at_its_own_level_stamped_at_the_dossiers(
        call, low_item):
    case, document = low_item
    for user in ("staff_secret", "officer"):
        assert call(user, "GET", f"/api/v1/documents/{document.id}").status_code == 200, user
        found = _search(call, user)
        assert [h["document_id"] for h in found["hits"]] == [document.id], user
        assert found["hits"][0]["dossier_number"] == case.number
    shown = call("staff_secret", "GET", f"/api/v1/documents/{document.id}").get_json()
    assert shown["classification"]["key"] == "internal"
    # Delivered as the 秘密 file it sits in: a stamped copy naming the reader.
    content = call("staff_secret", "GET", f"/api/v1/documents/{document.id}/content")
    assert content.status_code == 200 and content.data != PDF
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content.data)).pages)
    assert "秘密" in text and "staff_secret" in text


def test_web_pages_follow_the_dossier_level(app, login_as, low_item):
    case, document = low_item
    client = login_as("staff")
    assert client.get(f"/documents/{document.id}").status_code == 404
    assert client.get(f"/dossiers/{case.id}").status_code == 404
    page = client.get("/search", query_string={"q": "紫藤花架"}).get_data(as_text=True)
    assert "一审判决书" not in page and case.number not in page


def test_lowering_the_dossier_opens_its_items_in_search(call, low_item):
    case, document = low_item
    asked = call("staff_secret", "POST", f"/api/v1/dossiers/{case.id}/classification",
                 {"to": "internal", "reason": "结案后降密"})
    assert asked.status_code == 201, asked.get_json()
    change = asked.get_json()["id"]
    # Lowering is the GM office's decision alone (route level_lower, 000:742).
    assert call("head", "POST", f"/api/v1/classification-changes/{change}/approve"
                ).status_code == 403
    done = call("gmoffice", "POST", f"/api/v1/classification-changes/{change}/approve")
    assert done.status_code == 200, done.get_json()
    assert [h["document_id"] for h in _search(call, "staff")["hits"]] == [document.id]
    assert call("staff", "GET", f"/api/v1/documents/{document.id}").status_code == 200


def test_the_gm_can_approve_copies_of_items_a_top_secret_dossier_protects(
        app, users, make_customer, make_dossier, file_doc):
    from archive.services import access, grants, work

    dossier = make_dossier(make_customer("周绝密"), room="0901", actor="gm", classification="绝密")
    document = file_doc(dossier, "合同", "销售", files=[("a.pdf", PDF)], classification="秘密",
                        actor="gm")
    with work.unit(db.session):
        grants.designate(db.session, users["gm"], {"user": "staff_secret", "dossier_id": dossier.id})
    reader = users["staff_secret"]
    assert access.can(reader, "document.read", document)
    assert not access.can(reader, "document.copy", document)  # 绝密 by its dossier: 002:45
    with work.unit(db.session):
        grants.approve_copy(db.session, users["gm"], {"user": "staff_secret",
                                                      "document_id": document.id, "reason": "诉讼"})
    assert access.can(reader, "document.copy", document)
