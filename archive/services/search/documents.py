"""An `IndexDoc` turned into the values every backend indexes, computed once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import IndexDoc
from .analysis import MAX_TEXT_CHARS, Streams, normalize, streams, words

# Text scopes a query can address; "all" is what an unprefixed term searches.
SCOPES = ("all", "title", "customer", "number", "file")


@dataclass(frozen=True)
class Prepared:
    id: int
    dossier_id: int
    customer_id: int
    department_id: int
    classification: int
    access_level: int
    category: str
    carrier: str
    readers: tuple[int, ...]
    day: int | None  # doc_date as a proleptic ordinal, for range filters
    year: int | None
    sort_key: int  # date then id: one total order shared by all backends
    sort_asc: int  # the same with undated documents after every date (oldest first)
    title: str
    text: str  # as extracted (capped), for snippets
    streams: dict[str, Streams]
    words: str  # space-separated ranking terms


# Past every date a document can have: an undated document's day for the oldest-first order.
UNDATED = dt.date.max.toordinal() + 1


def sort_key(day: int | None, document_id: int) -> int:
    """The newest-first order's key: undated documents below every date, so they come
    last; ties between equal dates break on id."""
    return ((day or 0) << 32) | (document_id & 0xFFFFFFFF)


def sort_asc(day: int | None, document_id: int) -> int:
    """The oldest-first order's key: undated documents above every date, so they come
    last in that order too."""
    return ((day or UNDATED) << 32) | (document_id & 0xFFFFFFFF)


def prepare(doc: IndexDoc) -> Prepared:
    """Normalise and analyse `doc` for indexing."""
    text = (doc.get("text") or "")[:MAX_TEXT_CHARS]
    title = normalize(doc.get("title") or "")
    body = normalize(text)
    customer = [normalize(doc.get("customer_name") or ""), normalize(doc.get("customer_code") or "")]
    number = [normalize(doc.get("dossier_number") or "")]
    files = [normalize(name) for name in doc.get("file_names") or ()]
    unit = normalize(doc.get("unit") or "")
    scoped = {
        "all": streams([title, body, *customer, *number, unit, *files]),
        "title": streams([title]),
        "customer": streams(customer),
        "number": streams(number),
        "file": streams(files),
    }
    date = doc.get("doc_date")
    day = date.toordinal() if date else None
    ranking = words(title, " ".join([body, *customer, *number, unit, *files]))
    return Prepared(
        id=int(doc["id"]),
        dossier_id=int(doc["dossier_id"]),
        customer_id=int(doc["customer_id"]),
        department_id=int(doc["department_id"]),
        classification=int(doc["classification"]),
        access_level=int(doc.get("access_level", doc["classification"])),
        category=doc.get("category") or "",
        carrier=doc.get("carrier") or "",
        readers=tuple(int(r) for r in doc.get("readers") or ()),
        day=day,
        year=date.year if date else None,
        sort_key=sort_key(day, int(doc["id"])),
        sort_asc=sort_asc(day, int(doc["id"])),
        title=doc.get("title") or "",
        text=text,
        streams=scoped,
        words=" ".join(ranking),
    )
