"""Whoosh backend: pure Python, for small archives and machines without tantivy.

It indexes the same `analysis` streams as the tantivy backend through a
whitespace-only tokenizer (position = index in the stream) and compiles the same
AST, so both backends return the same documents.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable

import whoosh.index
from whoosh import fields, sorting
from whoosh import query as wq
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.searching import Searcher

from .analysis import STREAMS, query_word
from .documents import SCOPES, Prepared
from .plan import FACETS, Plan
from .query import ALL, And, Match, Node, Not, Or, Range, TermIn
from .service import Found, IndexService, Page, retry_vanished

WRITER_MB = 256
TITLE_BOOST = 2.0
WORD_BOOST = 1.5
_INT_FIELDS = ("dossier_id", "customer_id", "department_id", "classification", "access_level",
               "day", "year")


def _schema() -> fields.Schema:
    streams = SpaceSeparatedTokenizer()
    spec: dict[str, fields.FieldType] = {
        "id": fields.NUMERIC(int, stored=True, unique=True),
        "sort_key": fields.NUMERIC(int, bits=64, sortable=True),
        "sort_asc": fields.NUMERIC(int, bits=64, sortable=True),
        "readers": fields.NUMERIC(int),
        "category": fields.ID(sortable=True),
        "carrier": fields.ID,
        "title_src": fields.STORED,
        "text_src": fields.STORED,
        "words": fields.TEXT(analyzer=streams, phrase=False),
    }
    for name in _INT_FIELDS:
        spec[name] = fields.NUMERIC(int, stored=name in ("dossier_id", "customer_id"),
                                    sortable=name in FACETS.values())
    for scope in SCOPES:
        for stream in STREAMS:
            spec[f"{stream}_{scope}"] = fields.TEXT(analyzer=streams, phrase=True)
    return fields.Schema(**spec)


SCHEMA = _schema()


def _fields(p: Prepared) -> dict:
    out = {
        "id": p.id, "sort_key": p.sort_key, "sort_asc": p.sort_asc, "readers": list(p.readers), "category": p.category,
        "carrier": p.carrier, "title_src": p.title, "text_src": p.text, "words": p.words,
    }
    for name in _INT_FIELDS:
        value = getattr(p, name)
        if value is not None:
            out[name] = value
    # An undated document's year column would hold an arbitrary default: make it 0,
    # which the year facet skips.
    out["year"] = p.year or 0
    for scope, streams in p.streams.items():
        if streams.uni:
            for stream, values in zip(STREAMS, streams, strict=True):
                out[f"{stream}_{scope}"] = " ".join(values)
    return out


def _phrase(field: str, terms: tuple[str, ...]) -> wq.Query:
    return wq.Term(field, terms[0]) if len(terms) == 1 else wq.Phrase(field, list(terms))


def _compile(node: Node, rank: bool = False) -> wq.Query:
    """Whoosh query for `node`; `rank` adds score-only clauses to positive matches."""
    if isinstance(node, Match):
        stream, terms = node.phrase
        query = _phrase(f"{stream}_{node.scope}", terms)
        if not (rank and node.scope == ALL):
            return query
        # Same matches, better order: title hits and whole-word hits first.
        return wq.AndMaybe(query, wq.Or([
            _phrase(f"{stream}_title", terms).with_boost(TITLE_BOOST),
            wq.Term("words", query_word(node.literal), boost=WORD_BOOST),
        ]))
    if isinstance(node, And):
        # Whoosh's And subtracts Not children itself; it needs one positive child.
        children = [wq.Not(_compile(c.child)) if isinstance(c, Not) else _compile(c, rank)
                    for c in node.children]
        if all(isinstance(c, Not) for c in node.children):
            children.insert(0, wq.Every())
        return wq.And(children)
    if isinstance(node, Or):
        return wq.Or([_compile(c, rank) for c in node.children])
    if isinstance(node, Not):
        return wq.And([wq.Every(), wq.Not(_compile(node.child))])
    if isinstance(node, TermIn):
        if not node.values:
            return wq.NullQuery
        return wq.Or([wq.Term(node.field, v) for v in node.values])
    if isinstance(node, Range):
        return wq.NumericRange(node.field, node.low, node.high)
    raise TypeError(f"cannot compile {node!r}")


class WhooshSearch(IndexService):
    """`SearchService` on Whoosh."""

    FORMAT = "whoosh-5"  # 2: quad streams; 3: tri streams; 4: access_level; 5: sort_asc

    def __init__(self, root: pathlib.Path):
        self.index: whoosh.index.Index | None = None
        self._path: pathlib.Path | None = None
        super().__init__(root)

    def _create(self, path: pathlib.Path) -> None:
        whoosh.index.create_in(str(path), SCHEMA)

    def _open(self, path: pathlib.Path) -> None:
        self.index = retry_vanished(lambda: whoosh.index.open_dir(str(path)))
        self._path = path

    def _refresh(self) -> None:
        # Every search opens a fresh searcher on the newest commit (`_searcher`).
        return None

    def _searcher(self) -> Searcher:
        """A searcher on the newest commit; close it after use.

        Not cached: Searcher.refresh() reuses segment readers and so misses deletions,
        and a searcher is not safe to share between threads."""
        return retry_vanished(self.index.searcher)

    def _write(self, path: pathlib.Path, docs: Iterable[Prepared],
               delete_ids: Iterable[int] = ()) -> int:
        index = self.index if path == self._path else whoosh.index.open_dir(str(path))
        # Our flock serialises writers, so Whoosh's own lock is always free here.
        writer = index.writer(limitmb=WRITER_MB)
        count = 0
        try:
            for document_id in delete_ids:
                writer.delete_by_term("id", document_id)
            for p in docs:
                writer.update_document(**_fields(p))
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return count

    def _execute(self, plan: Plan) -> Page:
        with self._searcher() as searcher:
            return self._run(searcher, plan)

    def _run(self, searcher: Searcher, plan: Plan) -> Page:
        query = _compile(plan.text, rank=True) if plan.text else wq.Every()
        options: dict = {"limit": plan.offset + plan.limit}
        if plan.facets:
            options["groupedby"] = {name: sorting.FieldFacet(field, maptype=sorting.Count)
                                    for name, field in FACETS.items()}
        if plan.filters is not None:
            options["filter"] = _compile(plan.filters)
        if plan.sort != "relevance":
            # Undated documents last either way: each order has its own key.
            options["sortedby"] = (sorting.FieldFacet("sort_key", reverse=True)
                                   if plan.sort == "date_desc" else sorting.FieldFacet("sort_asc"))
        results = searcher.search(query, **options)
        found = [
            Found(hit["id"], hit["dossier_id"], hit["customer_id"], hit["title_src"],
                  hit["text_src"], float(hit.score or 0.0) if plan.sort == "relevance" else 0.0)
            for hit in results[plan.offset:plan.offset + plan.limit]
        ]
        facets = {}
        for name in FACETS if plan.facets else ():
            # Undated documents have year 0 (see _fields): not a year.
            facets[name] = {str(k): n for k, n in results.groups(name).items()
                            if k is not None and (name != "year" or k)}
        return Page(len(results), found, facets)

    def document_ids(self) -> set[int]:
        self._sync()
        with self._searcher() as searcher:
            # all_stored_fields() would include deleted documents.
            return {searcher.stored_fields(n)["id"] for n in searcher.reader().all_doc_ids()}

    def count(self) -> int:
        self._sync()
        with self._searcher() as searcher:
            return searcher.doc_count()

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        self.index = None
        self._generation = None
