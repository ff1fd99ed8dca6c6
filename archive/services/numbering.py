"""Dossier numbers, customer codes and the sequence numbers of documents within a group."""

import re
import string

from sqlalchemy import select

from archive.clock import today
from archive.models import Customer, Dossier, Group, Unit
from archive.services import audit
from archive.services.errors import Invalid

DEFAULT_CUSTOMER_CODE = "KH{year}{seq:04d}"


def _code_pattern(fmt: str, year: int) -> tuple[str, re.Pattern]:
    """The fixed text before {seq} and a pattern reading {seq} back from a code, for the
    customer code format `fmt` (only {year} and {seq}, {seq} once)."""
    try:
        parts = list(string.Formatter().parse(fmt))
        fields = [name for _text, name, _spec, _conv in parts if name is not None]
        if fields.count("seq") != 1 or set(fields) - {"year", "seq"}:
            raise ValueError(fields)
        fmt.format(year=year, seq=1)
    except (ValueError, IndexError, KeyError) as exc:
        raise Invalid(f"客户编号格式配置错误：{fmt}（须含一个 {{seq}}，可含 {{year}}）") from exc
    pattern, prefix, seen_seq = "", "", False
    for text, name, spec, _conv in parts:
        pattern += re.escape(text)
        if not seen_seq:
            prefix += text
        if name == "year":
            pattern += re.escape(format(year, spec or ""))
            if not seen_seq:
                prefix += format(year, spec or "")
        elif name == "seq":
            pattern += r"(\d+)"
            seen_seq = True
    return prefix, re.compile(pattern)


def customer_code(session, fmt: str = DEFAULT_CUSTOMER_CODE) -> str:
    """The next customer code in the archive's one form (CUSTOMER_CODE_FORMAT): the
    highest {seq} used under this year's prefix, typed or generated, plus one."""
    year = today().year
    prefix, pattern = _code_pattern(fmt, year)
    codes = session.execute(select(Customer.code).where(Customer.code.startswith(prefix))
                            ).scalars()
    used = [int(m.group(1)) for code in codes if (m := pattern.fullmatch(code))]
    seq = max(used, default=0) + 1
    code = fmt.format(year=year, seq=seq)
    while session.execute(select(Customer.id).where(Customer.code == code)).first():
        seq += 1
        code = fmt.format(year=year, seq=seq)
    return code


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


def next_seq(session, group: Group, *, locked: bool = False) -> int:
    """Take the group's next sequence number. Numbers are never reused: the counter
    only moves forward, whatever happens to the documents that held earlier numbers.
    `locked`: the caller has just read `group` afresh under its lock (filing.dossier_group
    with lock=True), after the audit head."""
    if locked:
        group.last_seq += 1
        return group.last_seq
    # populate_existing: the session keeps objects across commits (expire_on_commit is
    # off), so without it a group loaded by an earlier filing keeps the counter it had
    # then, and two processes hand out the same number.
    audit.hold_head(session)  # head before rows: the lock order of audit.hold_head
    locked_group = session.execute(
        select(Group).where(Group.id == group.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    locked_group.last_seq += 1
    return locked_group.last_seq
