"""Which search hits matched words that OCR read: the lists mark them (「OCR 识别」 with
the engine's mean confidence), as the document page marks an OCR'd file.

A document's indexed text is its files' texts joined by a newline, in file order
(indexing.to_index_doc); the snippet says where in that text its match starts
(`Hit.match_at`), and the files' lengths say whose text that is. One query for the page
of hits, and only for documents that have an OCR'd file.
"""

import functools
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from archive.models import StoredFile
from archive.services import work
from archive.services.jobs import OCR


@dataclass(frozen=True)
class OcrMatch:
    file_id: int
    confidence: float | None  # the engine's mean over the file's characters


@functools.cache
def _texts_of_scanned():
    """Where each file's text lies in its document's, for the documents among `ids` that
    have an OCR'd file. Built once: every search with hits asks it."""
    scanned = select(StoredFile.document_id).where(
        StoredFile.document_id.in_(bindparam("ids", expanding=True)),
        StoredFile.text_source == OCR)
    return (select(StoredFile.document_id, StoredFile.id, StoredFile.text_source,
                   StoredFile.ocr_confidence, func.length(StoredFile.text))
            .where(StoredFile.document_id.in_(scanned), StoredFile.text != "")
            .order_by(StoredFile.document_id, StoredFile.id))


def matches(session, hits) -> dict[int, OcrMatch]:
    """document id -> the OCR'd file whose text the hit's snippet shows, for the hits
    whose match is in such a file (not in the title, not in a file read as text)."""
    located = {hit.document_id: hit.match_at for hit in hits if hit.match_at is not None}
    if not located:
        return {}
    rows = work.rows(session, _texts_of_scanned(), {"ids": list(located)}).all()
    found: dict[int, OcrMatch] = {}
    start: dict[int, int] = {}
    for document_id, file_id, source, confidence, length in rows:
        begin = start.get(document_id, 0)
        start[document_id] = begin + length + 1  # the newline joining two files' texts
        if begin <= located[document_id] < begin + length and source == OCR:
            found[document_id] = OcrMatch(file_id, confidence)
    return found
