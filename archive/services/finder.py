"""Searching the archive as a user: parse the request, filter by access, audit."""

import functools
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, select

from archive.models import Customer, Document, Dossier, Level, User
from archive.models.enums import CARRIERS, CATEGORIES, DocumentStatus
from archive.services import access, audit, indexing, personal_data, validation, work
from archive.services.errors import Invalid, Unavailable
from archive.services.indexing import search_service
from archive.services.search.service import IndexUnavailable

SORTS = ("relevance", "date_desc", "date_asc")
MAX_PER_PAGE = 100


def build_query(params: dict):
    """A SearchQuery from request parameters (form or query string), validated."""
    from archive.services.search import SearchQuery

    classification = params.get("classification")
    page = validation.integer(params, "page", "页码")
    page = 1 if page is None else page
    per_page = validation.integer(params, "per_page", "每页条数")
    per_page = 20 if per_page is None else per_page
    if page < 1 or page > 10_000:
        raise Invalid("页码超出范围", details={"field": "page"})
    if per_page < 1 or per_page > MAX_PER_PAGE:
        raise Invalid(f"每页条数须在 1 到 {MAX_PER_PAGE} 之间", details={"field": "per_page"})
    date_from = validation.day(params, "from", "起始日期")
    date_to = validation.day(params, "to", "截止日期")
    if date_from and date_to and date_from > date_to:
        raise Invalid("起始日期不能晚于截止日期")
    customer = validation.text(params, "customer", "客户", max_len=200)
    return SearchQuery(
        text=str(params.get("q") or ""),
        customer_id=(validation.integer(params, "customer", "客户")
                     if customer.isdecimal() else None),
        customer=None if customer.isdecimal() else (customer or None),
        category=validation.choice(params, "category", "类别", CATEGORIES, default="") or None,
        carrier=validation.choice(params, "carrier", "载体", CARRIERS, default="") or None,
        classification=(int(validation.level(params, "classification", None))
                        if classification not in (None, "") else None),
        department_id=validation.integer(params, "department", "部门"),
        dossier_id=validation.integer(params, "dossier", "档案"),
        date_from=date_from,
        date_to=date_to,
        sort=validation.choice(params, "sort", "排序", SORTS, default="relevance"),
        page=page,
        per_page=per_page,
        facets=str(params.get("facets", "1")).strip().lower() not in ("0", "false", "no"),
    )


def filter_choices(session, actor: User) -> tuple[dict[int, str], list[Level], dict[int, str]]:
    """The departments and levels the search form offers `actor`: only those whose
    documents the actor may open (a department within reach, a level within clearance;
    绝密 to the GM and to those designated for something); and every department's name
    (facets count only what the actor may open, but name its department all the same)."""
    from archive.models import Customer

    scope = access.reach(actor)
    # Every department in one query; the reach is filtered here rather than in SQL.
    names = dict(work.rows(session, _department_names()).all())
    if scope.unrestricted or scope.departments is None:
        departments = names
    else:
        within = set(scope.departments)
        if scope.customers:  # customers granted one by one (002:67)
            within.update(session.execute(select(Customer.department_id).where(
                Customer.id.in_(scope.customers))).scalars())
        departments = {i: name for i, name in names.items() if i in within}
    levels = [level for level in Level if scope.unrestricted or level <= scope.max_level]
    if not scope.unrestricted and access.designated_for_anything(session, actor):
        levels.append(Level.TOP_SECRET)
    return departments, levels, names


@functools.cache
def _department_names():
    # Built once: every search page asks it (as sessions._by_token).
    from archive.models import Department

    return select(Department.id, Department.name).order_by(Department.id)


def search(session, actor: User, params: dict):
    """Run a search for `actor`: only documents they may open are counted or shown.
    Returns the query, the result, and the page's documents by id (for their metadata)."""
    access.require(actor, "search")
    query = build_query(params)
    try:
        result = search_service().search(query, access.visibility(actor))
        if result.total == 0 and indexing.unavailable_reason(session):
            raise IndexUnavailable("search index is empty but the archive is not")
    except IndexUnavailable as exc:
        _record_error(session, actor, query, exc)
        indexing.repair_in_background(current_app._get_current_object())
        raise Unavailable("检索索引正在重建，请稍后再试；档案和文件本身不受影响",
                          code="index_rebuilding") from None
    except Exception as exc:
        _record_error(session, actor, query, exc)
        raise
    result.hits, documents = _openable(session, actor, result.hits)
    filters = {k: v for k, v in params.items()
               if k not in ("q", "page", "per_page", "facets") and v}
    audit.record(session, actor, "search", None, query=query.text[:500], filters=filters,
                 hits=result.total)
    return query, result, documents


def _record_error(session, actor: User, query, exc: Exception) -> None:
    """A failed search is on the record although its unit is rolled back."""
    work.record_refusal(session, actor, "search", None, outcome="error",
                        query=query.text[:500], error=getattr(exc, "message", type(exc).__name__))


@dataclass(frozen=True, slots=True)
class HitCustomer:
    id: int
    name: str
    department_id: int | None


@dataclass(frozen=True, slots=True)
class HitDossier:
    id: int
    number: str
    customer: HitCustomer


@dataclass(frozen=True, slots=True)
class HitDocument:
    """What a search hit shows of its document, dossier and customer (read from rows,
    not ORM objects: the lists and the API answer read nothing else)."""

    id: int
    category: str
    classification: int
    doc_date: date | None
    dossier: HitDossier


@functools.cache
def _hit_rows():
    # Built once: every search asks it (as sessions._by_token).
    return (select(*access.document_columns(), Document.category, Document.doc_date,
                   Dossier.number, Customer.name)
            .join(Dossier, Document.dossier_id == Dossier.id)
            .join(Customer, Dossier.customer_id == Customer.id)
            .where(Document.id.in_(bindparam("ids", expanding=True)),
                   Document.status == DocumentStatus.ACTIVE.value))


def _openable(session, actor: User, hits):
    """The hits the database (the source of truth) lets `actor` see. The index can lag
    it: a level raised or a designation withdrawn whose index write failed leaves the
    old entry (flagged needs_index) until the next write or `flask reindex`, and its
    title and snippet must not reach a reader the new state excludes."""
    if not hits:
        return hits, {}
    # Rows and the row form of the document check: a page of hits hydrated as documents,
    # dossiers and customers was about a third of an API search's CPU.
    rows = work.rows(session, _hit_rows(), {"ids": [h.document_id for h in hits]}).all()
    documents = {r.id: HitDocument(
        r.id, r.category, r.classification, r.doc_date,
        HitDossier(r.dossier_id, r.number,
                   HitCustomer(r.customer_id, r.name, r.customer_department_id)))
        for r in access.readable_rows(actor, rows)}
    shown = [h for h in hits if h.document_id in documents]
    for h in shown:  # ID and mobile numbers in the text, for those outside the customer's reach
        if not access.can(actor, "customer.personal_data", documents[h.document_id].dossier.customer):
            h.title = personal_data.mask_text(h.title)
            h.highlight = personal_data.mask_snippet(h.highlight)
    return shown, {h.document_id: documents[h.document_id] for h in shown}
