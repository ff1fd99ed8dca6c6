"""The retention schedule (保管期限表) and appraisal (鉴定): every document's 保管期限 and
disposal date (到期日), computed from its category's schedule row, and the officer's
decisions on what has passed its date (docs/retention.md).

- A schedule row gives a period — 永久, 长期 (30 years), 短期 (10 years), or N years or
  months — and the event it counts from: the document's date, its filing date, its
  dossier's closing date (封卷日期) or its case file's closing date (结案日期). A document
  marked 重要 takes the row's longer period where the row names one (002:19).
- A document without the date its rule needs counts from its filing date and is listed
  for the officer to confirm (`disposal_unconfirmed`).
- A schedule change recomputes the documents that follow the schedule; a retention chosen
  at filing or decided at appraisal stands. A recomputation that would bring a date
  earlier than the one shown is not applied: it is proposed (`disposal_proposed_on`) and
  listed for the officer to confirm.
- A document's retention changes only here: the schedule or an appraisal decision.
"""

import calendar
import functools
import re
from datetime import date

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import selectinload

from archive.clock import local, now, today
from archive.models import Document, Dossier, User
from archive.models.enums import CATEGORIES, DocumentStatus, Retention
from archive.models.retention import (
    Appraisal,
    AppraisalDecision,
    CountsFrom,
    RetentionRule,
    RetentionSource,
)
from archive.services import access, audit, indexing, validation, work
from archive.services.errors import Conflict, Invalid, NotFound

LONG_MONTHS = 30 * 12  # 长期 (DA/T 22's 30 years)
SHORT_MONTHS = 10 * 12  # 短期
TERMS = {Retention.PERMANENT.value: None, Retention.LONG.value: LONG_MONTHS,
         Retention.SHORT.value: SHORT_MONTHS}
MAX_MONTHS = 100 * 12
MAX_OPINION = 2000
_PERIOD = re.compile(r"^\s*(\d{1,3})\s*(年|个月|月)\s*$")


# ---- periods and dates --------------------------------------------------------------


def parse_period(value, label: str = "保管期限") -> tuple[str, int | None]:
    """(label, months) of a period: 永久 / 长期 / 短期, "N年", "N个月", or
    {"years": N} / {"months": N}. 永久 has no months."""
    if isinstance(value, dict):
        years, months = value.get("years"), value.get("months")
        count = years if years is not None else months
        unit = "年" if years is not None else "个月"
        value = f"{count}{unit}" if isinstance(count, int) and not isinstance(count, bool) \
            else None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{label}须为 永久、长期、短期，或“N年”“N个月”", code="bad_period",
                      details={"field": "retention"})
    text = value.strip()
    if text in TERMS:
        return text, TERMS[text]
    match = _PERIOD.match(text)
    count = int(match.group(1)) if match else 0
    if not match or count < 1:
        raise Invalid(f"{label}须为 永久、长期、短期，或“N年”“N个月”（N 为正整数）",
                      code="bad_period", details={"field": "retention"})
    months = count * 12 if match.group(2) == "年" else count
    if months > MAX_MONTHS:
        raise Invalid(f"{label}过长：定期最长 100 年，更长请选“永久”", code="bad_period",
                      details={"field": "retention"})
    return (f"{count}年" if match.group(2) == "年" else f"{count}个月"), months


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rule_for(session, category: str) -> RetentionRule:
    rule = session.get(RetentionRule, category)
    if rule is None:  # every category is seeded by the migration
        raise Conflict(f"保管期限表缺少类别“{category}”", code="no_rule")
    return rule


def period_for(rule: RetentionRule, important: bool) -> tuple[str, int | None]:
    """The row's period; for a 重要 document, the longer period where the row names one."""
    if important and rule.important_retention:
        return rule.important_retention, rule.important_months
    return rule.retention, rule.months


