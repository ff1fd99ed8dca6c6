"""The web UI: login, every page renders in Chinese, forms show clear Chinese errors."""

import io
import re

import pytest

from archive import create_app, samples
from config import TestConfig
from tests import databases, hostile_files
from tests.conftest import archive_state

PDF = samples.make_pdf("认购书", ["客户张伟认购翠湖苑3栋2单元1201。"])


def test_pages_need_login(client):
    response = client.get("/customers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused_in_chinese(client):
    response = client.post("/login", data={"username": "officer", "password": "wrong-pass-1"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_is_not_an_open_redirect(client):
    from tests.conftest import PASSWORDS

    response = client.post("/login?next=https://evil.example/", data={
        "username": "officer", "password": PASSWORDS["officer"]})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\n/evil.example/", "/\\evil.example/"])
def test_login_next_with_a_tab_or_backslash_stays_on_site(client, target):
    # Werkzeug drops the tab from the Location header, and browsers read "/\\" as "//":
    # either way the redirect would go to evil.example.
    from tests.conftest import PASSWORDS

    response = client.post("/login", query_string={"next": target}, data={
        "username": "officer", "password": PASSWORDS["officer"]})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_officer_files_a_document_through_the_forms(app, login_as, departments):
    client = login_as("officer")
    response = client.post("/customers/new", data={"name": "张伟", "kind": "person",
                                                   "department": departments["XS"].id})
    assert response.status_code == 302
    customer_url = response.headers["Location"]
    page = client.get(customer_url).get_data(as_text=True)
    assert "张伟" in page and "一户一档" in page
    response = client.post(customer_url + "/dossiers/new", data={
        "kind": "customer", "project": "翠湖苑", "building": "3", "unit_no": "2", "room": "1201",
        "classification": "1", "retention": "永久"})
    assert response.status_code == 302
    dossier_url = response.headers["Location"]
    response = client.post(dossier_url + "/upload", data={
        "title": "认购书", "category": "销售", "classification": "1",
        "file": (io.BytesIO(PDF), "认购书.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(dossier_url).get_data(as_text=True)
    assert "已归档：a 组第 1 号《认购书》" in page
    assert re.search(r'data-seq="1"[^<]*<td class="num">1</td>', page)
    for suffix, marker in (("/index", "卷内目录"), ("/remarks", "卷内备考表"), ("/cover", "建档日期")):
        body = client.get(dossier_url + suffix).get_data(as_text=True)
        assert marker in body and "@media print" not in body  # print CSS lives in app.css
    assert "内部" in client.get(dossier_url + "/cover").get_data(as_text=True)
    doc_url = re.search(r'href="(/documents/\d+)"', page).group(1)
    doc_page = client.get(doc_url).get_data(as_text=True)
    assert "pdf-preview" in doc_page
    preview = client.get(doc_url + "/preview")
    assert preview.status_code == 200 and preview.data == PDF
    assert "attachment" not in preview.headers.get("Content-Disposition", "")
    download = client.get(doc_url + "/download")
    assert "attachment" in download.headers["Content-Disposition"]


def test_upload_form_shows_chinese_error_and_stores_nothing(app, login_as, make_customer,
                                                            make_dossier):
    dossier = make_dossier(make_customer())
    client = login_as("officer")
    before = archive_state(app)
    response = client.post(f"/dossiers/{dossier.id}/upload", data={
        "title": "照片", "category": "其他",
        "file": (io.BytesIO(samples.make_png()), "伪装.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 415
    assert "扩展名" in response.get_data(as_text=True) or "类型" in response.get_data(as_text=True)
    assert archive_state(app) == before


def test_upload_form_preselects_the_dossier_level(login_as, make_customer, make_dossier):
    # The form must not force 内部 on a document filed into a 秘密 dossier.
    dossier = make_dossier(make_customer(), classification="秘密")
    page = login_as("officer").get(f"/dossiers/{dossier.id}/upload").get_data(as_text=True)
    assert re.search(r'<option value="2"\s+selected>', page)
    assert not re.search(r'<option value="1"\s+selected>', page)


def test_dossier_list_flags_unreadable_files_and_scans_without_a_text_layer(login_as, make_customer,
                                                                           make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, "购房合同", "签约", files=[("合同.pdf", samples.make_pdf("购房合同", ["买受人张伟。"]))])
    file_doc(dossier, "身份证扫描件", "销售", files=[("扫描.pdf", hostile_files.make_scan_pdf(1))])
    file_doc(dossier, "残缺合同", "签约", files=[("残缺.pdf", hostile_files.truncate(
        samples.make_pdf("残缺合同", ["买受人李娜。"]), 0.5))])
    page = login_as("officer").get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    rows = {title: row for row in page.split("<tr")[1:] for title in ("购房合同", "身份证扫描件", "残缺合同")
            if f">{title}</a>" in row}
    assert "未提取文字" not in rows["购房合同"] and "无文字层" not in rows["购房合同"]
    assert "无文字层（扫描件）" in rows["身份证扫描件"]
    assert "未提取文字" in rows["残缺合同"] and "无文字层" not in rows["残缺合同"]


def test_customer_list_filters_and_paginates(app, login_as, make_customer):
    for i in range(25):
        make_customer(f"客户{i:02d}", code=f"KH-P-{i:02d}")
    client = login_as("officer")
    first = client.get("/customers").get_data(as_text=True)
    assert "1 / 2" in first
    second = client.get("/customers?page=2").get_data(as_text=True)
    assert "KH-P-24" in second and "KH-P-00" not in second
    filtered = client.get("/customers?q=客户07").get_data(as_text=True)
    assert "KH-P-07" in filtered and "KH-P-08" not in filtered


def test_customer_search_takes_percent_and_underscore_as_typed(login_as, make_customer):
    """% and _ in the search box are characters, not LIKE wildcards (found by a probe:
    郭_飞 found 郭飞飞, and % found every customer)."""
    make_customer("郭飞飞", code="KH-W-01")
    make_customer("郭_飞", code="KH-W-02")
    client = login_as("officer")
    underscore = client.get("/customers?q=郭_飞").get_data(as_text=True)
    assert "KH-W-02" in underscore and "KH-W-01" not in underscore
    percent = client.get("/customers?q=%25").get_data(as_text=True)
    assert "KH-W-01" not in percent and "KH-W-02" not in percent


def test_english_switch(login_as):
    client = login_as("officer")
    client.get("/lang/en")
    assert "Customers" in client.get("/").get_data(as_text=True)


def test_unknown_pages_are_404_in_chinese(login_as):
    client = login_as("officer")
    for path in ("/customers/99999", "/dossiers/99999", "/documents/99999", "/nope"):
        response = client.get(path)
        assert response.status_code == 404 and "不存在" in response.get_data(as_text=True)


def test_security_headers_and_cookie_flags(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    from tests.conftest import PASSWORDS

    login = client.post("/login", data={"username": "staff", "password": PASSWORDS["staff"]})
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.fixture
def csrf_app(template_root, tmp_path):
    databases.copy(template_root, tmp_path)
    config = TestConfig(tmp_path)
    config.WTF_CSRF_ENABLED = True
    application = create_app(config)
    yield application
    application.extensions["search"].close()


def test_forms_without_csrf_token_are_refused(csrf_app):
    from tests.conftest import PASSWORDS

    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "officer", "password": PASSWORDS["officer"]})
    assert response.status_code == 400
    assert "安全令牌" in response.get_data(as_text=True)


def test_counts_never_include_what_the_reader_may_not_open(app, login_as, make_customer,
                                                           make_dossier, file_doc):
    customer = make_customer()
    dossier = make_dossier(customer)
    file_doc(dossier, "认购书", "销售")
    file_doc(dossier, "赔付协议", "赔付", classification="秘密")
    file_doc(dossier, "处理意见", "其他", classification="机密")
    officer = login_as("officer").get(f"/dossiers/{dossier.id}/remarks").get_data(as_text=True)
    assert '<b class="files-count">3</b>' in officer
    client = login_as("staff")
    assert client.get(f"/dossiers/{dossier.id}/remarks").status_code == 403
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "<td>1</td>" in page and "<td>3</td>" not in page
    listing = login_as("staff").get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "赔付协议" not in listing and "处理意见" not in listing


def test_a_page_past_the_end_goes_to_the_last_page(app, login_as, make_customer):
    make_customer("张伟")
    response = login_as("officer").get("/customers?page=99")
    assert response.status_code == 302 and response.headers["Location"].endswith("page=1")


def test_officer_references_a_case_file_by_its_number(app, login_as, make_customer,
                                                      make_dossier, file_doc, users):
    from archive.extensions import db
    from archive.services import customers as customer_service
    from archive.services import work
    from tests.conftest import NUMBER_FORMAT

    customer = make_customer()
    dossier = make_dossier(customer)
    judgment = file_doc(dossier, "民事判决书", "诉讼")
    with work.unit(db.session):
        customer_service.create_dossier(db.session, users["officer"], {
            "customer_id": customer.id, "kind": "case", "number": "(2024)粤0305民初9号",
            "title": "纠纷案"}, number_format=NUMBER_FORMAT)
    client = login_as("officer")
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "c-1 民事判决书" in page
    response = client.post(f"/dossiers/{dossier.id}/references", data={
        "to_dossier_number": "(2024)粤0305民初9号", "document_id": judgment.id})
    assert response.status_code == 302
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "(2024)粤0305民初9号" in page
    missing = client.post(f"/dossiers/{dossier.id}/references", data={
        "to_dossier_number": "不存在的案号"}, follow_redirects=True)
    assert "档案不存在" in missing.get_data(as_text=True)
