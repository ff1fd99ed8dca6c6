"""Full-text search over archived documents: one interface, two embedded backends.

The app's filing service calls `open_search(backend, index_dir)` once and then
`index_document` / `remove_document` / `search` / `rebuild`. The database stays the
source of truth; the index can always be rebuilt from it.

This package is a pure library: no Flask, no SQLAlchemy, no models.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

# 密级: 公开 / 内部 / 秘密 / 机密 / 绝密
LEVELS = {"公开": 0, "内部": 1, "秘密": 2, "机密": 3, "绝密": 4}
TOP_SECRET = 4


@dataclass(frozen=True)
class Visibility:
    """Which documents a searcher may see; computed by the app's access module.

    visible(doc) iff unrestricted
      OR (doc.access_level <= max_level AND doc.access_level < TOP_SECRET
          AND (department_ids is None OR doc.department_id in department_ids
               OR doc.customer_id in customer_ids))
      OR (user_id is not None AND user_id in doc.readers)

    access_level is the higher of the document's own level and its dossier's.
    """

    unrestricted: bool = False
    max_level: int = 1
    department_ids: frozenset[int] | None = frozenset()
    customer_ids: frozenset[int] = frozenset()
    user_id: int | None = None


class IndexDoc(TypedDict):
    """One document as the filing service hands it to the index."""

    id: int
    dossier_id: int
    customer_id: int
    title: str
    text: str
    customer_name: str
    customer_code: str
    dossier_number: str
    unit: str
    category: str
    carrier: str
    classification: int
    access_level: int  # max(classification, the dossier's); absent: classification
    retention: str
    department_id: int
    department: str
    doc_date: dt.date | None
    filed_at: dt.datetime
    file_names: list[str]
    readers: list[int]


@dataclass
class SearchQuery:
    """A search request: free text (see `query.py` for the syntax) plus filters."""

    text: str = ""
    customer_id: int | None = None
    customer: str | None = None
    category: str | None = None
    carrier: str | None = None
    classification: int | None = None
    department_id: int | None = None
    dossier_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facets: bool = True  # counting facets visits every match: skip when not shown


@dataclass
class Hit:
    document_id: int
    dossier_id: int
    customer_id: int
    title: str
    score: float
    highlight: str
    # Where in the document's text the snippet's match starts; None: in the title, or none.
    match_at: int | None = None


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchService(Protocol):
    def index_document(self, doc: IndexDoc) -> None: ...
    def index_many(self, docs: Iterable[IndexDoc]) -> int: ...
    def remove_document(self, document_id: int) -> None: ...
    def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult: ...
    def rebuild(
        self, docs: Iterable[IndexDoc], total: int | None = None, progress: bool = False
    ) -> int: ...
    def document_ids(self) -> set[int]: ...
    def count(self) -> int: ...
    def available(self) -> bool: ...
    def close(self) -> None: ...


BACKENDS = ("tantivy", "whoosh")


def open_search(backend: str, index_dir: pathlib.Path) -> SearchService:
    """Open (creating if needed) the named backend's index under `index_dir`.

    Each backend keeps its index in a folder of its own (`index_dir/tantivy`, ...), so
    a command run with the other backend never touches the one the server uses."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown search backend {backend!r}; expected one of {BACKENDS}")
    from .directory import remove_legacy_layout

    index_dir = pathlib.Path(index_dir)
    remove_legacy_layout(index_dir)
    if backend == "tantivy":
        from .tantivy_backend import TantivySearch

        return TantivySearch(index_dir / backend)
    from .whoosh_backend import WhooshSearch

    return WhooshSearch(index_dir / backend)
