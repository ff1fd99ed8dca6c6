"""The one source of time, so tests can move it without sleeping. A leaf module: it imports
nothing of the app, so models and services alike take their time from here.

Times are stored naive, in UTC (one column type on every engine; rows written before the
recorded cut-over hold the server's local time: archive/models/setting.py). Every page,
form, CSV and API answer shows them in the archive's zone (ARCHIVE_TIMEZONE): `local`.
"Today" is the archive's day, not UTC's: between 00:00 and 08:00 Beijing time they differ."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"

_offset = timedelta(0)
_zone = ZoneInfo(DEFAULT_ZONE)


def set_zone(name: str) -> None:
    """Make `name` (a zoneinfo name such as Asia/Shanghai) the zone times are shown in.
    An unknown name raises ValueError naming it: the app does not start with it."""
    global _zone
    try:
        _zone = ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"ARCHIVE_TIMEZONE 不是已知的时区：{name!r}（例如 Asia/Shanghai）") from None


def zone() -> ZoneInfo:
    return _zone


def now() -> datetime:
    """Current time in UTC, naive as stored, shifted by any offset a test has set."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None) + _offset


def now_local() -> datetime:
    """Current time in the archive's zone (aware)."""
    return local(now())


def today() -> date:
    """The archive's date today (in ARCHIVE_TIMEZONE)."""
    return now_local().date()


def local(value: datetime | date | None) -> datetime | date | None:
    """A stored (UTC) time as the archive shows it: aware, in ARCHIVE_TIMEZONE. Dates (a
    document's date, a calendar day) are not times and come back unchanged."""
    if value is None or not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_zone)


def to_utc(value: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A wall-clock time of `zone` (the archive's unless given; an aware time keeps its
    own) as a time column stores it: naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone or _zone)
    return value.astimezone(UTC).replace(tzinfo=None)


def local_in(value: datetime, zone: ZoneInfo) -> datetime:
    """A stored (UTC) time as the wall clock of `zone` reads it, naive."""
    return value.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def end_of_day(day: date) -> datetime:
    """The last second of `day` in the archive's zone, as stored (a loan due that day)."""
    return to_utc(datetime.combine(day, time(23, 59, 59)))


def start_of_day(day: date) -> datetime:
    """The first second of `day` in the archive's zone, as stored."""
    return to_utc(datetime.combine(day, time.min))


def travel(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
