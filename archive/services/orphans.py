"""The orphan sweep: blobs that no row names any more.

A refused or rolled-back upload may leave the blobs it stored. On SQLite the upload removes
them itself, under the write lock that keeps any other upload from reusing them meanwhile;
on PostgreSQL another upload may just have reused one in a transaction this one cannot see,
so they are left here, to `flask --app archive sweep-orphans` (docs/postgresql.md)."""

import time

from sqlalchemy import select, union

from archive.extensions import db
from archive.models import Document, StoredFile
from archive.models.enums import DocumentStatus

# Long enough for any unit of work that stores or reuses a blob to have committed.
GRACE_SECONDS = 3600


# Documents whose content a destruction purged (or is purging): their files are gone.
PURGED = (DocumentStatus.PURGING.value, DocumentStatus.DESTROYED.value)


def referenced(session, *, purged_files: bool = True) -> set[str]:
    """Every digest a row names: each column named sha256 or ending in _sha256 holds one
    (a file, an access copy, a scan of a loan), so columns added later are covered.
    Without `purged_files`, the files of documents destroyed (or being destroyed) are
    left out: their blobs should be gone, so one still stored names no kept record."""
    selects = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if column.name == "sha256" or column.name.endswith("_sha256"):
                query = select(column.label("digest")).where(column.is_not(None))
                if not purged_files and table.name == StoredFile.__tablename__:
                    query = query.join(Document, Document.id == StoredFile.document_id
                                       ).where(Document.status.not_in(PURGED))
                selects.append(query)
    return set(session.execute(union(*selects)).scalars())


def sweep(session, store, *, grace_seconds: float = GRACE_SECONDS) -> list[str]:
    """Remove the blobs no row names that were stored or last reused more than
    `grace_seconds` ago; return their digests. The session only reads."""
    older_than = time.time() - grace_seconds
    return store.sweep(referenced(session), older_than=older_than)


def discards_now(session) -> bool:
    """Whether a failed upload removes the blobs it stored itself (SQLite, see above)."""
    return session.get_bind().dialect.name == "sqlite"
