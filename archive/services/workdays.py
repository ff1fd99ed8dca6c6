"""Working days: Monday to Friday unless the calendar table makes the day a holiday, and
a Saturday or Sunday only where it makes it a workday (调休). Loan periods (issue 16) and
transfer deadlines (issue 19, e.g. "within 5 working days of the subscription", 000:750)
count on them.

A question about a range of days reads the table's rows for that range once (`Calendar`),
never one query per day. The administrator keeps the table from the State Council's
notice each year (`set_day`, `remove_day`), every change audited.
"""

import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from archive.clock import local, now, to_utc, today
from archive.models import CalendarDay, DayKind, User
from archive.services import access, audit, validation
from archive.services.errors import Invalid, NotFound

MIN_YEAR, MAX_YEAR = 2000, 2099
MAX_NAME = 50
# A deadline on a day runs to the end of that day, as the other time limits do.
END_OF_DAY = time(23, 59, 59)
ONE_DAY = timedelta(days=1)
# Read this many days beyond the weeks a count needs: more than the longest run of days
# off (春节 2026, nine days), so that a count rarely needs a second query.
_MARGIN = 31
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _works(day: date, kind: str | None) -> bool:
    if kind == DayKind.HOLIDAY:
        return False
    if kind == DayKind.WORKDAY:
        return True
    return day.weekday() < 5


def _span(n: int) -> timedelta:
    """Calendar days that surely hold `n` working days but for unusually many days off."""
    return timedelta(days=n * 7 // 5 + _MARGIN)


class Calendar:
    """The table's rows over the days asked about so far: each question reads only what
    it needs beyond the range already read, in one query. For a caller with many
    questions (every loan of a list), one `Calendar` answers them all."""

    def __init__(self, session):
        self._session = session
        self._first: date | None = None
        self._last: date | None = None
        self._kinds: dict[date, str] = {}

    def _holds(self, day: date) -> bool:
        return self._first is not None and self._first <= day <= self._last

    def _cover(self, first: date, last: date) -> None:
        """Read what [first, last] adds to the range already read (which stays one run)."""
        if self._first is None:
            missing = [(first, last)]
            self._first, self._last = first, last
        else:
            missing = [(a, b) for a, b in ((first, self._first - ONE_DAY),
                                           (self._last + ONE_DAY, last)) if a <= b]
            self._first, self._last = min(first, self._first), max(last, self._last)
        for a, b in missing:
            rows = self._session.execute(
                select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day.between(a, b))
            ).all()
            self._kinds.update((row.day, row.kind) for row in rows)

    def is_workday(self, day: date) -> bool:
        self._cover(day, day)
        return _works(day, self._kinds.get(day))

    def add(self, start: date, n: int) -> date:
        """The `n`-th working day after `start` (`start` itself for 0)."""
        if n < 0:
            raise ValueError("a count of working days cannot be negative")
        day = start
        if not self._holds(start + ONE_DAY):
            self._cover(start + ONE_DAY, start + _span(n))
        remaining = n
        while remaining:
            day += ONE_DAY
            if day > self._last:
                self._cover(day, day + _span(remaining))
            if _works(day, self._kinds.get(day)):
                remaining -= 1
        return day

    def between(self, first: date, last: date) -> int:
        """Working days after `first` up to and including `last`: `between(d, add(d, n))`
        is `n`. Negative when `last` comes before `first`."""
        if last < first:
            return -self.between(last, first)
        if last == first:
            return 0
        self._cover(first + ONE_DAY, last)
        count, day = 0, first + ONE_DAY
        while day <= last:
            count += _works(day, self._kinds.get(day))
            day += ONE_DAY
        return count


def calendar(session) -> Calendar:
    """A calendar for several questions: the rows it reads are read once."""
    return Calendar(session)


def is_workday(session, day: date) -> bool:
    """Whether `day` is a working day (one query)."""
    return Calendar(session).is_workday(day)


