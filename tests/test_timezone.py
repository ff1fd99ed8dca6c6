"""Times in the archive's time zone (issue 18, docs/timezone-and-docx.md part 1): one
setting, ARCHIVE_TIMEZONE, is the zone every page, form, CSV and API answer shows times in."""

import os
import time
from datetime import UTC, date, datetime

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from archive import clock, create_app
from archive.extensions import db
from archive.models import AuditEvent, Document, Level, Loan, User, utc_cutover
from archive.services import accounts, audit, loans, work
from config import TestConfig
from tests import databases
from tests.conftest import login

# A stored time: 02:15 UTC on 2 December.
STORED = datetime(2026, 12, 2, 2, 15)


@pytest.fixture(autouse=True)
def _zone_back():
    yield
    clock.set_zone(clock.DEFAULT_ZONE)


def _app_in(root, zone):
    config = TestConfig(root)
    config.ARCHIVE_TIMEZONE = zone
    return create_app(config)


@pytest.fixture
def filed(app, make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()))
    with work.unit(db.session):
        db.session.get(Document, document.id).created_at = STORED
    return document.id


def _shown(app, document_id, headers):
    """The document page's 归档 time and the API's created_at, as `app` gives them."""
    client = app.test_client()
    with app.app_context():
        login(client, "officer")
        page = client.get(f"/documents/{document_id}").get_data(as_text=True)
        body = client.get(f"/api/v1/documents/{document_id}", headers=headers).get_json()
    return next(line for line in page.splitlines() if "归档</dt>" in line), body["created_at"]


def test_a_time_is_shown_in_the_archive_zone_and_moves_with_the_setting(app, api, filed,
                                                                        tmp_path):
    headers = api("officer")
    line, api_time = _shown(app, filed, headers)
    assert "2026-12-02 10:15" in line
    assert api_time == "2026-12-02T10:15:00+08:00"

    berlin = _app_in(tmp_path, "Europe/Berlin")
    try:
        line, api_time = _shown(berlin, filed, headers)
    finally:
        berlin.extensions["search"].close()
    assert "2026-12-02 03:15" in line
    assert api_time == "2026-12-02T03:15:00+01:00"


def test_an_unknown_zone_stops_the_app_with_its_name(tmp_path):
    with pytest.raises(ValueError, match="Mars/Olympus"):
        _app_in(tmp_path, "Mars/Olympus")


# ---- the cut-over: stored times become UTC, the audit chain's old times stay as written ----

CUTOVER = "a18z0c0de018"
# One instant, 2 December 10:15 in Beijing: the old clock wrote it as the server's local
# time (Asia/Shanghai, the reference server), the new one writes it as UTC.
WRITTEN_LOCAL = datetime(2026, 12, 2, 10, 15)
WRITTEN_UTC = datetime(2026, 12, 2, 2, 15)


def _set_clock(moment: datetime) -> None:
    clock.reset()
    clock.travel(moment - clock.now())


@pytest.fixture
def server_tz():
    """server_tz(name): run as a server whose own time zone (TZ) is `name`."""
    before = os.environ.get("TZ")

    def _set(name):
        os.environ["TZ"] = name
        time.tzset()
    yield _set
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
    clock.reset()


@pytest.fixture(scope="module")
def migrated_across(tmp_path_factory):
    """An archive that ran before the cut-over (an auditor created and one event recorded
    at 10:15 Beijing time, written as local time), then was migrated, then recorded an
    event at the same instant in UTC."""
    root = tmp_path_factory.mktemp("cutover")
    databases.create_empty(root)
    app = create_app(TestConfig(root))
    try:
        with app.app_context():
            scripts = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
            flask_migrate.upgrade(revision=scripts.get_revision(CUTOVER).down_revision)
            _set_clock(WRITTEN_LOCAL)
            with work.unit(db.session):
                auditor = accounts.create_user(
                    db.session, username="auditor", password=PASSWORD, role="auditor",
                    clearance=Level.TOP_SECRET, department_id=None, display_name="审计")
                audit.record(db.session, auditor, "test.before_cutover")
            db.session.remove()
            flask_migrate.upgrade()
            _set_clock(WRITTEN_UTC)
            with work.unit(db.session):
                audit.record(db.session, db.session.get(User, auditor.id), "test.after_cutover")
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.reset()
        app.extensions["search"].close()
    return root


