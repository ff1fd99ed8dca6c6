"""tantivy backend: the default, built for 100k+ documents.

Streams from `analysis` are indexed through a whitespace-only tokenizer, so a term's
position is its index in the stream and phrase queries check adjacency exactly
(tantivy's own ngram tokenizer puts every gram at position 0). Filters, facets and
date sorting run on fast fields.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import tantivy

from .analysis import STREAMS, query_word, sparse_phrase
from .documents import SCOPES, Prepared
from .plan import FACETS, Plan
from .query import ALL, And, Match, Node, Not, Or, Range, TermIn
from .service import Found, IndexService, Page, retry_vanished

WRITER_HEAP = 256_000_000
# The analysis (`documents.prepare`) runs in Python beside tantivy's indexing threads:
# one core is left to it (measured on 2 cores: 733 docs/s with one indexing thread,
# 597 with two).
WRITER_THREADS = max(1, (os.cpu_count() or 2) - 1)
TOKENIZER = "units"  # whitespace split, nothing else: the streams are already analysed
TITLE_BOOST = 2.0
WORD_BOOST = 1.5
# Larger than any facet's number of distinct values (departments, years).
FACET_SIZE = 10_000

_INT_FIELDS = ("dossier_id", "customer_id", "department_id", "classification", "access_level",
               "day", "year")
_Q = tantivy.Query
_MUST, _SHOULD, _MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in _INT_FIELDS:
        b.add_integer_field(name, stored=name in ("dossier_id", "customer_id"), indexed=True,
                            fast=True)
    b.add_integer_field("readers", indexed=True)
    b.add_integer_field("sort_key", fast=True)
    b.add_integer_field("sort_asc", fast=True)
    b.add_text_field("category", tokenizer_name="raw", fast=True)
    b.add_text_field("carrier", tokenizer_name="raw")
    b.add_bytes_field("title_src", stored=True)
    b.add_bytes_field("text_src", stored=True)
    for scope in SCOPES:
        for stream in STREAMS:
            b.add_text_field(f"{stream}_{scope}", tokenizer_name=TOKENIZER,
                             index_option="position")
    b.add_text_field("words", tokenizer_name=TOKENIZER, index_option="freq")
    return b.build()


SCHEMA = _schema()


def _document(p: Prepared) -> tantivy.Document:
    d = tantivy.Document()
    d.add_integer("id", p.id)
    for name in _INT_FIELDS:
        value = getattr(p, name)
        if value is not None:
            d.add_integer(name, value)
    for reader in p.readers:
        d.add_integer("readers", reader)
    d.add_integer("sort_key", p.sort_key)
    d.add_integer("sort_asc", p.sort_asc)
    d.add_text("category", p.category)
    d.add_text("carrier", p.carrier)
    d.add_bytes("title_src", p.title.encode())
    d.add_bytes("text_src", p.text.encode())
    for scope, streams in p.streams.items():
        if streams.uni:
            for stream, values in zip(STREAMS, streams, strict=True):
                d.add_text(f"{stream}_{scope}", " ".join(values))
    if p.words:
        d.add_text("words", p.words)
    return d


def _terms(field: str, values: tuple) -> tantivy.Query:
    if not values:
        return _Q.empty_query()
    if len(values) == 1:
        return _Q.term_query(SCHEMA, field, values[0])
    return _Q.term_set_query(SCHEMA, field, list(values))


def _phrase(field: str, terms: tuple[str, ...]) -> tantivy.Query:
    if len(terms) == 1:
        return _Q.term_query(SCHEMA, field, terms[0])
    if not field.startswith("uni_"):
        return _Q.phrase_query(SCHEMA, field, [(o, t) for o, t in sparse_phrase(terms)])
    return _Q.phrase_query(SCHEMA, field, list(terms))


def _compile(node: Node, rank: bool = False) -> tantivy.Query:
    """Tantivy query for `node`; `rank` adds score-only clauses to positive matches."""
    if isinstance(node, Match):
        stream, terms = node.phrase
        query = _phrase(f"{stream}_{node.scope}", terms)
        if not (rank and node.scope == ALL):
            return query
        # Same matches, better order: title hits and whole-word hits first.
        return _Q.boolean_query([
            (_MUST, query),
            (_SHOULD, _Q.boost_query(_phrase(f"{stream}_title", terms), TITLE_BOOST)),
            (_SHOULD, _Q.boost_query(_Q.term_query(SCHEMA, "words", query_word(node.literal)),
                                     WORD_BOOST)),
        ])
    if isinstance(node, And):
        clauses = [(_MUST_NOT, _compile(c.child)) if isinstance(c, Not) else
                   (_MUST, _compile(c, rank)) for c in node.children]
        if all(occur == _MUST_NOT for occur, _ in clauses):
            clauses.append((_MUST, _Q.all_query()))
        return _Q.boolean_query(clauses)
    if isinstance(node, Or):
        return _Q.boolean_query([(_SHOULD, _compile(c, rank)) for c in node.children])
    if isinstance(node, Not):
        return _Q.boolean_query([(_MUST, _Q.all_query()), (_MUST_NOT, _compile(node.child))])
    if isinstance(node, TermIn):
        return _terms(node.field, node.values)
    if isinstance(node, Range):
        return _Q.range_query(SCHEMA, node.field, tantivy.FieldType.Integer, node.low, node.high)
    raise TypeError(f"cannot compile {node!r}")


def compile_plan(plan: Plan) -> tantivy.Query:
    """The single tantivy query for `plan`: scored text AND unscored filters."""
    clauses = [(_MUST, _compile(plan.text, rank=True) if plan.text else _Q.all_query())]
    if plan.filters is not None:
        clauses.append((_MUST, _Q.const_score_query(_compile(plan.filters), 0.0)))
    return _Q.boolean_query(clauses)


_AGGREGATION = {name: {"terms": {"field": field, "size": FACET_SIZE}}
                for name, field in FACETS.items()}


def _register(index: tantivy.Index) -> tantivy.Index:
    analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    index.register_tokenizer(TOKENIZER, analyzer)
    return index


class TantivySearch(IndexService):
    """`SearchService` on tantivy."""

    FORMAT = "tantivy-5"  # 2: quad streams; 3: tri streams; 4: access_level; 5: sort_asc

    def __init__(self, root: pathlib.Path):
        self.index: tantivy.Index | None = None
        self._meta_stamp: tuple[int, int] | None = None
        self._path: pathlib.Path | None = None
        super().__init__(root)

    def _create(self, path: pathlib.Path) -> None:
        _register(tantivy.Index(SCHEMA, str(path), reuse=False))

    def _open(self, path: pathlib.Path) -> None:
        self.index = retry_vanished(lambda: _register(tantivy.Index(SCHEMA, str(path), reuse=True)))
        self._path = path
        self._meta_stamp = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path / "meta.json")
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _refresh(self) -> None:
        stamp = self._stamp()
        if stamp != self._meta_stamp:
            retry_vanished(self.index.reload)
            self._meta_stamp = stamp

    def _write(self, path: pathlib.Path, docs: Iterable[Prepared],
               delete_ids: Iterable[int] = ()) -> int:
        index = self.index if path == self._path else _register(tantivy.Index(SCHEMA, str(path)))
        writer = index.writer(WRITER_HEAP, WRITER_THREADS)
        count = 0
        try:
            for document_id in delete_ids:
                writer.delete_documents_by_term("id", document_id)
            for p in docs:
                writer.delete_documents_by_term("id", p.id)
                writer.add_document(_document(p))
                count += 1
            writer.commit()
        finally:
            # Dropping the writer (after merges finish) frees tantivy's own writer
            # lock for the next process that takes our flock.
            writer.wait_merging_threads()
        return count

    def _execute(self, plan: Plan) -> Page:
        searcher = self.index.searcher()
        query = compile_plan(plan)
        # With facets, no count here: counting forbids top-k pruning and is a second pass
        # over the matches; the classification facet (every document has one) sums to the
        # total. Without facets, tantivy's count is the cheaper way to the exact total.
        count = not plan.facets
        if plan.sort == "relevance":
            result = searcher.search(query, plan.limit, count=count, offset=plan.offset)
        else:
            # Undated documents last either way: each order has its own key.
            newest = plan.sort == "date_desc"
            result = searcher.search(query, plan.limit, count=count, offset=plan.offset,
                                     order_by_field="sort_key" if newest else "sort_asc",
                                     order=tantivy.Order.Desc if newest else tantivy.Order.Asc)
        found = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            found.append(Found(
                doc.get_first("id"), doc.get_first("dossier_id"), doc.get_first("customer_id"),
                doc.get_first("title_src").decode(), doc.get_first("text_src").decode(),
                float(score) if plan.sort == "relevance" else 0.0,
            ))
        if not plan.facets:
            return Page(result.count, found, {})
        aggregated = searcher.aggregate(query, _AGGREGATION)
        facets = {name: {str(b["key"]): b["doc_count"] for b in aggregated[name]["buckets"]}
                  for name in FACETS}
        return Page(sum(facets["classification"].values()), found, facets)

    def document_ids(self) -> set[int]:
        self._sync()
        searcher = self.index.searcher()
        if not searcher.num_docs:
            return set()
        result = searcher.search(_Q.all_query(), searcher.num_docs, count=False)
        return set(searcher.fast_field_values("id", [a for _, a in result.hits]))

    def count(self) -> int:
        self._sync()
        return self.index.searcher().num_docs

    def close(self) -> None:
        self.index = None
        self._generation = None
