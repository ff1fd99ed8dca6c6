"""flask --app archive …: users, tokens, storage checks, schema and index (DESIGN §4)."""

import pytest

from archive import samples
from archive.extensions import db
from archive.models import Level, User
from tests.conftest import login

GOOD_PASSWORD = "Cli-pass-2026"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def _run(*args, input=None):
        return runner.invoke(args=list(args), input=input)
    return _run


def _user(name) -> User | None:
    db.session.expire_all()
    return db.session.query(User).filter_by(username=name).one_or_none()


@pytest.mark.parametrize("department, clearance, level", [
    ("销售经营部", "秘密", Level.SECRET),
    ("XS", "confidential", Level.CONFIDENTIAL),
    ("id", "公开", Level.PUBLIC),
    ("id", "top_secret", Level.TOP_SECRET),
])
def test_create_user_reads_the_password_from_stdin(app, cli, client, departments, department,
                                                   clearance, level):
    if department == "id":
        department = str(departments["XS"].id)
    result = cli("create-user", "zhangsan", "--role", "staff", "--department", department,
                 "--clearance", clearance, input=GOOD_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "已创建用户 zhangsan" in result.output
    user = _user("zhangsan")
    assert (user.role, user.clearance, user.department_id) == (
        "staff", int(level), departments["XS"].id)
    assert GOOD_PASSWORD not in user.password_hash
    assert login(client, "zhangsan", GOOD_PASSWORD).status_code == 302


@pytest.mark.parametrize("args, password, message", [
    (["--role", "janitor"], GOOD_PASSWORD, "未知角色"),
    (["--role", "staff", "--clearance", "超级机密"], GOOD_PASSWORD, "未知密级"),
    (["--role", "staff", "--department", "不存在的部门"], GOOD_PASSWORD, "部门不存在"),
    (["--role", "staff"], "short1", "密码至少"),
    (["--role", "staff"], "onlyletters-password", "字母和数字"),
    (["--role", "staff"], "", "密码至少"),
])
def test_create_user_refuses_bad_input_with_a_message(cli, args, password, message):
    result = cli("create-user", "lisi", *args, input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert _user("lisi") is None


def test_create_user_refuses_an_existing_name(cli):
    result = cli("create-user", "staff", "--role", "staff", input=GOOD_PASSWORD + "\n")
    assert result.exit_code != 0 and "用户已存在" in result.output


def test_create_token_prints_a_working_token_on_its_last_line(app, cli, client):
    result = cli("create-token", "officer")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("jz_") and " " not in token
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "customers" in response.get_json()
    bad = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}x"})
    assert bad.status_code == 401


def test_create_token_for_an_unknown_user_fails(cli):
    result = cli("create-token", "ghost")
    assert result.exit_code != 0 and "用户不存在" in result.output


def test_verify_storage_names_the_missing_and_the_corrupted_blob(app, cli, make_customer,
                                                                 make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    docs = [file_doc(dossier, title, files=[(f"{title}.pdf", samples.make_pdf(title, [title]))])
            for title in ("认购书", "购房合同", "入伙通知")]
    clean = cli("verify-storage")
    assert clean.exit_code == 0, clean.output
    assert "问题 0 个" in clean.output
    store = app.extensions["blob_store"]
    missing, corrupted, intact = (d.files[0].sha256 for d in docs)
    store.path_for(missing).unlink()
    path = store.path_for(corrupted)
    path.write_bytes(path.read_bytes() + b"tampered")
    result = cli("verify-storage")
    assert result.exit_code != 0
    lines = result.output.splitlines()
    assert any(line.startswith("缺失") and missing in line and "认购书" in line for line in lines)
    assert any(line.startswith("已损坏") and corrupted in line and "购房合同" in line
               for line in lines)
    assert intact not in result.output
    assert "问题 2 个" in result.output


def test_init_db_is_idempotent(app, cli):
    users_before = db.session.query(User).count()
    db.session.rollback()  # every transaction takes SQLite's write lock (BEGIN IMMEDIATE)
    for _ in range(2):
        result = cli("init-db")
        assert result.exit_code == 0, result.output
        assert "数据库已就绪" in result.output
    assert db.session.query(User).count() == users_before


def test_reindex_rebuilds_the_search_index_from_the_database(app, cli, api, make_customer,
                                                            make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, "维修记录", "维修", files=[("维修.pdf", samples.make_pdf(
        "维修记录", ["卫生间漏水已于三日内修复。"]))])
    result = cli("reindex")
    assert result.exit_code == 0, result.output
    assert "索引已重建：1 份文件" in result.output
    hits = app.test_client().get("/api/v1/search?q=漏水", headers=api("officer")).get_json()
    assert [h["title"] for h in hits["hits"]] == ["维修记录"]
    pending = cli("reindex", "--pending-only")
    assert pending.exit_code == 0, pending.output


def test_reindex_if_needed_rebuilds_only_an_index_that_lacks_documents(app, cli, api, make_customer,
                                                                      make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), "维修记录", "维修", files=[
        ("维修.pdf", samples.make_pdf("维修记录", ["卫生间漏水已于三日内修复。"]))])
    complete = cli("reindex", "--if-needed")
    assert complete.exit_code == 0, complete.output
    assert "索引完整，无需重建" in complete.output
    # As after an upgrade that replaced an index of an older format with an empty one.
    app.extensions["search"].remove_document(document.id)
    rebuilt = cli("reindex", "--if-needed")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "索引已重建：1 份文件" in rebuilt.output
    hits = app.test_client().get("/api/v1/search?q=漏水", headers=api("officer")).get_json()
    assert [h["title"] for h in hits["hits"]] == ["维修记录"]


def test_create_department_then_a_user_in_it(cli):
    result = cli("create-department", "工程部", "--code", "GC")
    assert result.exit_code == 0, result.output
    assert "工程部" in result.output
    again = cli("create-department", "工程部")
    assert again.exit_code != 0 and "已存在" in again.output
    made = cli("create-user", "gc_staff", "--role", "staff", "--department", "工程部",
               "--clearance", "内部", input=GOOD_PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    user = _user("gc_staff")
    assert user.department.name == "工程部" and user.level is Level.INTERNAL
