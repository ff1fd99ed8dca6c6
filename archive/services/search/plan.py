"""What every backend executes: a `SearchQuery` plus a `Visibility`, reduced to one AST.

Visibility is part of the query itself, so totals, facets and pages only ever count
documents the searcher may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.services.errors import BadRequest

from . import TOP_SECRET, SearchQuery, Visibility
from .query import Node, Range, TermIn, all_of, any_of, match, parse, positive_literals

SORTS = ("relevance", "date_desc", "date_asc")
MAX_PER_PAGE = 100
# Deep pages cost memory in every engine (top-k of offset+limit); nobody reads them.
MAX_OFFSET = 100_000
FACETS = {"category": "category", "classification": "classification",
          "department": "department_id", "year": "year"}


@dataclass(frozen=True)
class Plan:
    text: Node | None  # scored part; None: every document
    filters: Node | None  # unscored part: SearchQuery filters and visibility
    sort: str  # "relevance", "date_desc" or "date_asc"
    offset: int
    limit: int
    highlight: tuple[str, ...]  # literals to mark in snippets
    facets: bool = True  # count facets over all matches (else only the exact total)


def visibility_filter(vis: Visibility) -> Node | None:
    """The documents `vis` may see, as a filter node (None: everything)."""
    if vis.unrestricted:
        return None
    cleared: Node | None = None
    level = min(vis.max_level, TOP_SECRET - 1)
    if level >= 0:
        within = Range("access_level", None, level)
        if vis.department_ids is None:
            cleared = within
        else:
            scope = any_of([TermIn("department_id", tuple(sorted(vis.department_ids))),
                            TermIn("customer_id", tuple(sorted(vis.customer_ids)))])
            cleared = all_of([within, scope])
    named = TermIn("readers", (vis.user_id,)) if vis.user_id is not None else None
    return any_of([cleared, named]) or TermIn("id", ())


def _query_filters(q: SearchQuery) -> list[Node | None]:
    equal = {"customer_id": q.customer_id, "category": q.category, "carrier": q.carrier,
             "classification": q.classification, "department_id": q.department_id,
             "dossier_id": q.dossier_id}
    nodes: list[Node | None] = [TermIn(f, (v,)) for f, v in equal.items() if v is not None]
    if q.date_from or q.date_to:
        nodes.append(Range("day", q.date_from.toordinal() if q.date_from else None,
                           q.date_to.toordinal() if q.date_to else None))
    if q.customer:
        nodes.append(match("customer", q.customer))
    return nodes


def build(q: SearchQuery, vis: Visibility) -> Plan:
    """Validate `q` and reduce it, with `vis`, to a Plan."""
    if q.sort not in SORTS:
        raise BadRequest(f"不支持的排序方式：{q.sort}", code="bad_query")
    if q.page < 1 or q.per_page < 1:
        raise BadRequest("页码和每页条数必须大于0", code="bad_query")
    limit = min(q.per_page, MAX_PER_PAGE)
    offset = (q.page - 1) * limit
    if offset > MAX_OFFSET:
        raise BadRequest("页码过大，请缩小检索范围", code="bad_query")
    text = parse(q.text or "")
    sort = q.sort
    if text is None and sort == "relevance":
        sort = "date_desc"  # nothing to rank by
    filters = all_of([*_query_filters(q), visibility_filter(vis)])
    return Plan(text, filters, sort, offset, limit, tuple(positive_literals(text)), q.facets)
