"""Lists of loans for the pages: the register (借阅登记簿, 000:842), the counter's queue and
the dashboards' overdue and due-soon loans. The register's rows are built here once, for
the print page, the CSV export and the API alike.

What the register holds (docs/loans.md): every loan that was granted (approved, out,
returned: a consultation, 000:842); requests still waiting, rejected, withdrawn or
expired are applications, listed in 我的借阅 and the approvals, not in the register. A
row's 借阅日期 is the day it left the counter, or for a loan not (yet) at the counter
(电子, or approved and waiting) the day it was approved; the date range filters on it.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from archive.clock import local, now, start_of_day
from archive.models import Level
from archive.models.approval import ApprovalRequest, ApprovalStep
from archive.models.loan import Loan, LoanItem, LoanKind, LoanStatus
from archive.services import access, loans, validation, work
from archive.services.errors import Invalid

# The register's columns, in the order of the paper register (issue 16).
COLUMNS = ("借阅人", "部门/单位", "联系方式", "借阅日期", "应还日期", "实际归还日期", "档号",
           "题名", "密级", "用途", "审批人及意见", "出借件数/页数", "归还件数/页数", "状态", "备注")
REGISTERED = (LoanStatus.APPROVED.value, LoanStatus.OUT.value, LoanStatus.RETURNED.value)
# Up to this many items the 题名 cell names them all; past it, the first and a count.
TITLES_NAMED = 3
# The borrower's dashboard warns of loans due within this many days.
DUE_SOON_DAYS = 3
# How many rows one register page or export holds at most.
REGISTER_LIMIT = 5000


@dataclass
class RegisterRow:
    loan: Loan
    cells: tuple[str, ...]  # in COLUMNS order


def parse_range(data: dict) -> tuple[date | None, date | None]:
    """The register's date range from a form or query (start, end: YYYY-MM-DD, both
    optional); bad dates or an end before the start are form errors."""
    days = []
    for key, label in (("start", "起始日期"), ("end", "截止日期")):
        text = str(data.get(key) or "").strip()
        days.append(validation.day({key: text}, key, label))
    start, end = days
    if start and end and end < start:
        raise Invalid("截止日期不能早于起始日期", details={"field": "end"})
    return start, end


def lent_on(loan: Loan) -> datetime | None:
    """借阅日期: out at the counter, or approved (electronic, or waiting at the counter)."""
    return loan.out_at or loan.approved_at


def register_rows(session, user, start: date | None, end: date | None) -> list[RegisterRow]:
    """The register's rows between `start` and `end` (inclusive, by 借阅日期), oldest
    first, each a loan the user may see whole (loans.visible)."""
    access.require(user, "loan.register")
    day = func.coalesce(Loan.out_at, Loan.approved_at)
    stmt = (select(Loan).where(Loan.status.in_(REGISTERED))
            .options(selectinload(Loan.borrower), selectinload(Loan.dossier),
                     selectinload(Loan.reports), selectinload(Loan.external_reader),
                     selectinload(Loan.items).selectinload(LoanItem.document))
            .order_by(day, Loan.id).limit(REGISTER_LIMIT))
    if start:
        stmt = stmt.where(day >= start_of_day(start))
    if end:
        stmt = stmt.where(day < start_of_day(end + timedelta(days=1)))
    rows = [loan for loan in session.execute(stmt).scalars()
            if loans.visible(session, user, loan)]
    decisions = _decisions(session, [loan.id for loan in rows])
    moment = now()
    return [RegisterRow(loan, _cells(loan, decisions.get(loan.id, []), moment))
            for loan in rows]


def _decisions(session, loan_ids: list[int]) -> dict[int, list[str]]:
    """审批人及意见 of each loan: every decided step of its requests, renewals marked."""
    if not loan_ids:
        return {}
    steps = session.execute(
        select(ApprovalStep, ApprovalRequest).join(ApprovalRequest)
        .where(ApprovalRequest.loan_id.in_(loan_ids), ApprovalStep.decided_at.is_not(None))
        .options(selectinload(ApprovalStep.decided_by))
        .order_by(ApprovalRequest.id, ApprovalStep.decided_at, ApprovalStep.id)).all()
    out: dict[int, list[str]] = {}
    for step, request in steps:
        verdict = "同意" if step.decision == "approved" else "驳回"
        text = f"{step.decided_by.display_name} {verdict}" + (f"（{step.note}）" if step.note else "")
        if request.payload.get("renewal"):
            text = "续借：" + text
        out.setdefault(request.loan_id, []).append(text)
    return out


def status_word(loan: Loan, moment: datetime) -> str:
    """状态 in the register: 遗失 while a loss report is open, else 已归还, 逾期, 借出;
    an approved loan not at the counter is 已批准 (电子: until its due time)."""
    if any(report.closed_at is None for report in loan.reports):
        return "遗失" if any(r.what == "lost" and r.closed_at is None for r in loan.reports) \
            else "损毁"
    if loan.status == LoanStatus.RETURNED.value:
        return "已归还"
    if loan.overdue(moment):
        return "逾期"
    if loan.status == LoanStatus.OUT.value:
        return "借出"
    if loan.kind == LoanKind.ELECTRONIC.value and moment > loan.due_at:
        return "已到期"
    return "已批准"


def titles(loan: Loan) -> str:
    """题名: the items' titles; past TITLES_NAMED items, the first and 等 N 件."""
    names = [item.document.title for item in loan.items]
    if len(names) <= TITLES_NAMED:
        return "；".join(names)
    return f"{names[0]}等 {len(names)} 件"


