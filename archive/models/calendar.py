"""The working-day calendar: the days on which the Monday-to-Friday week does not hold.

China announces each year's public holidays and the weekends worked in exchange (调休,
国务院办公厅关于…部分节假日安排的通知). A row is one such day: a holiday (a day off,
listed over the notice's whole period, weekend days included) or a workday (a Saturday
or Sunday worked). Every other day is a working day from Monday to Friday. Loan periods
(issue 16) and transfer deadlines (issue 19) count on it.
"""

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.org import User


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"  # 放假: a day off, e.g. 国庆节
    WORKDAY = "workday"  # 调休上班: a weekend day worked

    @property
    def label(self) -> str:
        return DAY_KIND_LABELS[self]


DAY_KIND_LABELS = {DayKind.HOLIDAY: "放假", DayKind.WORKDAY: "调休上班"}


class CalendarDay(db.Model):
    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(50))  # 国庆节, 国庆调休
    # None: seeded from the State Council's notice by the migration.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    created_by: Mapped[User | None] = relationship()

    @property
    def kind_enum(self) -> DayKind:
        return DayKind(self.kind)

    def __repr__(self) -> str:
        return f"<CalendarDay {self.day} {self.kind} {self.name}>"
