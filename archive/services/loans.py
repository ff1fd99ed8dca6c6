"""Lending (借阅): requests routed by the regulations, the counter, renewals, overdue, losses.

Rules (seed lines in docs/loans.md):
- every consultation is registered, reading in the archive room included (000:842);
- a loan is of one dossier: the whole of it, one group, or chosen documents; 借出 takes
  paper originals only; 电子 lends documents that have files;
- a loan never lifts a clearance: the borrower is cleared for every item (绝密: designated,
  002:43); another department's files add the GM's stage (002:67);
- the route is chosen here from the kinds the migration seeds (their steps are data):
  阅览 of the borrower's department's files up to 内部 → the head (003:95); 借出/复制/电子
  download → the head, then the GM-office director (002:942, 000:842); 秘密 → head and
  director; 机密 → director; 绝密 → the GM (002:43);
- the GM, deputy GMs and department heads borrow directly through the officer, with no
  approval step, within their own clearance and reach (002:869);
- the longest period depends on the level (settings LOAN_DAYS, LOAN_CONFIDENTIAL_WORKDAYS,
  LOAN_TOP_SECRET_DAYS);
- a paper original out on loan cannot be lent out again until it is back; an overdue loan
  must be returned or renewed before its borrower borrows again (003:103); renewal is a
  new approval on the same route, registered on the loan (002:908);
- the counter records items and pages out and back (003:105); a difference on return opens
  a loss/damage report that stays on the loan until the officer closes it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from archive.clock import end_of_day, local, now
from archive.models import Document, Dossier, Level, Role, StoredFile, User
from archive.models.approval import ApprovalKind, ApprovalRequest, RequestStatus
from archive.models.enums import DocumentStatus
from archive.models.loan import Loan, LoanItem, LoanKind, LoanStatus, LossReport
from archive.services import access, approvals, audit, validation
from archive.services.errors import Conflict, Forbidden, Invalid, NotFound

NOT_FOUND = "借阅记录不存在"
PAPER = "纸质"
ELECTRONIC = "电子"
# Loans that hold paper originals out of the room.
HOLDING = (LoanStatus.OUT.value,)
# Loans the counter hands a paper original to (an electronic loan hands out no paper).
HANDED = (LoanKind.READ, LoanKind.OUT, LoanKind.COPY)


# ---- asking ---------------------------------------------------------------------------


def request_loan(session, actor: User, data: dict) -> Loan:
    """Ask for a loan. `data`: dossier_id, and optionally group (a–e) or document_ids; kind
    (read | out | copy | electronic); purpose; due (YYYY-MM-DD) or days; may_download
    (electronic); borrower (username: the archive room registers loans for others)."""
    access.require(actor, "loan.request")
    borrower = _borrower(session, actor, data)
    dossier = _dossier(session, actor, data.get("dossier_id"))
    kind = _kind(data.get("kind"))
    items = _items(session, actor, dossier, data)
    purpose = validation.text(data, "purpose", "借阅用途", required=True, max_len=500)
    download = kind is LoanKind.ELECTRONIC and validation.flag(data, "may_download", "允许下载")
    level = max(d.access_level for d in items)
    _check_items(session, borrower, kind, items, download)
    _check_borrower(session, borrower)
    _not_asked_already(session, borrower, kind, items)
    due = _due(session, data, level, now())
    loan = Loan(kind=kind.value, dossier_id=dossier.id, borrower_id=borrower.id,
                requested_by_id=actor.id, purpose=purpose, level=level, due_at=due,
                may_download=download, created_at=now(),
                status=LoanStatus.REQUESTED.value)
    loan.items = [LoanItem(document_id=d.id) for d in items]
    session.add(loan)
    session.flush()
    loan.number = f"JY{local(loan.created_at):%Y}-{loan.id:05d}"
    direct = _borrows_directly(borrower) and all(access.may_read(borrower, d) for d in items)
    audit.record(session, actor, "loan.requested", loan, number=loan.number, kind=kind.value,
                 dossier=dossier.id, items=len(items), borrower=borrower.username,
                 due=due.isoformat(), direct=direct)
    if direct:
        _approve(session, actor, loan, "002:869 总经理、副总经理及部门负责人经档案员直接借阅")
        loan.direct = True
    else:
        route, then = route_kinds(borrower, dossier, kind, level, download)
        approvals.file(session, actor, route, reason=purpose, subject=loan,
                       subject_level=level, then=then,
                       payload={"loan": loan.number, "due": due.isoformat()})
    session.flush()
    return loan


def _borrows_directly(borrower: User) -> bool:
    """Who borrows directly through the officer (002:869: 总经理、副总经理、各部门总监):
    the GM and deputy GMs, department heads, and the GM-office director, who heads the
    GM office (a director's loan was routed to the director's own head step, which
    nobody else could decide)."""
    role = Role(borrower.role)
    return role in (Role.GM, Role.DEPT_HEAD) or (
        role is Role.GM_OFFICE and bool(borrower.gm_office_director))


def route_kinds(borrower: User, dossier: Dossier, kind: LoanKind, level: int,
                download: bool) -> tuple[ApprovalKind, tuple]:
    """The route a loan is filed under, and the routes whose stages follow it."""
    if level >= Level.TOP_SECRET:
        route = ApprovalKind.LOAN_TOP_SECRET
    elif level >= Level.CONFIDENTIAL:
        route = ApprovalKind.LOAN_CONFIDENTIAL
    elif level >= Level.SECRET:
        route = ApprovalKind.LOAN_SECRET
    elif kind is LoanKind.READ or (kind is LoanKind.ELECTRONIC and not download):
        route = ApprovalKind.LOAN_READ
    else:  # the original or a copy leaves the room
        route = ApprovalKind.LOAN_OUT
    other = dossier.customer.department_id != borrower.department_id
    return route, ((ApprovalKind.LOAN_OTHER_DEPARTMENT,) if other else ())


def _borrower(session, actor: User, data: dict) -> User:
    value = str(data.get("borrower") or "").strip()
    if not value or value == actor.username:
        return actor
    access.require(actor, "loan.counter")  # only the archive room registers for others
    borrower = session.execute(select(User).where(User.username == value)).scalar_one_or_none()
    if borrower is None or not borrower.active:
        raise Invalid(f"借阅人不存在或已停用：{value}", details={"field": "borrower"})
    if Role(borrower.role) in (Role.ADMIN, Role.AUDITOR):
        raise Invalid("系统管理员和审计员不借阅档案", details={"field": "borrower"})
    return borrower


def _dossier(session, actor: User, value) -> Dossier:
    dossier = session.get(Dossier, validation.row_id(value) or -1) if value else None
    if dossier is None:
        raise NotFound("档案不存在") if value else Invalid(
            "请选择要借阅的档案", code="missing_field", details={"field": "dossier_id"})
    access.require(actor, "dossier.view", dossier)
    return dossier


def _kind(value) -> LoanKind:
    try:
        return LoanKind(str(value or "").strip())
    except ValueError:
        raise Invalid("借阅方式只能是 read（阅览）、out（借出）、copy（复制）、electronic（电子）",
                      details={"field": "kind"}) from None


def _items(session, actor: User, dossier: Dossier, data: dict) -> list[Document]:
    """The documents asked for: those named, or a group's, or the whole dossier's, among
    the ones in the archive that the asker may see. A hidden document is not there for
    the asker: a whole dossier or a group lends what they see, and an id they may not see
    is refused as one not in the dossier (neither its title nor its level is told)."""
    active = [d for d in access.visible_documents(actor, dossier.documents)
              if d.status == DocumentStatus.ACTIVE.value]
    ids, group = data.get("document_ids"), str(data.get("group") or "").strip()
    if isinstance(ids, list) and not ids:
        # An empty choice is no choice: it lent the whole dossier (the page refuses no ticks).
        raise Invalid("请勾选要借阅的文件：document_ids 为空（借阅整卷时不传 document_ids）",
                      details={"field": "document_ids"})
    if ids:
        if isinstance(ids, str):
            ids = [part for part in ids.replace("，", ",").split(",") if part.strip()]
        if not isinstance(ids, list) or len(ids) > 1000:
            raise Invalid("document_ids 应为文件编号列表", details={"field": "document_ids"})
        wanted = {validation.row_id(i) for i in ids}
        chosen = [d for d in active if d.id in wanted]
        if len(chosen) != len(wanted):
            raise Invalid("所选文件须属于该档案且在册", details={"field": "document_ids"})
        items = chosen
    elif group:
        items = [d for d in active if d.group.code == group]
    else:
        items = active
    if not items:
        raise Invalid("没有可借阅的文件", code="nothing_to_lend")
    return items


def _check_items(session, borrower: User, kind: LoanKind, items: list[Document],
                 download: bool) -> None:
    for document in items:
        if not access.cleared(borrower, document):
            # A loan never lifts a clearance (绝密: only the designated, 002:43).
            raise Forbidden(f"借阅人无权借阅《{document.title}》：密级{Level(document.access_level).label}"
                            + ("，须经总经理指定" if document.access_level >= Level.TOP_SECRET
                               else "，超出其密级"))
        if kind is LoanKind.OUT and document.carrier != PAPER:
            raise Invalid(f"借出只适用于纸质原件：《{document.title}》的载体是{document.carrier}",
                          code="not_paper")
        if kind is LoanKind.ELECTRONIC and not document.files:
            raise Invalid(f"《{document.title}》没有电子文件，不能电子借阅", code="no_files")
        if download and document.access_level >= Level.TOP_SECRET:
            raise Invalid("绝密文件不得电子借出下载", code="top_secret_download")
    if kind is LoanKind.OUT:
        not_out(session, [d.id for d in items])


def not_out(session, document_ids: list[int], besides: int | None = None,
            message: str = "原件已借出（借阅编号 {number}），归还后方可再借",
            kinds: tuple[LoanKind, ...] = (LoanKind.OUT,)) -> None:
    """Refuse (409 `on_loan`) while a paper original among the documents is out on a loan
    of `kinds`: it cannot be out twice at once, nor re-classified (nor, later, destroyed)
    while out of the room."""
    stmt = (select(LoanItem.document_id, Loan.number)
            .join(Loan, Loan.id == LoanItem.loan_id)
            .where(LoanItem.document_id.in_(document_ids),
                   Loan.kind.in_([k.value for k in kinds]), Loan.status.in_(HOLDING)))
    if besides is not None:
        stmt = stmt.where(Loan.id != besides)
    row = session.execute(stmt.limit(1)).first()
    if row is not None:
        raise Conflict(message.format(number=row.number), code="on_loan")


def _check_borrower(session, borrower: User) -> None:
    late = session.execute(
        select(Loan.number).where(Loan.borrower_id == borrower.id,
                                  Loan.status == LoanStatus.OUT.value, Loan.due_at < now())
        .limit(1)).first()
    if late is not None:
        raise Conflict(f"借阅人有逾期未还的借阅（{late.number}），须先归还或续借",
                       code="overdue")


def _not_asked_already(session, borrower: User, kind: LoanKind, items: list[Document]) -> None:
    """Refuse (409 `already_requested`) a loan of a document the borrower has already
    asked for in the same way and whose request still waits: the same loan asked twice
    (a retried form, a double click) was filed twice, for the deciders to decide twice.
    The borrower's row is locked first, so that two such requests at once (PostgreSQL)
    are checked one after the other."""
    session.execute(select(User.id).where(User.id == borrower.id).with_for_update())
    row = session.execute(
        select(Loan.number).join(LoanItem, LoanItem.loan_id == Loan.id)
        .join(ApprovalRequest, ApprovalRequest.loan_id == Loan.id)
        .where(Loan.borrower_id == borrower.id, Loan.kind == kind.value,
               Loan.status == LoanStatus.REQUESTED.value,
               LoanItem.document_id.in_([d.id for d in items]),
               ApprovalRequest.status == RequestStatus.PENDING.value,
               or_(ApprovalRequest.expires_at.is_(None), ApprovalRequest.expires_at >= now()))
        .limit(1)).first()
    if row is not None:
        raise Conflict(f"已申请过同样借阅其中的文件（借阅编号 {row.number}，待审批），"
                       "请等待审批结果，或由提出该申请的人撤回后重新申请", code="already_requested")


def limit(session, level: int, start: datetime) -> tuple[datetime, str]:
    """The latest due time for a loan of `level` starting at `start`, and it in words."""
    config = current_app.config
    first = local(start).date()  # the archive's day, not UTC's
    if level >= Level.TOP_SECRET:
        days = config["LOAN_TOP_SECRET_DAYS"]
        return end_of_day(first + timedelta(days=days)), f"{days} 天"
    if level >= Level.CONFIDENTIAL:
        from archive.services import workdays

        days = config["LOAN_CONFIDENTIAL_WORKDAYS"]
        return end_of_day(workdays.add_workdays(session, first, days)), f"{days} 个工作日"
    days = config["LOAN_DAYS"]
    return end_of_day(first + timedelta(days=days)), f"{days} 天"


def _due(session, data: dict, level: int, start: datetime) -> datetime:
    latest, words = limit(session, level, start)
    if data.get("due"):
        validation.text(data, "due", "应还日期", max_len=10)
        due = end_of_day(validation.day(data, "due", "应还日期"))
    else:
        days = validation.integer(data, "days", "借阅天数")
        if days is None:
            return latest
        if days < 0:
            raise Invalid("应还日期不能早于今天", details={"field": "days"})
        # Past the longest period in any case: refused below, not counted to a date.
        days = min(days, (latest - start).days + 2)
        due = end_of_day(local(start).date() + timedelta(days=days))
    if due < start:
        raise Invalid("应还日期不能早于今天", details={"field": "due"})
    if due > latest:
        raise Invalid(f"借阅期限超出规定：{Level(level).label}档案最长 {words}（至 {local(latest):%Y-%m-%d}）",
                      code="period_too_long", details={"field": "due"})
    return due


# ---- the engine's handler -----------------------------------------------------------


def _approve(session, actor: User, loan: Loan, note: str) -> None:
    loan.status = LoanStatus.APPROVED.value
    loan.approved_at = now()
    audit.record(session, actor, "loan.approved", loan, number=loan.number, note=note)


def _renewal(request: ApprovalRequest) -> bool:
    return bool(request.payload.get("renewal"))


def _apply(session, actor: User, request: ApprovalRequest, _prepared) -> None:
    loan = request.loan
    if _renewal(request):
        before = loan.due_at
        loan.due_at = datetime.fromisoformat(request.payload["due"])
        audit.record(session, actor, "loan.renewed", loan, number=loan.number,
                     request=request.id, due_before=before.isoformat(),
                     due=loan.due_at.isoformat())
        return
    _approve(session, actor, loan, f"审批单 {request.id}")


def _ended(session, actor: User, request: ApprovalRequest) -> None:
    if _renewal(request):
        return  # the loan runs on to its due time as before
    request.loan.status = (LoanStatus.REJECTED if request.status == RequestStatus.REJECTED
                           else LoanStatus.WITHDRAWN).value


def _stale(session, request: ApprovalRequest) -> str | None:
    loan = request.loan
    documents = [item.document for item in loan.items]
    if any(d.status == DocumentStatus.WITHDRAWN.value for d in documents):
        return "所借文件已撤销归档"
    if any(d.status != DocumentStatus.ACTIVE.value for d in documents):
        return "所借文件已销毁"
    if max(d.access_level for d in documents) != request.subject_level:
        return "所借文件的密级已变更"
    # An external reader has no clearance of its own: the level check above holds it.
    if loan.borrower is not None and not all(access.cleared(loan.borrower, d)
                                             for d in documents):
        return "借阅人已无权借阅"
    if _renewal(request) and loan.status not in (LoanStatus.OUT.value, LoanStatus.APPROVED.value):
        return f"借阅{loan.status_enum.label}，续借已不适用"
    if not _renewal(request) and loan.kind == LoanKind.OUT.value:
        try:
            not_out(session, [d.id for d in documents], besides=loan.id)
        except Conflict as exc:
            return exc.message
    return None


def _describe(request: ApprovalRequest, viewer: User) -> str:
    loan = request.loan
    what = "续借" if _renewal(request) else f"借阅（{loan.kind_enum.label}）"
    who = borrower_name(loan)
    return (f"{what} {loan.number}：档案 {loan.dossier.number}，{len(loan.items)} 件，"
            f"借阅人 {who}，应还 {local(datetime.fromisoformat(request.payload['due'])):%Y-%m-%d}")


def borrower_name(loan: Loan) -> str:
    """Who borrows: the borrower's name, or an external reader's unit and name."""
    if loan.borrower is not None:
        return loan.borrower.display_name
    reader = loan.external_reader
    return f"{reader.name}（{reader.unit}，{reader.kind_enum.label}）" if reader else ""


for _kind_of_route in (ApprovalKind.LOAN_READ, ApprovalKind.LOAN_OUT, ApprovalKind.LOAN_SECRET,
                       ApprovalKind.LOAN_CONFIDENTIAL, ApprovalKind.LOAN_TOP_SECRET,
                       ApprovalKind.LOAN_EXTERNAL_POLICE, ApprovalKind.LOAN_EXTERNAL_UNIT):
    approvals.effect(_kind_of_route, approvals.Handler(
        describe=_describe, apply=_apply, stale=_stale, ended=_ended))


# ---- reading and the counter -------------------------------------------------------


def get(session, user: User, loan_id) -> Loan:
    """A loan its borrower, its requester, its approvers and the register's readers may
    see; everyone else is told it does not exist."""
    loan = session.get(Loan, validation.row_id(loan_id) or -1)
    if loan is None or not access.can(user, "loan.view", loan):
        raise NotFound(NOT_FOUND)
    return loan


def visible(session, user: User, loan: Loan) -> bool:
    if user.id in (loan.borrower_id, loan.requested_by_id):
        return True
    if access.can(user, "loan.register"):
        return all(access.may_read(user, item.document) for item in loan.items)
    return any(approvals.visible(user, r) for r in requests_of(session, loan))


def requests_of(session, loan: Loan) -> list[ApprovalRequest]:
    return requests_by_loan(session, [loan])[loan.id]


def requests_by_loan(session, listed: list[Loan]) -> dict[int, list[ApprovalRequest]]:
    """Each loan's approval requests (its own and its renewals'), oldest first: one query
    for a whole list."""
    found: dict[int, list[ApprovalRequest]] = {loan.id: [] for loan in listed}
    if found:
        for r in session.execute(select(ApprovalRequest)
                                 .where(ApprovalRequest.loan_id.in_(list(found)))
                                 .order_by(ApprovalRequest.id)).scalars():
            found[r.loan_id].append(r)
    return found


def _counted(data: dict, key: str, label: str) -> int:
    value = validation.integer(data, key, label)
    if value is None or value < 0:
        raise Invalid(f"请填写{label}（不小于 0 的整数）", details={"field": key})
    return value


def _refuse(session, actor: User, loan: Loan, action: str, error):
    from archive.services import work

    work.record_refusal(session, actor, action, loan, reason=error.message, number=loan.number)
    raise error


def checkout(session, officer: User, loan_id, data: dict) -> Loan:
    """At the counter: hand out an approved loan, counting items and pages (003:105)."""
    loan = get(session, officer, loan_id)
    access.require(officer, "loan.counter", loan)
    if loan.status != LoanStatus.APPROVED.value:
        _refuse(session, officer, loan, "loan.checkout", Conflict(
            f"借阅{loan.status_enum.label}，不能出借" if loan.status != LoanStatus.OUT.value
            else "该借阅已出借", code="not_approved" if loan.status != LoanStatus.OUT.value
            else "already_out"))
    if loan.kind == LoanKind.ELECTRONIC.value:
        raise Conflict("电子借阅无须在柜台出借：批准后借阅人即可在借阅页查看", code="electronic")
    if any(i.document.status != DocumentStatus.ACTIVE.value for i in loan.items):
        _refuse(session, officer, loan, "loan.checkout", Conflict(
            "所借文件已销毁或撤销归档，不能出借", code="not_active"))
    items, pages = _counted(data, "items", "出借件数"), _counted(data, "pages", "出借页数")
    if items != len(loan.items):
        raise Invalid(f"出借件数应为 {len(loan.items)}（借阅清单所列），实点 {items}",
                      code="count_mismatch", details={"field": "items"})
    # One original (paper, a photograph, a tape) is handed to one borrower at a time,
    # whatever the loan: read in the room, copied or taken out (a 阅览 was handed the
    # original a 借出 had taken away). Only an electronic record has no original to hand.
    originals = [i.document_id for i in loan.items if i.document.carrier != ELECTRONIC]
    try:
        not_out(session, originals, besides=loan.id, kinds=HANDED,
                message="原件正由借阅 {number} 借用中，归还后方可出借")
    except Conflict as exc:
        _refuse(session, officer, loan, "loan.checkout", exc)
    if loan.due_at < now():
        raise Conflict("借阅已过应还日期，请先续借", code="overdue")
    loan.status = LoanStatus.OUT.value
    loan.out_at, loan.out_by_id, loan.items_out, loan.pages_out = now(), officer.id, items, pages
    audit.record(session, officer, "loan.checked_out", loan, number=loan.number, items=items,
                 pages=pages, due=loan.due_at.isoformat())
    return loan


def check_in(session, officer: User, loan_id, data: dict) -> Loan:
    """At the counter: take a loan back, counting again; a difference opens a loss or
    damage report (003:105)."""
    loan = get(session, officer, loan_id)
    access.require(officer, "loan.counter", loan)
    if loan.status != LoanStatus.OUT.value:
        _refuse(session, officer, loan, "loan.return", Conflict(
            "该借阅未出借，不能归还", code="not_out"))
    items, pages = _counted(data, "items", "归还件数"), _counted(data, "pages", "归还页数")
    if items > loan.items_out or (loan.pages_out is not None and pages > loan.pages_out):
        raise Invalid(f"归还数多于出借数：出借 {loan.items_out} 件 {loan.pages_out} 页，"
                      f"实点 {items} 件 {pages} 页", code="count_mismatch",
                      details={"field": "items" if items > loan.items_out else "pages"})
    loan.condition = validation.text(data, "condition", "归还时状况", max_len=200)
    loan.effect = validation.text(data, "effect", "利用效果", max_len=500)
    loan.status = LoanStatus.RETURNED.value
    loan.returned_at, loan.returned_by_id = now(), officer.id
    loan.items_back, loan.pages_back = items, pages
    audit.record(session, officer, "loan.returned", loan, number=loan.number, items=items,
                 pages=pages, overdue_days=max(0, (now() - loan.due_at).days))
    if items < loan.items_out or pages < loan.pages_out:
        what = "lost" if items < loan.items_out else "damaged"
        _open_report(session, officer, loan, what, (loan.items_out - items) or
                     (loan.pages_out - pages),
                     f"出借 {loan.items_out} 件 {loan.pages_out} 页，归还 {items} 件 {pages} 页"
                     + (f"；{loan.condition}" if loan.condition else ""))
    return loan


def _open_report(session, actor: User, loan: Loan, what: str, count: int,
                 description: str) -> LossReport:
    report = LossReport(loan_id=loan.id, what=what, count=count, description=description,
                        noticed_by_id=actor.id, created_at=now())
    session.add(report)
    session.flush()
    audit.record(session, actor, "loan.loss_reported", loan, number=loan.number, what=what,
                 count=count, description=description)
    return report


def report_loss(session, actor: User, loan_id, data: dict) -> LossReport:
    """Report a loss or damage on a loan (the borrower or the archive room)."""
    loan = get(session, actor, loan_id)
    if not access.can(actor, "loan.handle", loan):
        raise Forbidden("只有借阅人或档案室可以报告遗失或损毁")
    if loan.status not in (LoanStatus.OUT.value, LoanStatus.RETURNED.value):
        raise Conflict("该借阅未出借，无从遗失", code="not_out")
    what = str(data.get("what") or "").strip()
    if what not in ("lost", "damaged"):
        raise Invalid("请选择遗失（lost）或损毁（damaged）", details={"field": "what"})
    if (what == "lost" and loan.status == LoanStatus.RETURNED.value
            and (loan.items_back or 0) >= (loan.items_out or 0)):
        # Damage may show after the return; a loss cannot once everything came back.
        raise Conflict("该借阅已全部归还，不能报告遗失（损毁仍可报告）", code="all_returned")
    count = _counted(data, "count", "件数或页数")
    most = max(loan.items_out or 0, loan.pages_out or 0)  # what went out, if counted
    if count < 1 or (most and count > most):
        raise Invalid(f"件数或页数须在 1 到 {most} 之间（出借时清点）" if most
                      else "件数或页数至少为 1", details={"field": "count"})
    description = validation.text(data, "description", "情况说明", required=True, max_len=2000)
    return _open_report(session, actor, loan, what, count, description)


def close_report(session, officer: User, report_id, data: dict) -> LossReport:
    access.require(officer, "loan.counter")
    report = session.get(LossReport, validation.row_id(report_id) or -1)
    if report is None:
        raise NotFound("遗失报告不存在")
    if report.closed_at is not None:
        raise Conflict("该报告已结案", code="already_closed")
    outcome = str(data.get("outcome") or "").strip()
    if outcome not in ("found", "written_off"):
        raise Invalid("结案结果只能是 found（找回）或 written_off（核销）", details={"field": "outcome"})
    report.outcome = outcome
    report.closing_note = validation.text(data, "note", "结案说明", required=True, max_len=2000)
    report.closed_at, report.closed_by_id = now(), officer.id
    audit.record(session, officer, "loan.loss_closed", report.loan, number=report.loan.number,
                 outcome=outcome, note=report.closing_note)
    return report


def renew(session, actor: User, loan_id, data: dict) -> ApprovalRequest:
    """续借: a new approval on the loan's route (002:908); the due date moves only when it
    is approved. An overdue loan may be renewed (that is how it stops being overdue)."""
    loan = get(session, actor, loan_id)
    if not access.can(actor, "loan.handle", loan):
        raise Forbidden("只有借阅人或档案室可以申请续借")
    if loan.status not in (LoanStatus.OUT.value, LoanStatus.APPROVED.value):
        raise Conflict(f"借阅{loan.status_enum.label}，不能续借", code="not_renewable")
    for request in requests_of(session, loan):
        if request.state(now()) is RequestStatus.PENDING:
            raise Conflict("已有待审批的续借或借阅申请", code="change_pending")
    reason = validation.text(data, "reason", "续借理由", required=True, max_len=500)
    start = max(now(), loan.due_at)
    due = _due(session, data, loan.level, start)
    if due <= loan.due_at:
        raise Invalid("续借后的应还日期须晚于现应还日期", details={"field": "due"})
    if loan.direct:
        _approve_renewal_directly(session, actor, loan, due)
        return None
    first = requests_of(session, loan)[0]
    request = approvals.file(
        session, actor, ApprovalKind(first.kind), reason=reason, subject=loan,
        subject_level=loan.level,
        then=[ApprovalKind(k.kind) for k in _then_routes(session, first)],
        payload={"loan": loan.number, "due": due.isoformat(), "renewal": True})
    audit.record(session, actor, "loan.renewal_requested", loan, number=loan.number,
                 due=due.isoformat(), request=request.id)
    return request


def _then_routes(session, request: ApprovalRequest):
    from archive.models import ApprovalRoute

    ids = request.payload.get("then_routes", [])
    return [session.get(ApprovalRoute, i) for i in ids]


def _approve_renewal_directly(session, actor: User, loan: Loan, due: datetime) -> None:
    access.require(actor, "loan.counter")
    before, loan.due_at = loan.due_at, due
    audit.record(session, actor, "loan.renewed", loan, number=loan.number, direct=True,
                 due_before=before.isoformat(), due=due.isoformat())


# ---- lists --------------------------------------------------------------------------


def overdue(session, moment: datetime | None = None) -> list[Loan]:
    """Loans out past their due time, the longest overdue first."""
    moment = moment or now()
    return list(session.execute(
        select(Loan).options(selectinload(Loan.borrower))
        .where(Loan.status == LoanStatus.OUT.value, Loan.due_at < moment)
        .order_by(Loan.due_at)).scalars())


def days_overdue(loan: Loan, moment: datetime | None = None) -> int:
    moment = moment or now()
    return max(0, (local(moment).date() - local(loan.due_at).date()).days)


def mine(session, user: User) -> list[Loan]:
    return list(session.execute(
        select(Loan).where(Loan.borrower_id == user.id).order_by(Loan.id.desc()).limit(200)
    ).scalars())


def listing(session, user: User, *, status: str = "", borrower: str = "",
            overdue_only: bool = False) -> list[Loan]:
    """The register's rows the user may see (the archive room, auditors, the GM), or the
    user's own loans."""
    stmt = select(Loan).order_by(Loan.id.desc()).limit(500)
    if not access.can(user, "loan.register"):
        stmt = stmt.where(Loan.borrower_id == user.id)
    if status:
        try:
            stmt = stmt.where(Loan.status == LoanStatus(status).value)
        except ValueError:
            raise Invalid("status 取值：" + "、".join(s.value for s in LoanStatus),
                          details={"field": "status"}) from None
    if borrower:
        stmt = stmt.where(Loan.borrower.has(User.username == borrower))
    if overdue_only:
        stmt = stmt.where(Loan.status == LoanStatus.OUT.value, Loan.due_at < now())
    return [loan for loan in session.execute(stmt).scalars() if visible(session, user, loan)]


