"""The projects (苑) the administrator maintains: a dossier's unit names one of them."""

from datetime import date, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from archive.clock import now
from archive.extensions import db


class Project(db.Model):
    """A project (苑, 000:812): chosen from this list when a dossier is opened, so that a
    typo does not silently create a new project. Retired projects keep their dossiers but
    are no longer offered."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # 集中入伙日期: signing, certificate and move-in material is handed to the archive a
    # month after it, then quarterly (000:758-760). Unknown: no deadline, never a guess.
    move_in_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    def __repr__(self) -> str:
        return f"<Project {self.name}>"
