"""DOCX access copies (issue 18): a PDF made from a DOCX by LibreOffice, stored as a blob
of its own and recorded on the file with the conversion's state and, on failure, its
Chinese reason. The DOCX itself is never changed.

DOCX files filed before this release have no state (NULL): `flask convert --pending`
queues them.

Revision ID: a18d0c0de018
Revises: a20e0c0de020
Create Date: 2026-12-02 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a18d0c0de018'
down_revision = 'a20e0c0de020'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTERs: a batch copy of stored_files fails with foreign keys on (SQLite).
    op.add_column("stored_files", sa.Column("access_copy_sha256", sa.String(64), nullable=True))
    op.add_column("stored_files", sa.Column("access_copy_status", sa.String(10), nullable=True))
    op.add_column("stored_files", sa.Column("access_copy_error", sa.String(500), nullable=True))
    op.create_index("ix_stored_files_access_copy_sha256", "stored_files", ["access_copy_sha256"])


def downgrade():
    op.drop_index("ix_stored_files_access_copy_sha256", table_name="stored_files")
    for column in ("access_copy_error", "access_copy_status", "access_copy_sha256"):
        op.drop_column("stored_files", column)