# ---- electronic delivery (电子借阅): opening the lent documents through the loan --------
#
# An approved electronic loan opens exactly its documents to its borrower until the due
# time; the check is the clock, so access stops by itself. The borrower must still be
# cleared for each document's current level at every opening: a level raise ends the
# loan for the documents above the borrower's clearance, with no job. Every page
# delivered carries the borrower, the loan number and the time, whatever the level.


@dataclass
class LentFile:
    """What the delivery needs: the loan, the lent document and the file asked for."""

    loan: Loan
    document: Document
    stored: StoredFile


def may_open(user: User, loan: Loan) -> bool:
    """Whether the loan's page should offer its documents to `user` now (each opening
    still runs every check of `open_item`)."""
    return loan.borrower_id == getattr(user, "id", None) and loan.open_electronically(now())


def open_item(session, user: User, loan_id, document_id, *, download: bool,
              file_id=None) -> LentFile:
    """A lent document's file for its borrower, through the loan. Refused (audited, nothing
    changed): a loan the user may not see (404, as if missing), another person's loan
    (403), not electronic, not approved, past its due time (409), a document not lent
    by it (404), a borrower no longer cleared for the document's level (403), a download
    of a view-only loan or of a 绝密 document (403). The view or download is audited with
    the loan number (`loan.viewed`, `loan.downloaded`)."""
    action = "loan.downloaded" if download else "loan.viewed"
    loan = get(session, user, loan_id)
    wanted = validation.row_id(document_id)

    def refuse(error):
        from archive.services import work

        work.record_refusal(session, user, action, loan, reason=error.message,
                            number=loan.number, document=str(document_id)[:20])
        raise error

    if not access.can(user, "loan.open", loan):
        refuse(Forbidden("只有借阅人本人可以查看借阅的电子文件"))
    if loan.kind != LoanKind.ELECTRONIC.value:
        refuse(Conflict(f"该借阅为{loan.kind_enum.label}，不是电子借阅，没有可在线查看的文件",
                        code="not_electronic"))
    if loan.status != LoanStatus.APPROVED.value:
        refuse(Conflict(f"借阅{loan.status_enum.label}，不能查看", code="not_approved"))
    if not loan.open_electronically(now()):
        refuse(Conflict(f"借阅已于 {local(loan.due_at):%Y-%m-%d %H:%M} 到期，电子文件已不能查看",
                        code="loan_expired"))
    item = next((i for i in loan.items if i.document_id == wanted), None)
    if item is None:
        refuse(NotFound("本次借阅中没有该文件"))
    document = item.document
    if document.status != DocumentStatus.ACTIVE.value:
        refuse(Conflict("该文件已不在册，不能查看", code="not_active"))
    if not access.cleared(user, document):
        # A loan never lifts a clearance: a level raised (or a designation withdrawn)
        # since the approval ends the loan for this document.
        refuse(Forbidden("该文件的密级已调整，超出借阅人的密级，本借阅对其不再有效",
                         code="not_cleared"))
    if download and document.access_level >= Level.TOP_SECRET:
        refuse(Forbidden("绝密文件不得通过电子借阅下载或打印", code="top_secret_download"))
    if download and not loan.may_download:
        refuse(Forbidden("本借阅仅限在线查看，不能下载或打印", code="view_only"))
    stored = _lent_file(document, file_id)
    if stored is None:
        refuse(NotFound("文件不存在"))
    audit.record(session, user, action, loan, number=loan.number, document=document.id,
                 file=stored.id, sha256=stored.sha256)
    return LentFile(loan=loan, document=document, stored=stored)