def base_date(document: Document, counts_from: str) -> tuple[date, str, bool]:
    """(date, the event used, whether the event's date was missing): a document without
    the date its rule needs counts from its filing date."""
    filed = local(document.created_at).date()
    dossier = document.dossier
    event = CountsFrom(counts_from)
    value = {
        CountsFrom.DOCUMENT_DATE: document.doc_date,
        CountsFrom.FILED: filed,
        CountsFrom.DOSSIER_CLOSED: dossier.closed_on,
        CountsFrom.CASE_CLOSED: dossier.case_closed_on if dossier.kind == "case" else None,
    }[event]
    if value is None:
        return filed, CountsFrom.FILED.value, True
    return value, event.value, False


def _computed(session, document: Document, label: str | None = None,
              months: int | None = None, *, from_schedule: bool = True) -> dict:
    rule = rule_for(session, document.category)
    if from_schedule:
        label, months = period_for(rule, document.important)
    if months is None:
        return {"retention": label, "retention_months": None, "disposal_basis": None,
                "disposal_on": None, "missing": False}
    start, basis, missing = base_date(document, rule.counts_from)
    return {"retention": label, "retention_months": months, "disposal_basis": basis,
            "disposal_on": add_months(start, months), "missing": missing}


def _set(document: Document, values: dict) -> None:
    document.retention = values["retention"]
    document.retention_months = values["retention_months"]
    document.disposal_basis = values["disposal_basis"]
    document.disposal_on = values["disposal_on"]
    document.disposal_proposed_on = None
    document.disposal_unconfirmed = values["missing"]


def assign(session, document: Document, chosen: str | None) -> None:
    """At filing: the schedule's period, or the one chosen at filing (which then stands)."""
    if chosen:
        label, months = parse_period(chosen)
        document.retention_source = RetentionSource.FILING.value
        _set(document, _computed(session, document, label, months, from_schedule=False))
    else:
        document.retention_source = RetentionSource.SCHEDULE.value
        _set(document, _computed(session, document))


def _later(a: date | None, b: date | None) -> bool:
    """Whether disposal date `a` is later than `b` (None: never, the latest of all)."""
    if a is None or b is None:
        return a is None and b is not None
    return a > b


def refresh(session, document: Document) -> bool:
    """Recompute a document's date after its schedule row or its dates changed. A
    schedule follower takes the new period; a chosen one keeps its period and moves only
    with its dates. A date earlier than the one shown is proposed, not applied: the
    document is listed for the officer to confirm. Returns whether it was listed."""
    if document.status != DocumentStatus.ACTIVE.value:
        return False
    if document.retention_source == RetentionSource.APPRAISAL.value:
        return False  # decided at appraisal: it stands (only a new appraisal changes it)
    if document.retention_source == RetentionSource.SCHEDULE.value:
        values = _computed(session, document)
    else:
        values = _computed(session, document, document.retention, document.retention_months,
                           from_schedule=False)
    # A date counted from the filing date for want of the rule's own was provisional: the
    # rule's date, once known, replaces it even when earlier.
    provisional = document.disposal_unconfirmed and document.disposal_proposed_on is None
    if provisional and not values["missing"]:
        _set(document, values)
        return False
    if _later(document.disposal_on, values["disposal_on"]):
        document.disposal_proposed_on = values["disposal_on"]
        document.disposal_unconfirmed = True
        return True
    if (document.retention, document.disposal_on) != (values["retention"],
                                                      values["disposal_on"]):
        _set(document, values)
    elif not values["missing"] and document.disposal_proposed_on is None:
        document.disposal_unconfirmed = False
    return False


# ---- the schedule ------------------------------------------------------------------


def schedule(session) -> list[RetentionRule]:
    order = {category: n for n, category in enumerate(CATEGORIES)}
    rules = session.execute(select(RetentionRule)).scalars().all()
    return sorted(rules, key=lambda r: order.get(r.category, len(order)))


def describe_rule(rule: RetentionRule) -> dict:
    return {"category": rule.category, "retention": rule.retention, "months": rule.months,
            "counts_from": rule.counts_from,
            "counts_from_label": CountsFrom(rule.counts_from).label,
            "important_retention": rule.important_retention,
            "important_months": rule.important_months, "seed_ref": rule.seed_ref,
            "updated_at": local(rule.updated_at).isoformat() if rule.updated_at else None,
            "updated_by": rule.updated_by.display_name if rule.updated_by else None}


