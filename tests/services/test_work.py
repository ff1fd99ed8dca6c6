"""The unit of work: whoever serves the user commits once; services never do.

What is committed is read through a second connection to the database, which sees only
what a commit has made durable (the test's own session sees its flushed rows too)."""

import pytest
from sqlalchemy import event

from archive import samples
from archive.extensions import db
from archive.models import Customer, Document, UploadKey
from archive.services import accounts, customers, filing, work
from archive.services.errors import Forbidden
from tests.conftest import NUMBER_FORMAT, archive_state
from tests.databases import committed

PDF = samples.make_pdf("认购书", ["客户王芳认购锦绣花园5栋1单元802：事务边界"])


def _customers(app, name: str) -> int:
    return committed(app, "SELECT count(*) FROM customers WHERE name = :name", name=name)


def _events(app, action: str, outcome: str = "ok") -> int:
    return committed(app, "SELECT count(*) FROM audit_events WHERE action = :action "
                     "AND outcome = :outcome", action=action, outcome=outcome)


@pytest.fixture
def commits(app):
    """How many times the database has committed since the test began. The engine's
    `commit` event, not the session's `after_commit`: that one also fires when a savepoint
    (`work.insert`) is released, which commits nothing."""
    counted = []

    def count(_connection):
        counted.append(1)
    event.listen(db.engine, "commit", count)
    yield counted
    event.remove(db.engine, "commit", count)


def test_a_unit_commits_everything_together(app, users, departments):
    with work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        assert _customers(app, "王芳") == 0, "nothing is committed before the unit ends"
    assert _customers(app, "王芳") == 1
    assert _events(app, "customer.created") == 1


def test_an_error_inside_a_unit_leaves_nothing(app, users, departments, make_customer):
    customer = make_customer("李娜")
    before = committed(app, "SELECT count(*) FROM audit_events")
    with pytest.raises(RuntimeError), work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        customers.create_dossier(db.session, users["officer"], {
            "customer_id": customer.id, "project": "锦绣花园", "building": "5", "unit_no": "1",
            "room": "802"}, number_format=NUMBER_FORMAT)
        raise RuntimeError("the connection dropped half-way")
    assert _customers(app, "王芳") == 0
    assert committed(app, "SELECT count(*) FROM dossiers") == 0
    assert committed(app, "SELECT count(*) FROM audit_events") == before
    assert db.session.query(Customer).filter_by(name="王芳").count() == 0


def test_after_commit_hooks_run_once_the_commit_is_durable(app, users, departments):
    seen = []
    with work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        work.after_commit(db.session, lambda: seen.append(_customers(app, "王芳")))
        assert seen == []
    assert seen == [1]  # ran after the commit, which a second connection already sees
    with work.unit(db.session):
        pass
    assert seen == [1], "a hook runs once, not again after the next unit"


def test_after_commit_hooks_never_run_after_a_rollback(app, users, departments):
    seen = []
    with pytest.raises(RuntimeError), work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        work.after_commit(db.session, lambda: seen.append("indexed"))
        raise RuntimeError("refused")
    with work.unit(db.session):  # the next unit does not inherit the failed one's hooks
        pass
    assert seen == []


def test_after_rollback_hooks_run_only_when_the_unit_fails(app):
    undone = []
    with work.unit(db.session):
        work.after_rollback(db.session, lambda: undone.append("committed unit"))
    with pytest.raises(RuntimeError), work.unit(db.session):
        work.after_rollback(db.session, lambda: undone.append("failed unit"))
        raise RuntimeError("refused")
    assert undone == ["failed unit"]


def test_nested_units_commit_once_at_the_outermost(app, users, departments, commits):
    with work.unit(db.session):
        with work.unit(db.session):
            customers.create_customer(db.session, users["officer"],
                                      {"name": "王芳", "department": departments["XS"].id})
        assert _customers(app, "王芳") == 0, "the inner unit joined the outer one"
        with work.unit(db.session):
            customers.create_customer(db.session, users["officer"],
                                      {"name": "李娜", "department": departments["XS"].id})
    assert len(commits) == 1
    assert _customers(app, "王芳") == 1 and _customers(app, "李娜") == 1


def test_an_error_in_a_nested_unit_rolls_back_the_outermost(app, users, departments):
    with pytest.raises(RuntimeError), work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        with work.unit(db.session):
            raise RuntimeError("refused inside a helper")
    assert _customers(app, "王芳") == 0


def test_a_refusal_is_recorded_while_the_unit_it_ended_is_rolled_back(app, users, departments):
    seen, undone = [], []
    with pytest.raises(Forbidden), work.unit(db.session):
        customers.create_customer(db.session, users["officer"],
                                  {"name": "王芳", "department": departments["XS"].id})
        work.after_commit(db.session, lambda: seen.append("indexed"))
        work.after_rollback(db.session, lambda: undone.append("blob removed"))
        work.record_refusal(db.session, users["staff"], "customer.export", None, reason="测试")
        raise Forbidden("无权导出")
    assert _customers(app, "王芳") == 0
    assert _events(app, "customer.created") == 0
    assert _events(app, "customer.export", "denied") == 1
    assert seen == [] and undone == ["blob removed"]


