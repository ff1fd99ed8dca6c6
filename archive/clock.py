"""The one source of time, so tests can move it without sleeping. A leaf module: it imports
nothing of the app, so models and services alike take their time from here.

Times are stored naive (one column type on every engine). Every page, form, CSV and API
answer shows them in the archive's zone (ARCHIVE_TIMEZONE, set at start-up): `local`."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
# The zone the server's clock wrote stored times in before the archive stored UTC: the
# reference server's (docs/timezone-and-docx.md).
LEGACY_ZONE = ZoneInfo(DEFAULT_ZONE)

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
    """Current local time (naive), shifted by any offset a test has set."""
    return datetime.now().replace(microsecond=0) + _offset


def today() -> date:
    return now().date()


def local(value: datetime | date | None) -> datetime | date | None:
    """A stored time as the archive shows it: aware, in ARCHIVE_TIMEZONE. Dates (a
    document's date, a calendar day) are not times and come back unchanged."""
    if value is None or not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=LEGACY_ZONE)
    return value.astimezone(_zone)


def travel(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