def _count(items, pages) -> str:
    return "" if items is None else f"{items}/{pages}"


def _day(moment: datetime | None) -> str:
    return f"{local(moment):%Y-%m-%d}" if moment else ""


def _cells(loan: Loan, decisions: list[str], moment: datetime) -> tuple[str, ...]:
    borrower, reader = loan.borrower, loan.external_reader
    approvers = "；".join(decisions) or ("直接借阅（002:869）" if loan.direct else "")
    remarks = [loan.number, LoanKind(loan.kind).label]
    if loan.kind == LoanKind.ELECTRONIC.value:
        remarks.append("可下载" if loan.may_download else "仅查看")
    if loan.condition:
        remarks.append(f"归还状况：{loan.condition}")
    if loan.effect:
        remarks.append(f"利用效果：{loan.effect}")
    for report in loan.reports:
        state = "已结案" if report.closed_at else "未结案"
        remarks.append(f"{'遗失' if report.what == 'lost' else '损毁'}报告（{state}）："
                       f"{report.description}")
    if reader is not None:
        remarks.append(f"{reader.credential_type}；{reader.notice_number}")
    if loan.remarks:
        remarks.append(loan.remarks)
    if reader is not None:  # an external reader (000:844, 003:97): no account
        who = (reader.name, reader.unit, reader.phone)
    else:  # accounts carry no contact
        who = (borrower.display_name, borrower.department.name if borrower.department else "",
               "")
    return (*who, _day(lent_on(loan)), _day(loan.due_at), _day(loan.returned_at),
            loan.dossier.number, titles(loan), Level(loan.level).label, loan.purpose,
            approvers, _count(loan.items_out, loan.pages_out),
            _count(loan.items_back, loan.pages_back), status_word(loan, moment),
            "；".join(remarks))


def counter(session, user) -> list[Loan]:
    """柜台: approved loans waiting to be checked out and loans out, overdue first, then
    by due time (electronic loans never come to the counter)."""
    access.require(user, "loan.counter")
    moment = now()
    stmt = (select(Loan)
            .where(Loan.kind != LoanKind.ELECTRONIC.value,
                   Loan.status.in_((LoanStatus.APPROVED.value, LoanStatus.OUT.value)))
            .options(selectinload(Loan.borrower), selectinload(Loan.dossier),
                     selectinload(Loan.items).selectinload(LoanItem.document))
            .order_by(Loan.due_at, Loan.id).limit(500))
    rows = [loan for loan in session.execute(stmt).scalars()
            if loans.visible(session, user, loan)]
    return sorted(rows, key=lambda loan: not loan.overdue(moment))