def test_services_do_not_commit(app, users, departments, make_customer):
    """Whoever serves the user commits: what a service did is undone by a rollback."""
    officer = users["officer"]
    customer = make_customer("李娜")
    before = archive_state(app)
    customers.create_customer(db.session, officer, {"name": "王芳",
                                                    "department": departments["XS"].id})
    customers.create_dossier(db.session, officer, {
        "customer_id": customer.id, "project": "锦绣花园", "building": "5", "unit_no": "1",
        "room": "802"}, number_format=NUMBER_FORMAT)
    accounts.create_token(db.session, officer)
    customers.get_customer(db.session, officer, customer.id)
    db.session.rollback()
    assert db.session.query(Customer).filter_by(name="王芳").count() == 0
    assert archive_state(app) == before
    assert committed(app, "SELECT count(*) FROM api_tokens") == 0
    assert _events(app, "customer.viewed") == 0


def test_a_failed_unit_removes_the_blobs_its_filing_stored(app, users, make_customer,
                                                           make_dossier):
    dossier = make_dossier(make_customer())
    before = archive_state(app)
    with pytest.raises(RuntimeError), work.unit(db.session):
        filing.file_document(db.session, users["officer"], dossier.id,
                             {"title": "认购书", "category": "销售"},
                             [filing.Upload("a.pdf", PDF)], store=app.extensions["blob_store"],
                             limits=filing.Limits.from_config(app.config))
        raise RuntimeError("the request failed after filing")
    assert archive_state(app) == before
    assert app.extensions["search"].document_ids() == set()


def test_the_same_key_filed_twice_at_once_files_one_document(app, users, make_customer,
                                                             make_dossier):
    """Two requests with one idempotency key both pass the checks before either writes:
    the second to write answers the first's document (its savepoint undone, nothing else)."""
    dossier = make_dossier(make_customer())
    limits, store = filing.Limits.from_config(app.config), app.extensions["blob_store"]
    data, uploads = {"title": "认购书", "category": "销售"}, [filing.Upload("a.pdf", PDF)]
    intakes = []
    for _ in range(2):
        with work.unit(db.session):
            intakes.append(filing.preflight(db.session, users["officer"], dossier.id, data,
                                            uploads, limits=limits, key="retry-7"))
        filing.read_files(intakes[-1])
    with work.unit(db.session):
        first, replayed = filing.file_intake(db.session, intakes[0], store=store)
    assert not replayed
    before = archive_state(app)
    with work.unit(db.session):
        again, replayed = filing.file_intake(db.session, intakes[1], store=store)
    assert replayed and again.id == first.id
    assert archive_state(app) == before
    assert db.session.query(Document).count() == db.session.query(UploadKey).count() == 1
    assert _events(app, "document.upload_replayed") == 1


# -- refusals and failures outlive the request's rolled-back unit ----------------------

def test_a_wrong_old_password_is_on_the_record(app, login_as):
    client = login_as("staff")
    response = client.post("/account/password", data={
        "old": "not-the-password-1", "new": "Another-pass-2026", "confirm": "Another-pass-2026"})
    assert response.status_code == 422
    assert _events(app, "password.change_failed", "denied") == 1
    assert _events(app, "password.changed") == 0


def test_a_blob_that_cannot_be_read_is_on_the_record(app, login_as, make_customer,
                                                     make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), files=[("a.pdf", PDF)])
    path = app.extensions["blob_store"].path_for(document.files[0].sha256)
    path.chmod(0o644)
    path.write_bytes(PDF[:-10] + b"0000000000")
    response = login_as("officer").get(f"/documents/{document.id}/download")
    assert response.status_code == 500 and PDF[:100] not in response.data
    assert _events(app, "document.download", "error") == 1
    assert _events(app, "document.download") == 0


def test_a_search_while_the_index_is_gone_is_on_the_record(app, client, api, make_customer,
                                                           make_dossier, file_doc):
    import shutil
    import time

    from archive.services import indexing

    file_doc(make_dossier(make_customer()), files=[("a.pdf", PDF)])
    headers = api("officer")
    shutil.rmtree(app.config["INDEX_DIR"])
    try:
        refused = client.get("/api/v1/search", query_string={"q": "事务边界"}, headers=headers)
        assert refused.status_code == 503
        assert _events(app, "search", "error") == 1
    finally:  # the refusal started a repair: let it finish before the app is torn down
        deadline = time.monotonic() + 60
        while indexing._repairing.locked() and time.monotonic() < deadline:
            time.sleep(0.05)