def update_rule(session, actor: User, data: dict) -> tuple[RetentionRule, list]:
    """Change a category's row (the administrator) and recompute its followers. Returns
    the row and the documents listed for the officer (a date that would come earlier)."""
    access.require(actor, "retention.manage", hide=False)
    category = validation.choice(data, "category", "类别", CATEGORIES)
    rule = rule_for(session, category)
    label, months = parse_period(data.get("retention"))
    counts_from = validation.choice(data, "counts_from", "起算事件",
                                    [c.value for c in CountsFrom], default=rule.counts_from)
    important = data.get("important_retention", rule.important_retention)
    important_label = important_months = None
    if important not in (None, ""):
        important_label, important_months = parse_period(important, "重要文件的保管期限")
        if not _later(add_months(date(2000, 1, 1), important_months)
                      if important_months is not None else None,
                      add_months(date(2000, 1, 1), months) if months is not None else None):
            raise Invalid("重要文件的保管期限须长于一般期限", code="bad_period",
                          details={"field": "important_retention"})
    before = describe_rule(rule)
    rule.retention, rule.months, rule.counts_from = label, months, counts_from
    rule.important_retention, rule.important_months = important_label, important_months
    rule.updated_at, rule.updated_by_id = now(), actor.id
    session.flush()
    listed, changed = [], []
    followers = session.execute(
        select(Document).where(Document.category == category,
                               Document.status == DocumentStatus.ACTIVE.value)
        .options(selectinload(Document.dossier))).scalars()
    for document in followers:
        shown = document.retention
        if refresh(session, document):
            listed.append(document)
        if document.retention != shown:
            changed.append(document.id)
    _reindex(session, changed)  # the index shows each hit's retention
    after = describe_rule(rule)
    audit.record(session, actor, "retention.rule_changed", ("retention_rule", category),
                 before={k: before[k] for k in ("retention", "counts_from",
                                                "important_retention")},
                 after={k: after[k] for k in ("retention", "counts_from",
                                              "important_retention")},
                 listed=len(listed))
    return rule, listed


# ---- dossier and case closing dates ------------------------------------------------


def _dossier(session, actor: User, dossier_id) -> Dossier:
    dossier = session.get(Dossier, validation.row_id(dossier_id) or -1)
    if dossier is None or not access.may_read(actor, dossier):
        raise NotFound("档案不存在")
    access.require(actor, "dossier.close", dossier, hide=False)
    return dossier


def _refresh_dossier(session, dossier: Dossier) -> int:
    listed = 0
    for document in dossier.documents:
        listed += refresh(session, document)
    return listed


def close_dossier(session, actor: User, dossier_id, data: dict) -> Dossier:
    """封卷: the dossier takes no new filings; its closing date is what schedule rows that
    count from the dossier's closing count from."""
    dossier = _dossier(session, actor, dossier_id)
    if dossier.status == "closed":
        raise Conflict(f"档案 {dossier.number} 已封卷（{dossier.closed_on}）", code="closed")
    closed_on = validation.day(data, "closed_on", "封卷日期") or today()
    if closed_on > today():
        raise Invalid("封卷日期不能晚于今天", details={"field": "closed_on"})
    dossier.status, dossier.closed_on = "closed", closed_on
    listed = _refresh_dossier(session, dossier)
    audit.record(session, actor, "dossier.closed", dossier, number=dossier.number,
                 closed_on=closed_on.isoformat(), listed=listed)
    return dossier


