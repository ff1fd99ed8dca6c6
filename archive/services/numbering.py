"""Dossier numbers and the sequence numbers of documents within a group."""

from sqlalchemy import select

from archive.models import Dossier, Group, Unit
from archive.services.errors import Invalid


def format_number(fmt: str, unit: Unit) -> str:
    """The dossier number of `unit` in the archive-wide format (000:812-814)."""
    try:
        return fmt.format(
            project=unit.project, building=unit.building, unit=unit.unit_no, room=unit.room
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise Invalid(f"档案编号格式配置错误：{fmt}") from exc


def dossier_number(session, fmt: str, unit: Unit) -> str:
    """A unique number for a new dossier on `unit`. A unit that already has a dossier
    (an earlier buyer, 销售历史) gets the next suffix: -2, -3, ..."""
    base = format_number(fmt, unit)
    candidate, n = base, 1
    while session.execute(select(Dossier.id).where(Dossier.number == candidate)).first():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def next_seq(session, group: Group) -> int:
    """Take the group's next sequence number. Numbers are never reused: the counter
    only moves forward, whatever happens to the documents that held earlier numbers."""
    # populate_existing: the session keeps objects across commits (expire_on_commit is
    # off), so without it a group loaded by an earlier filing keeps the counter it had
    # then, and two processes hand out the same number.
    locked = session.execute(
        select(Group).where(Group.id == group.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    locked.last_seq += 1
    return locked.last_seq
