"""Settings the archive records about itself, one row a key. `utc_since`: from where stored
times are UTC (docs/timezone-and-docx.md part 1), written once by the migration that moved
the clock to UTC (a18z0c0de018)."""

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from archive import clock
from archive.extensions import db


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class UtcCutover:
    """The two tables whose times are never converted, since their rows are hashed as
    stored (the audit chain, the destruction register): their rows before these numbers
    hold the server's local time in `legacy_zone`. Every other time column was converted
    to UTC by the migration. An archive created after it has no legacy rows."""

    audit_seq: int = 0  # the first audit event written in UTC
    register_id: int = 0  # the first destruction register row written in UTC
    legacy_zone: str = clock.DEFAULT_ZONE

    def audit_time(self, seq: int, at: datetime) -> datetime:
        """An audit event's `at` as UTC, whichever side of the cut-over it was written on."""
        return at if seq >= self.audit_seq else clock.to_utc(at, ZoneInfo(self.legacy_zone))

    def legacy(self, moment: datetime) -> datetime:
        """A UTC time as a row before the cut-over would hold it (a query's bound)."""
        return clock.local_in(moment, ZoneInfo(self.legacy_zone))

    def register_time(self, row_id: int, at: datetime) -> datetime:
        return at if row_id >= self.register_id else clock.to_utc(at, ZoneInfo(self.legacy_zone))


@functools.cache
def _utc_since():
    # Built once: every page that shows audit times asks it (a statement built per call
    # cost as much as running it).
    return select(Setting.value).where(Setting.key == "utc_since")


def utc_cutover(session) -> UtcCutover:
    """The recorded cut-over (none: every time is UTC), read once per database session."""
    if session is None:
        return UtcCutover()
    cached = session.info.get("utc_cutover")
    if cached is None:
        value = session.execute(_utc_since()).scalar_one_or_none()
        recorded = json.loads(value) if value is not None else {}
        cached = UtcCutover(audit_seq=recorded.get("audit_seq", 0),
                            register_id=recorded.get("register_id", 0),
                            legacy_zone=recorded.get("legacy_zone", clock.DEFAULT_ZONE))
        session.info["utc_cutover"] = cached
    return cached
