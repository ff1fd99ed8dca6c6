"""The one source of time, so tests can move it without sleeping. A leaf module: it imports
nothing of the app, so models and services alike take their time from here."""

from datetime import datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """Current local time (naive), shifted by any offset a test has set."""
    return datetime.now().replace(microsecond=0) + _offset


def today():
    return now().date()


def travel(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
