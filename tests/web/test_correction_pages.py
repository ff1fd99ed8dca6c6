"""Correcting the catalogue from the pages (issue 18): the forms, the change history on
each object's page, and wrong input answered on the form with nothing changed."""

from archive.extensions import db
from archive.models import Customer
from tests.conftest import archive_state


def test_officer_corrects_a_customer_and_the_page_shows_the_history(login_as, make_customer,
                                                                      departments):
    customer = make_customer(name="张伟", phone="13800000000")
    client = login_as("officer")
    form = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert "客户名称" in form and "负责部门" in form and "13800000000" in form
    response = client.post(f"/customers/{customer.id}/edit", data={
        "name": "张玮", "kind": "person", "id_number": "", "phone": "13800000001",
        "address": "", "grade": "普通", "scale": "", "department": departments["XS"].id, "notes": "",
        "reason": "登记时打错字"})
    assert response.status_code == 302
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "已更正：客户名称、联系电话" in page
    history = page[page.index("更正记录"):]
    assert "张伟" in history and "张玮" in history and "登记时打错字" in history
    assert "李档案" in history


def test_own_department_sees_a_contact_form(login_as, make_customer):
    customer = make_customer(name="张伟", department="XS")
    client = login_as("staff")
    assert "更正" in client.get(f"/customers/{customer.id}").get_data(as_text=True)
    form = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert "联系电话" in form and 'name="name"' not in form and 'name="department"' not in form
    response = client.post(f"/customers/{customer.id}/edit", data={"phone": "13912345678"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == "13912345678"


def test_a_wrong_correction_is_shown_on_the_form_and_changes_nothing(app, login_as,
                                                                    make_customer):
    customer = make_customer(name="张伟")
    client = login_as("officer")
    state = archive_state(app)
    response = client.post(f"/customers/{customer.id}/edit", data={"name": "", "phone": "1"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请填写客户名称" in page and 'value="1"' in page
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == "" and archive_state(app) == state


def test_other_departments_get_no_form(login_as, make_customer):
    customer = make_customer(name="张伟", department="KF")
    assert login_as("staff").get(f"/customers/{customer.id}/edit").status_code == 404
    assert login_as("auditor").get(f"/customers/{customer.id}/edit").status_code == 403


def test_officer_corrects_a_dossier_from_its_page(login_as, make_customer, make_dossier):
    dossier = make_dossier(make_customer(name="张伟"))
    client = login_as("officer")
    assert f"/dossiers/{dossier.id}/edit" in client.get(f"/dossiers/{dossier.id}").get_data(
        as_text=True)
    form = client.get(f"/dossiers/{dossier.id}/edit").get_data(as_text=True)
    assert "保存地点" in form and "1201" in form
    response = client.post(f"/dossiers/{dossier.id}/edit", data={
        "title": dossier.title, "project": "翠湖苑", "building": "3", "unit_no": "2",
        "room": "1201", "location": "3号库 A-12", "compiled_by": dossier.compiled_by,
        "checked_by": "", "remarks": "", "reason": "上架"})
    assert response.status_code == 302
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "已更正：保存地点" in page and "3号库 A-12" in page[page.index("更正记录"):]
    bad = client.post(f"/dossiers/{dossier.id}/edit", data={"title": "", "location": "X"})
    assert bad.status_code == 422 and "请填写题名" in bad.get_data(as_text=True)
    assert login_as("staff").get(f"/dossiers/{dossier.id}/edit").status_code == 403


def test_officer_moves_a_document_from_its_page(login_as, make_customer, make_dossier,
                                                file_doc):
    dossier = make_dossier(make_customer(name="张伟"))
    document = file_doc(dossier, title="认购书")
    client = login_as("officer")
    assert f"/documents/{document.id}/edit" in client.get(f"/documents/{document.id}").get_data(
        as_text=True)
    response = client.post(f"/documents/{document.id}/edit", data={
        "title": "认购书", "originator": "", "date": "", "category": "销售", "carrier": "纸质",
        "pages": "", "dossier": dossier.number, "group": "e", "remarks": "",
        "reason": "销售历史"})
    assert response.status_code == 302
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    history = page[page.index("更正记录"):]
    assert "移动" in history and "a 组" in history and "e 组" in history and "销售历史" in history
    bad = client.post(f"/documents/{document.id}/edit", data={"title": "认购书", "pages": "-2"})
    assert bad.status_code == 422 and "页数不能为负数" in bad.get_data(as_text=True)


def test_a_reader_sees_a_move_without_its_numbers(login_as, make_customer, make_dossier,
                                                 file_doc, call):
    dossier = make_dossier(make_customer(name="张伟", department="XS"))
    document = file_doc(dossier, title="认购书")
    assert call("officer", "PATCH", f"/api/v1/documents/{document.id}",
                json={"group": "e"}).status_code == 200
    page = login_as("staff").get(f"/documents/{document.id}").get_data(as_text=True)
    history = page[page.index("更正记录"):]
    assert "移动" in history and "顺序号" not in history and dossier.number not in history
    assert login_as("staff").get(f"/documents/{document.id}/edit").status_code == 403


def test_the_new_customer_form_links_the_one_already_registered(login_as, make_customer,
                                                               departments):
    first = make_customer(name="张伟", phone="13800138000")
    client = login_as("officer")
    form = {"name": "张伟", "kind": "person", "phone": "13800138000", "grade": "普通",
            "department": departments["XS"].id}
    refused = client.post("/customers/new", data=form)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert f'href="/customers/{first.id}"' in page and "确认不是同一人" in page
    confirmed = client.post("/customers/new", data={**form, "confirm_different": "1"})
    assert confirmed.status_code == 302
    staff = login_as("staff").post("/customers/new", data=form).get_data(as_text=True)
    assert f'href="/customers/{first.id}"' in staff and 'name="confirm_different"' not in staff


def test_the_archive_room_merges_from_the_customer_page(login_as, make_customer,
                                                       make_dossier):
    kept = make_customer(name="张伟")
    merged = make_customer(name="张伟", department="KF")
    make_dossier(merged)
    client = login_as("officer")
    assert "合并重复客户" in client.get(f"/customers/{merged.id}").get_data(as_text=True)
    response = client.post(f"/customers/{merged.id}/merge",
                           data={"into": kept.code, "reason": "同一人"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/customers/{kept.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已将客户并入" in page and "合并客户" in page[page.index("更正记录"):]
    bad = client.post(f"/customers/{kept.id}/merge", data={"into": "", "reason": "x"})
    assert bad.status_code == 302
    assert "请填写合并到的客户" in client.get(bad.headers["Location"]).get_data(as_text=True)
    assert "合并重复客户" not in login_as("staff").get(f"/customers/{kept.id}").get_data(
        as_text=True)


def test_the_upload_form_names_where_a_file_is_filed(login_as, make_customer, make_dossier):
    import io

    from archive import samples

    pdf = samples.make_pdf("重复", ["同一份文件。"])
    dossier = make_dossier(make_customer(name="张伟"))
    client = login_as("officer")

    def upload(**extra):
        return client.post(f"/dossiers/{dossier.id}/upload", data={
            "title": "认购书", "category": "销售", "file": (io.BytesIO(pdf), "认购书.pdf"),
            **extra}, content_type="multipart/form-data")

    assert upload().status_code == 302
    refused = upload()
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "此文件已归档" in page and 'name="confirm_duplicate"' in page
    assert upload(confirm_duplicate="1").status_code == 302


def test_the_history_masks_numbers_as_the_customer_page_does(login_as, call, make_customer,
                                                             users, departments):
    """A reader of another department's customer (a GM grant) sees its numbers masked, in
    its change history too; the archive room sees them in full."""
    from datetime import timedelta

    from archive.clock import now
    from archive.models import AccessGrant

    customer = make_customer(name="李娜", department="KF", phone="13800138000")
    db.session.add(AccessGrant(user_id=users["staff"].id, customer_id=customer.id,
                               valid_from=now() - timedelta(days=1),
                               valid_until=now() + timedelta(days=1),
                               approved_by_id=users["gm"].id))
    db.session.commit()
    assert call("officer", "PATCH", f"/api/v1/customers/{customer.id}",
                json={"phone": "13900139000"}).status_code == 200
    page = login_as("staff").get(f"/customers/{customer.id}").get_data(as_text=True)
    history = page[page.index("更正记录"):]
    assert "138****8000" in history and "139****9000" in history
    assert "13800138000" not in page and "13900139000" not in page
    full = login_as("officer").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "13800138000" in full[full.index("更正记录"):]