def add_workdays(session, start: date, n: int) -> date:
    """The `n`-th working day after `start`: a loan lent on Friday 2025-09-26 for 5
    working days is due on Friday 2025-10-10 (国庆节, 调休)."""
    return Calendar(session).add(start, n)


def workdays_between(session, first: date, last: date) -> int:
    """The working days after `first` up to and including `last` (negative if `last`
    comes first): how many working days a loan is overdue."""
    return Calendar(session).between(first, last)


def end_of_day(day: date) -> datetime:
    """The last second of `day` in the archive's zone, as stored (UTC)."""
    return to_utc(datetime.combine(day, END_OF_DAY))


def deadline(session, start: date | datetime, n: int) -> datetime:
    """The end of the `n`-th working day after `start` (a day, or the moment something
    began): the moment a time limit of `n` working days runs out."""
    if isinstance(start, datetime):
        start = local(start).date()
    return end_of_day(add_workdays(session, start, n))


# ---- the administrator's table ------------------------------------------------------


def parse_day(value, key: str = "date") -> date:
    """A day written YYYY-MM-DD within MIN_YEAR..MAX_YEAR (a form field or a URL part)."""
    text = validation.text({key: value}, key, "日期", required=True, max_len=40)
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"日期格式应为 YYYY-MM-DD（如 2025-10-01），收到：{text}",
                      details={"field": key}) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise Invalid(f"日期须在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间", details={"field": key})
    return day


def parse_year(value) -> int:
    """The year a listing asks for (this year when none is given)."""
    if value in (None, ""):
        return today().year
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and MIN_YEAR <= int(text) <= MAX_YEAR):
        raise Invalid(f"年份应为 {MIN_YEAR} 至 {MAX_YEAR} 之间的整数", details={"field": "year"})
    return int(text)


def _kind(data: dict) -> DayKind:
    value = validation.text(data, "kind", "类型", required=True, max_len=20)
    try:
        return DayKind(value)
    except ValueError:
        raise Invalid("类型只能是 holiday（放假）或 workday（调休上班）",
                      details={"field": "kind"}) from None


def list_year(session, year: int) -> list[CalendarDay]:
    """The holidays and 调休 workdays of `year`, by date. The calendar is not secret:
    whoever is signed in may read it."""
    return session.execute(
        select(CalendarDay)
        .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(CalendarDay.day)
    ).scalars().all()


def set_day(session, admin: User, data: dict) -> CalendarDay:
    """Make `data['date']` a holiday or a 调休 workday named `data['name']`, replacing
    what the table said of that day before."""
    access.require(admin, "calendar.manage")
    day = parse_day(data.get("date"))
    kind = _kind(data)
    name = validation.text(data, "name", "名称", required=True, max_len=MAX_NAME)
    if kind is DayKind.WORKDAY and day.weekday() < 5:
        raise Invalid(f"{day.isoformat()} 是周一至周五，本就是工作日：调休上班只用于周六、周日",
                      details={"field": "kind"})
    row = session.get(CalendarDay, day)
    before = {"previous_kind": row.kind, "previous_name": row.name} if row else {}
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    row.kind, row.name = kind.value, name
    row.created_by_id, row.created_at = admin.id, now()
    session.flush()
    audit.record(session, admin, "calendar.day_set", ("calendar_day", day.isoformat()),
                 kind=kind.value, name=name, **before)
    return row


def remove_day(session, admin: User, value) -> CalendarDay:
    """Take a day out of the table: it is a working day again from Monday to Friday and
    a day off at the weekend. Returns the row removed."""
    access.require(admin, "calendar.manage")
    day = parse_day(value)
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound(f"工作日历中没有 {day.isoformat()} 这一天")
    session.delete(row)
    session.flush()
    audit.record(session, admin, "calendar.day_removed", ("calendar_day", day.isoformat()),
                 kind=row.kind, name=row.name)
    return row