@pytest.fixture
def across(migrated_across, tmp_path):
    """A copy of that archive's database and its app."""
    databases.copy(migrated_across, tmp_path)
    app = create_app(TestConfig(tmp_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    app.extensions["search"].close()


PASSWORD = "Jz2026-cutover-1"


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0)


def _events(session) -> dict:
    return {e.action: e for e in session.execute(select(AuditEvent)).scalars()}


@pytest.mark.parametrize("server_zone", ["UTC", "Asia/Shanghai"])
def test_events_before_and_after_the_cutover_show_the_same_wall_clock_time(
        across, server_tz, server_zone):
    server_tz(server_zone)
    events = _events(db.session)
    before, after = events["test.before_cutover"], events["test.after_cutover"]
    # As written, both kept (to the minute: the clock runs on while the test writes).
    assert _minute(before.at) == WRITTEN_LOCAL and _minute(after.at) == WRITTEN_UTC
    assert _minute(before.utc_at) == _minute(after.utc_at) == WRITTEN_UTC
    db.session.commit()

    client = across.test_client()
    login(client, "auditor", PASSWORD)
    page = client.get("/audit").get_data(as_text=True)
    for action in ("test.before_cutover", "test.after_cutover"):
        row = next(line for line in page.splitlines() if f'data-action="{action}"' in line)
        assert "<td>2026-12-02 10:15:" in row, row
    csv_text = client.get("/audit/export.csv").get_data(as_text=True)
    shown = [line for line in csv_text.splitlines() if "_cutover" in line]
    assert len(shown) == 2 and all(",2026-12-02T10:15:" in line for line in shown)

    # A time written now, under this server's zone, is UTC like the one after the cut-over.
    with work.unit(db.session):
        event = audit.record(db.session, None, "test.now")
    assert abs(event.at - datetime.now(UTC).replace(tzinfo=None)).total_seconds() < 60


def test_the_migration_converts_the_other_times_and_records_the_cutover(across):
    cut = utc_cutover(db.session)
    assert (cut.audit_seq, cut.legacy_zone) == (3, "Asia/Shanghai")  # user created, event
    auditor = db.session.execute(select(User).where(User.username == "auditor")).scalar_one()
    assert _minute(auditor.created_at) == WRITTEN_UTC
    db.session.commit()


def test_verify_audit_passes_across_the_cutover(across):
    result = across.test_cli_runner().invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output
    assert "审计链完整" in result.output and "3 条事件" in result.output


def test_the_audit_filters_read_times_in_the_archive_zone_on_both_sides(across):
    def found(**params):
        events = db.session.execute(audit.query(db.session, **audit.filters(params))).scalars()
        return {e.action for e in events} & {"test.before_cutover", "test.after_cutover"}

    both = {"test.before_cutover", "test.after_cutover"}
    assert found(**{"from": "2026-12-02", "to": "2026-12-02"}) == both
    assert found(**{"from": "2026-12-02T10:14", "to": "2026-12-02T10:17"}) == both
    assert found(**{"from": "2026-12-02T10:17"}) == set()
    assert found(**{"to": "2026-12-02T10:14"}) == set()
    assert found(**{"from": "2026-12-03"}) == set()
    db.session.commit()


def test_fixing_an_old_events_time_is_caught_by_the_chain(across):
    event = _events(db.session)["test.before_cutover"]
    seq = event.seq
    # "Correct" the old local time to the UTC it means: the same instant, other bytes.
    db.session.execute(text("UPDATE audit_events SET at = :at WHERE seq = :seq"),
                       {"at": WRITTEN_UTC, "seq": seq})
    db.session.commit()
    db.session.remove()  # the CLI reads the rows afresh
    result = across.test_cli_runner().invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert f"事件 #{seq} 的内容被篡改" in result.output


# ---- the archive's day: between 00:00 and 08:00 Beijing time UTC's date is the day before ----

def test_loan_due_and_overdue_days_count_the_archive_day_across_beijing_midnight(app,
                                                                                   server_tz):
    server_tz("UTC")
    # Friday 4 December 01:30 in Beijing; in UTC still Thursday 3 December.
    _set_clock(datetime(2026, 12, 3, 17, 30))
    assert clock.today() == date(2026, 12, 4)
    due, words = loans.limit(db.session, Level.CONFIDENTIAL, clock.now())
    # Five working days after Friday 4 December: Mon 7 … Fri 11, to 23:59:59 Beijing time.
    assert clock.local(due).replace(tzinfo=None) == datetime(2026, 12, 11, 23, 59, 59)
    assert due == datetime(2026, 12, 11, 15, 59, 59)
    due, _ = loans.limit(db.session, Level.INTERNAL, clock.now())
    assert clock.local(due).date() == date(2026, 12, 18)  # 14 days from the 4th
    db.session.commit()

    loan = Loan(due_at=datetime(2026, 12, 11, 15, 59, 59))
    # Saturday 12 December 01:00 in Beijing (Friday 17:00 UTC): one day overdue.
    assert loans.days_overdue(loan, datetime(2026, 12, 11, 17, 0)) == 1
    assert loans.days_overdue(loan, datetime(2026, 12, 11, 15, 0)) == 0