def reopen_dossier(session, actor: User, dossier_id, data: dict) -> Dossier:
    """拆卷: the officer reopens a closed dossier, with a reason; the closing date goes
    with it (a document that counted from it is listed again)."""
    dossier = _dossier(session, actor, dossier_id)
    if dossier.status != "closed":
        raise Conflict(f"档案 {dossier.number} 未封卷", code="not_closed")
    reason = validation.text(data, "reason", "重新开卷的原因", required=True, max_len=500)
    before = dossier.closed_on
    dossier.status, dossier.closed_on = "open", None
    _refresh_dossier(session, dossier)
    audit.record(session, actor, "dossier.reopened", dossier, number=dossier.number,
                 closed_on=before.isoformat() if before else None, reason=reason)
    return dossier


def set_case_closed(session, actor: User, dossier_id, data: dict) -> Dossier:
    """结案日期 of a case file (案卷), from which litigation material counts."""
    dossier = _dossier(session, actor, dossier_id)
    if dossier.kind != "case":
        raise Invalid("只有诉讼案卷有结案日期", code="not_a_case", details={"field": "case_closed_on"})
    closed_on = validation.day(data, "case_closed_on", "结案日期")
    if closed_on is None:
        raise Invalid("请填写结案日期", details={"field": "case_closed_on"})
    if closed_on > today():
        raise Invalid("结案日期不能晚于今天", details={"field": "case_closed_on"})
    before = dossier.case_closed_on
    dossier.case_closed_on = closed_on
    listed = _refresh_dossier(session, dossier)
    audit.record(session, actor, "dossier.case_closed", dossier, number=dossier.number,
                 before=before.isoformat() if before else None,
                 case_closed_on=closed_on.isoformat(), listed=listed)
    return dossier


# ---- appraisal ---------------------------------------------------------------------


def _document(session, actor: User, document_id) -> Document:
    document = session.get(Document, validation.row_id(document_id) or -1)
    if document is None or not access.may_read(actor, document):
        raise NotFound("文件不存在")
    access.require(actor, "retention.appraise", document, hide=False)
    if document.status != DocumentStatus.ACTIVE.value:
        raise Conflict("文件已销毁或正在销毁，不能再鉴定", code="not_active")
    return document


def appraise(session, actor: User, document_id, data: dict) -> Appraisal:
    """One appraisal decision (鉴定意见) on one document: extend to a new date, make it
    permanent, confirm its date (one counted from the filing date, or a schedule change
    that brings it earlier), or destroy (which a destruction batch then carries out)."""
    document = _document(session, actor, document_id)
    decision = AppraisalDecision(validation.choice(
        data, "decision", "鉴定结论", [d.value for d in AppraisalDecision]))
    opinion = validation.text(data, "opinion", "鉴定意见", required=True, max_len=MAX_OPINION)
    before, shown = document.disposal_on, document.retention
    if decision is AppraisalDecision.EXTEND:
        until = validation.day(data, "until", "延长至")
        if until is None:
            raise Invalid("请填写延长后的到期日", details={"field": "until"})
        if before is None or until <= max(before, today()):
            raise Invalid("延长后的到期日须晚于原到期日和今天", code="not_later",
                          details={"field": "until"})
        document.disposal_on, document.disposal_proposed_on = until, None
        document.disposal_unconfirmed = False
        document.retention_source = RetentionSource.APPRAISAL.value
    elif decision is AppraisalDecision.PERMANENT:
        if before is None:
            raise Conflict("该文件已是永久保管", code="permanent")
        document.retention, document.retention_months = Retention.PERMANENT.value, None
        document.disposal_on = document.disposal_basis = document.disposal_proposed_on = None
        document.disposal_unconfirmed = False
        document.retention_source = RetentionSource.APPRAISAL.value
    elif decision is AppraisalDecision.CONFIRM:
        if not document.disposal_unconfirmed:
            raise Conflict("该文件的到期日无需确认", code="nothing_to_confirm")
        if document.disposal_proposed_on is not None:
            values = (_computed(session, document)
                      if document.retention_source == RetentionSource.SCHEDULE.value else
                      _computed(session, document, document.retention,
                                document.retention_months, from_schedule=False))
            _set(document, values)
        document.disposal_unconfirmed = False
    else:
        require_due(document)
    if document.retention != shown:
        _reindex(session, [document.id])  # the index shows each hit's retention
    record = Appraisal(document_id=document.id, decision=decision.value,
                       disposal_before=before, disposal_after=document.disposal_on,
                       opinion=opinion, decided_by_id=actor.id)
    session.add(record)
    session.flush()
    audit.record(session, actor, "retention.appraised", document, decision=decision.value,
                 before=before.isoformat() if before else None,
                 after=document.disposal_on.isoformat() if document.disposal_on else None,
                 opinion=opinion)
    return record