def overdue_for_counter(session, user, limit: int) -> list[Loan]:
    """The archive room's dashboard: loans out past their due time, the longest first,
    each one the user may see whole (as on the counter: a 绝密 loan only to the designated)."""
    if not access.can(user, "loan.counter"):
        return []
    stmt = (select(Loan).where(Loan.status == LoanStatus.OUT.value, Loan.due_at < now())
            .options(selectinload(Loan.borrower), selectinload(Loan.dossier),
                     selectinload(Loan.items).selectinload(LoanItem.document))
            .order_by(Loan.due_at).limit(limit * 4))
    return [loan for loan in session.execute(stmt).scalars()
            if loans.visible(session, user, loan)][:limit]


def due_for_borrower(session, user, limit: int) -> list[Loan]:
    """The borrower's dashboard: their loans out (or electronic and open) due within
    DUE_SOON_DAYS or overdue, the earliest first."""
    soon = now() + timedelta(days=DUE_SOON_DAYS)
    stmt = (select(Loan).where(Loan.borrower_id == user.id, Loan.due_at < soon, or_(
        Loan.status == LoanStatus.OUT.value,
        (Loan.status == LoanStatus.APPROVED.value) & (Loan.kind == LoanKind.ELECTRONIC.value)
        & (Loan.due_at >= now())))
            .options(selectinload(Loan.dossier)).order_by(Loan.due_at).limit(limit))
    return list(session.execute(stmt).scalars())


# ---- marks on document lists ------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """What a document list shows beside a title: the original is out (who has it and
    until when), or a loss or damage report on a loan of it is open (遗失/损毁)."""

    kind: str  # out | lost | damaged
    text: str


@functools.cache
def _marked_loans():
    """(document id, the loan's columns a mark shows, what a loss report says) of the
    loans out or reported lost that hold the documents `ids`. Built once: every search
    page and dossier asks it. Columns, not Loan objects: usually nothing is marked, and
    an ORM query costs twice a Core one even when it finds nothing."""
    from archive.models.loan import LossReport

    is_out = and_(Loan.kind == LoanKind.OUT.value, Loan.status == LoanStatus.OUT.value)
    return (select(LoanItem.document_id, Loan.id, Loan.kind, Loan.status, Loan.number,
                   Loan.due_at, LossReport.what)
            .join(Loan, Loan.id == LoanItem.loan_id)
            .outerjoin(LossReport, and_(LossReport.loan_id == LoanItem.loan_id,
                                        LossReport.closed_at.is_(None)))
            .where(LoanItem.document_id.in_(bindparam("ids", expanding=True)),
                   or_(is_out, LossReport.id.is_not(None)))
            .order_by(LoanItem.document_id, Loan.id, LossReport.id))


@functools.cache
def _borrowers_of():
    """The loans `ids` with their borrowers (a person, or an external reader)."""
    return (select(Loan).options(selectinload(Loan.borrower), selectinload(Loan.external_reader))
            .where(Loan.id.in_(bindparam("ids", expanding=True))))


def document_marks(session, document_ids) -> dict[int, list[Mark]]:
    """The marks of the given documents, in one query whatever their number (and one more
    for the borrowers when something is out): a page of hits or a dossier's list asks
    this, and usually nothing is marked."""
    ids = sorted({int(i) for i in document_ids})
    if not ids:
        return {}
    rows = work.rows(session, _marked_loans(), {"ids": ids}).all()
    if not rows:
        return {}
    lent = {r.id for r in rows
            if r.kind == LoanKind.OUT.value and r.status == LoanStatus.OUT.value}
    who_has = {loan.id: loans.borrower_name(loan) for loan in session.execute(
        _borrowers_of(), {"ids": sorted(lent)}).scalars()} if lent else {}
    out: dict[int, list[Mark]] = {}
    reported: dict[int, list[Mark]] = {}
    seen = set()
    for document_id, loan_id, _kind, _status, number, due_at, what in rows:
        # A loan with two open reports comes twice: it is out once.
        if loan_id in lent and (document_id, loan_id) not in seen:
            seen.add((document_id, loan_id))
            who = who_has[loan_id]
            out.setdefault(document_id, []).append(
                Mark("out", f"借出：{who}，应还 {local(due_at):%Y-%m-%d}（{number}）"))
        if what is not None:
            word = "遗失" if what == "lost" else "损毁"
            reported.setdefault(document_id, []).append(
                Mark(what, f"{word}（{number} 报告，待结案）"))
    return {d: out.get(d, []) + reported.get(d, []) for d in ids if d in out or d in reported}