def _lent_file(document: Document, file_id) -> StoredFile | None:
    if file_id is None or file_id == "":
        return document.files[0] if document.files else None
    return next((f for f in document.files if str(f.id) == str(file_id)), None)


def deliver(session, user: User, loan_id, document_id, *, download: bool, store,
            file_id=None):
    """The lent file as it leaves the archive (web view and download, API content): a PDF
    (a scan: a PDF of the image) stamped on every page with the borrower, the loan number
    and the time, at every level; a DOCX as its PDF access copy, once the worker has made
    it (services/conversion.py). A file that cannot be stamped (text, audio, video, a
    damaged or locked PDF, a DOCX without its access copy) is not delivered through a loan;
    a blob that fails its hash is never served. Returns a `filing.Delivery`."""
    from archive.services import stamping, work
    from archive.services.filing import Delivery

    lent = open_item(session, user, loan_id, document_id, download=download,
                     file_id=file_id)
    loan, stored = lent.loan, lent.stored
    action = "loan.downloaded" if download else "loan.viewed"

    def refuse(error):
        work.record_refusal(session, user, action, loan, reason=error.message,
                            number=loan.number, document=lent.document.id, file=stored.id)
        raise error

    copy = (stored.access_copy_sha256
            if stored.kind == "docx" and stored.access_copy_status == "ok" else None)
    if stored.kind not in ("pdf", *stamping.IMAGE_KINDS) and copy is None:
        refuse(Forbidden("此文件无法加盖水印，不能通过电子借阅提供；请到档案室阅览原件",
                         code="not_stampable"))
    try:
        data = store.get(copy or stored.sha256)
    except Exception as exc:
        work.record_refusal(session, user, action, loan, outcome="error",
                            number=loan.number, document=lent.document.id, file=stored.id,
                            error=str(exc))
        raise
    mime, filename = "application/pdf", stored.original_name
    try:
        if copy is not None:
            filename = f"{filename}.pdf"
        elif stored.kind != "pdf":
            data, filename = stamping.image_to_pdf(data), f"{filename}.pdf"
        data = stamping.stamp_pdf(data, stamping.Stamp(
            level=Level(lent.document.access_level),
            viewer=f"{user.display_name}（{user.username}）", at=now(), loan=loan.number))
    except stamping.StampError as exc:
        refuse(Forbidden(f"{exc}，无法加盖水印，不能提供；请联系档案员", code="not_stampable"))
    return Delivery(stored=stored, data=data, stamped=True, mime=mime, filename=filename)