def _reindex(session, ids: list[int]) -> None:
    """Flag the documents for the index in this unit and index them once it commits (a
    process killed in between leaves them flagged for the next index write)."""
    if ids:
        indexing.flag(session, ids)
        work.after_commit(session, lambda: indexing.index_after_commit(session, ids))


def require_due(document: Document) -> None:
    """Refuse (409) a document that may not be destroyed by its retention: permanent, not
    yet due, or with a date still to be confirmed."""
    name = f"《{document.title}》"
    if document.disposal_on is None:
        raise Conflict(f"{name}为永久保管，不能销毁", code="permanent")
    if document.disposal_on > today():
        raise Conflict(f"{name}保管期限未满（到期日 {document.disposal_on}），不能销毁",
                       code="not_due")
    if document.disposal_unconfirmed:
        raise Conflict(f"{name}的到期日尚待档案员确认，确认后方可销毁", code="unconfirmed")


def appraisals(session, document: Document) -> list[Appraisal]:
    return list(session.execute(_appraisals_of(), {"document": document.id}).scalars())


@functools.cache
def _appraisals_of():
    # Built once: every document page asks it.
    return (select(Appraisal).where(Appraisal.document_id == bindparam("document"))
            .order_by(Appraisal.id))


# ---- the review queue ---------------------------------------------------------------


def due(session, user: User, *, category: str = "", until: date | None = None) -> list[Document]:
    """What has passed its date (or will by `until`), that `user` may read, by dossier
    and category: the disposal review queue (鉴定)."""
    access.require(user, "retention.review", hide=False)
    stmt = (select(Document).join(Dossier, Dossier.id == Document.dossier_id)
            .where(Document.status == DocumentStatus.ACTIVE.value,
                   Document.disposal_on.is_not(None),
                   Document.disposal_on <= (until or today()))
            .options(selectinload(Document.dossier).selectinload(Dossier.customer))
            .order_by(Dossier.number, Document.category, Document.disposal_on, Document.id))
    if category:
        stmt = stmt.where(Document.category == category)
    condition = access.dossier_filter(user)
    if condition is not None:
        stmt = stmt.where(condition)
    return access.visible_documents(user, session.execute(stmt).scalars().all())


def unconfirmed(session, user: User) -> list[Document]:
    """Documents whose date the officer must confirm: counted from the filing date for
    want of their rule's date, or brought earlier by a schedule change."""
    access.require(user, "retention.review", hide=False)
    stmt = (select(Document).join(Dossier, Dossier.id == Document.dossier_id)
            .where(Document.status == DocumentStatus.ACTIVE.value,
                   Document.disposal_unconfirmed.is_(True),
                   or_(Document.disposal_on.is_not(None),
                       Document.disposal_proposed_on.is_not(None)))
            .options(selectinload(Document.dossier))
            .order_by(Dossier.number, Document.id))
    condition = access.dossier_filter(user)
    if condition is not None:
        stmt = stmt.where(condition)
    return access.visible_documents(user, session.execute(stmt).scalars().all())


def kept_for(document: Document, on: date | None = None) -> str:
    """已保管期限: from the date the period counts from, in years and months."""
    start, _basis, _missing = base_date(document, document.disposal_basis
                                        or CountsFrom.FILED.value)
    end = on or today()
    months = max(0, (end.year - start.year) * 12 + end.month - start.month
                 - (1 if end.day < start.day else 0))
    years, rest = divmod(months, 12)
    return (f"{years}年" if years else "") + (f"{rest}个月" if rest or not years else "")

