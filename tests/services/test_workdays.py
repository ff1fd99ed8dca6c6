"""Working days (issue 16 loan periods, issue 19 transfer deadlines): Monday to Friday,
but for the holidays and 调休 workdays of the one calendar table, seeded from the State
Council's notices for 2025 and 2026 and kept by the administrator, every change audited.
Expected dates are worked out by hand from the notices."""

import json
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from archive.extensions import db
from archive.models import AuditEvent, CalendarDay
from archive.services import work, workdays
from archive.services.errors import Forbidden, Invalid, NotFound


def _d(text: str) -> date:
    return date.fromisoformat(text)


@contextmanager
def _queries():
    """The calendar table's reads inside the block."""
    seen = []

    def listen(conn, cursor, statement, *args):
        if "FROM calendar_days" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def _state(session) -> dict:
    """The calendar's rows and the audit trail's length: what a refusal leaves alone."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name,
                                  CalendarDay.created_by_id)).all()
    return {"days": sorted(map(tuple, rows)),
            "events": session.scalar(select(func.count()).select_from(AuditEvent))}


def _events(session, action: str) -> list[AuditEvent]:
    return session.execute(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.seq)).scalars().all()


# ---- the seeded notices ---------------------------------------------------------------

def test_the_notices_for_2025_and_2026_are_seeded(session):
    def year(y):
        return {(r.day.isoformat(), r.kind, r.name) for r in workdays.list_year(session, y)}

    seeded_2025, seeded_2026 = year(2025), year(2026)
    # 元旦 1, 春节 8, 清明 3, 劳动节 5, 端午 3, 国庆中秋 8 days off; five weekends worked.
    assert sum(k == "holiday" for _, k, _ in seeded_2025) == 28
    assert {d for d, k, _ in seeded_2025 if k == "workday"} == {
        "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"}
    # 元旦 3, 春节 9, 清明 3, 劳动节 5, 端午 3, 中秋 3, 国庆 7 days off; six weekends worked.
    assert sum(k == "holiday" for _, k, _ in seeded_2026) == 33
    assert {d for d, k, _ in seeded_2026 if k == "workday"} == {
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}
    assert ("2025-10-01", "holiday", "国庆节、中秋节") in seeded_2025
    assert ("2026-02-15", "holiday", "春节") in seeded_2026
    assert ("2025-10-11", "workday", "国庆调休") in seeded_2025
    assert workdays.list_year(session, 2027) == []


# ---- is a day a working day -----------------------------------------------------------

@pytest.mark.parametrize("day, works", [
    ("2025-03-03", True),  # an ordinary Monday
    ("2025-03-07", True),  # an ordinary Friday
    ("2025-03-08", False),  # an ordinary Saturday
    ("2025-03-09", False),  # an ordinary Sunday
    ("2025-10-01", False),  # 国庆节, a Wednesday
    ("2025-05-05", False),  # 劳动节, a Monday
    ("2026-02-23", False),  # 春节, a Monday
    ("2025-10-04", False),  # a Saturday inside 国庆节
    ("2025-10-11", True),  # 国庆调休, a Saturday worked
    ("2025-09-28", True),  # 国庆调休, a Sunday worked
    ("2026-01-04", True),  # 元旦调休, a Sunday worked
])
def test_is_workday(session, day, works):
    assert workdays.is_workday(session, _d(day)) is works


# ---- counting working days ------------------------------------------------------------

@pytest.mark.parametrize("n, due", [
    (0, "2025-09-26"),
    (1, "2025-09-28"),  # Sunday worked (国庆调休)
    (2, "2025-09-29"),
    (3, "2025-09-30"),
    (4, "2025-10-09"),  # 10-01 to 10-08 off
    (5, "2025-10-10"),
    (6, "2025-10-11"),  # Saturday worked (国庆调休)
    (7, "2025-10-13"),  # Sunday 10-12 off
])
def test_add_workdays_across_the_2025_national_day_week(session, n, due):
    assert workdays.add_workdays(session, _d("2025-09-26"), n) == _d(due)  # from a Friday


@pytest.mark.parametrize("start, n, due", [
    ("2025-12-26", 3, "2025-12-31"),
    ("2025-12-26", 4, "2026-01-04"),  # 元旦 01-01 to 01-03 off, Sunday 01-04 worked
    ("2025-12-31", 2, "2026-01-05"),
    ("2026-02-13", 1, "2026-02-14"),  # Saturday worked before 春节
    ("2026-02-13", 2, "2026-02-24"),  # 春节 02-15 to 02-23 off
    ("2026-02-24", 4, "2026-02-28"),  # Saturday worked after 春节
    ("2027-03-05", 1, "2027-03-08"),  # a year no notice is seeded for: Monday to Friday
])
def test_add_workdays_across_a_year_end_and_spring_festival(session, start, n, due):
    assert workdays.add_workdays(session, _d(start), n) == _d(due)


def test_workdays_between_counts_back_what_add_workdays_counted(session):
    start = _d("2025-09-26")
    for n in range(0, 30):
        assert workdays.workdays_between(session, start, workdays.add_workdays(session, start, n)) == n
    assert workdays.workdays_between(session, _d("2025-10-13"), start) == -7
    assert workdays.workdays_between(session, _d("2025-09-30"), _d("2025-10-08")) == 0
    # 2025: 365 days, 104 weekend days; of the 28 days off 18 fall Monday to Friday
    # (元旦 1, 春节 6, 清明 1, 劳动节 3, 端午 1, 国庆 6); 5 weekend days worked.
    assert workdays.workdays_between(session, _d("2024-12-31"), _d("2025-12-31")) == \
        365 - 104 - 18 + 5
    # 2026: 104 weekend days; 19 weekdays off (元旦 2, 春节 6, 清明 1, 劳动节 3, 端午 1,
    # 中秋 1, 国庆 5); 6 weekend days worked.
    assert workdays.workdays_between(session, _d("2025-12-31"), _d("2026-12-31")) == \
        365 - 104 - 19 + 6


def test_a_deadline_runs_to_the_end_of_its_working_day(session):
    # Times are stored in UTC: 08:30 is 16:30 Beijing time, 15:59:59 is 23:59:59 there.
    assert workdays.deadline(session, datetime(2025, 9, 30, 8, 30), 1) == \
        datetime(2025, 10, 9, 15, 59, 59)
    assert workdays.deadline(session, _d("2025-12-31"), 1) == datetime(2026, 1, 4, 15, 59, 59)
    assert workdays.end_of_day(_d("2025-10-10")) == datetime(2025, 10, 10, 15, 59, 59)


def test_a_count_reads_the_table_once_not_per_day(session):
    with _queries() as seen:
        assert workdays.add_workdays(session, _d("2025-09-26"), 7) == _d("2025-10-13")
    assert len(seen) == 1
    with _queries() as seen:
        workdays.workdays_between(session, _d("2024-12-31"), _d("2026-12-31"))
    assert len(seen) == 1
    # One calendar answers many questions within what it has read without asking again.
    calendar = workdays.calendar(session)
    with _queries() as seen:
        due = [calendar.add(_d("2025-09-22") + timedelta(days=i), 5) for i in range(10)]
        assert all(calendar.is_workday(d) for d in due)
    assert len(seen) == 1
    # A long count outruns the range first read and reads on. 2025 and 2026 have 248
    # working days each (see below); 2027 has no notice yet: Friday 01-01, then Monday on.
    with _queries() as seen:
        assert workdays.add_workdays(session, _d("2025-01-01"), 500) == _d("2027-01-06")
    assert len(seen) == 2


def test_the_administrators_changes_count_at_once(session, users):
    with work.unit(session):
        workdays.set_day(session, users["admin"], {"date": "2025-10-09", "kind": "holiday",
                                                  "name": "公司调整"})
    assert workdays.add_workdays(session, _d("2025-09-30"), 1) == _d("2025-10-10")
    with work.unit(session):
        workdays.remove_day(session, users["admin"], "2025-10-11")
    assert not workdays.is_workday(session, _d("2025-10-11"))
    # 09-28, 09-29, 09-30, then 10-10 and Monday 10-13, 10-14.
    assert workdays.add_workdays(session, _d("2025-09-26"), 6) == _d("2025-10-14")


# ---- the administrator's table --------------------------------------------------------

def test_setting_a_day_is_audited_and_replacing_it_records_what_it_replaced(session, users):
    admin = users["admin"]
    with work.unit(session):
        row = workdays.set_day(session, admin, {"date": "2027-10-01", "kind": "holiday",
                                                "name": " 国庆节 "})
    assert (row.day, row.kind, row.name, row.created_by_id) == (
        _d("2027-10-01"), "holiday", "国庆节", admin.id)
    with work.unit(session):
        workdays.set_day(session, admin, {"date": "2027-10-01", "kind": "holiday",
                                          "name": "国庆节、中秋节"})
    assert session.get(CalendarDay, _d("2027-10-01")).name == "国庆节、中秋节"
    first, second = _events(session, "calendar.day_set")
    assert (first.actor_id, first.object_type, first.object_id) == (
        admin.id, "calendar_day", "2027-10-01")
    assert json.loads(first.details) == {"kind": "holiday", "name": "国庆节"}
    assert json.loads(second.details) == {"kind": "holiday", "name": "国庆节、中秋节",
                                          "previous_kind": "holiday", "previous_name": "国庆节"}


def test_removing_a_day_is_audited(session, users):
    with work.unit(session):
        removed = workdays.remove_day(session, users["admin"], "2025-09-28")
    assert removed.name == "国庆调休"
    assert session.get(CalendarDay, _d("2025-09-28")) is None
    (event_,) = _events(session, "calendar.day_removed")
    assert event_.object_id == "2025-09-28"
    assert json.loads(event_.details) == {"kind": "workday", "name": "国庆调休"}


@pytest.mark.parametrize("data, field", [
    ({"date": "2025-13-01", "kind": "holiday", "name": "节"}, "date"),
    ({"date": "2025/10/01", "kind": "holiday", "name": "节"}, "date"),
    ({"date": "20251001", "kind": "holiday", "name": "节"}, "date"),
    ({"date": "２０２５-10-01", "kind": "holiday", "name": "节"}, "date"),  # full-width digits
    ({"date": "", "kind": "holiday", "name": "节"}, "date"),
    ({"date": ["2025-10-01"], "kind": "holiday", "name": "节"}, "date"),
    ({"date": "1999-10-01", "kind": "holiday", "name": "节"}, "date"),
    ({"date": "2100-01-01", "kind": "holiday", "name": "节"}, "date"),
    ({"date": "2025-10-01", "kind": "vacation", "name": "节"}, "kind"),
    ({"date": "2025-10-01", "name": "节"}, "kind"),
    ({"date": "2025-10-01", "kind": "holiday", "name": "  "}, "name"),
    ({"date": "2025-10-01", "kind": "holiday", "name": "节" * 51}, "name"),
    ({"date": "2025-10-01", "kind": "holiday", "name": "国庆\u202e节"}, "name"),
    # A weekday is a working day already: 调休 only turns a weekend into one.
    ({"date": "2025-10-09", "kind": "workday", "name": "调休"}, "kind"),
])
def test_bad_input_is_refused_in_chinese_and_changes_nothing(session, users, data, field):
    before = _state(session)
    with pytest.raises(Invalid) as refused, work.unit(session):
        workdays.set_day(session, users["admin"], data)
    assert refused.value.details["field"] == field
    assert any("\u4e00" <= c <= "\u9fff" for c in refused.value.message)
    assert _state(session) == before


def test_a_name_of_fifty_characters_is_taken(session, users):
    with work.unit(session):
        row = workdays.set_day(session, users["admin"],
                               {"date": "2027-01-01", "kind": "holiday", "name": "元" * 50})
    assert len(row.name) == 50


def test_removing_a_day_not_listed_or_malformed_changes_nothing(session, users):
    before = _state(session)
    with pytest.raises(NotFound), work.unit(session):
        workdays.remove_day(session, users["admin"], "2025-10-09")
    with pytest.raises(Invalid), work.unit(session):
        workdays.remove_day(session, users["admin"], "2025-10-99")
    assert _state(session) == before


@pytest.mark.parametrize("username", ["officer", "staff", "gm", "gmoffice", "auditor"])
def test_only_the_administrator_keeps_the_calendar(session, users, username):
    before = _state(session)
    with pytest.raises(Forbidden), work.unit(session):
        workdays.set_day(session, users[username], {"date": "2025-10-09", "kind": "holiday",
                                                    "name": "节"})
    with pytest.raises(Forbidden), work.unit(session):
        workdays.remove_day(session, users[username], "2025-10-01")
    assert _state(session) == before


@pytest.mark.parametrize("value", [None, "", "abc", "1999", "2100", "２０２５", "-2025", "2025.0"])
def test_a_listing_year_is_a_year_within_range(value):
    if value in (None, ""):
        assert workdays.parse_year(value) == date.today().year
        return
    with pytest.raises(Invalid):
        workdays.parse_year(value)
