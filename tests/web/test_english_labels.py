"""The English UI translates the archive's fixed words — levels, categories, carriers,
groups, retention, roles, error pages — while the printed forms stay Chinese (issue 18)."""

import re

import pytest


@pytest.fixture
def document(make_customer, make_dossier, file_doc):
    return file_doc(make_dossier(make_customer()), "认购书", "销售")


def test_the_dossier_and_document_pages_in_english(login_as, document):
    client = login_as("officer")
    client.get("/lang/en")
    dossier = client.get(f"/dossiers/{document.dossier_id}").get_data(as_text=True)
    for english in ("Internal", "Permanent", "Sales", "Paper",
                    "Sales, contract, title certificate and move-in records",
                    "Repair and compensation records"):
        assert english in dossier, english
    for chinese in ("内部", "永久", "纸质", "销售、签约、办证及入伙资料"):
        assert chinese not in dossier, chinese
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    # The 四性检测 results are records, kept in the words they were written in at filing
    # (as audit details are): the labels around them are translated, their text is not.
    records = re.search(r'<section class="card preservation".*?</section>', page, re.S)
    assert records and "仅有纸质原件" in records.group(0)
    page = page.replace(records.group(0), "")
    assert "Sales" in page and "Paper" in page and "纸质" not in page


def test_search_filters_and_the_admin_roles_in_english(login_as):
    client = login_as("officer")
    client.get("/lang/en")
    search = client.get("/search").get_data(as_text=True)
    assert '<option value="维修" >Repairs</option>' in search
    assert '<option value="纸质" >Paper</option>' in search
    admin = login_as("admin")
    admin.get("/lang/en")
    users = admin.get("/admin/users").get_data(as_text=True)
    assert "Archive officer" in users and "档案员" not in users


def test_error_pages_in_english(login_as):
    client = login_as("staff")
    client.get("/lang/en")
    page = client.get("/documents/987654").get_data(as_text=True)
    assert "No such document" in page and "文件不存在" not in page
    refused = client.get("/admin/users").get_data(as_text=True)
    assert "You may not do this" in refused and "无权执行此操作" not in refused


def test_the_printed_forms_stay_chinese(login_as, document):
    client = login_as("officer")
    client.get("/lang/en")
    for form, words in (("cover", ("内部", "永久")), ("index", ("卷内目录", "题名", "销售、签约、办证及入伙资料")),
                        ("remarks", ("卷内备考表",))):
        page = client.get(f"/dossiers/{document.dossier_id}/{form}").get_data(as_text=True)
        for word in words:
            assert word in page, (form, word)
        assert "Internal" not in page and "Sales, contract" not in page
