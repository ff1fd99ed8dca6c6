"""Issue 20 leftovers: stored files record how many pages of a PDF with text hold none
(scanned pages among text pages, read by OCR). NULL for files filed before: `flask ocr
--pending` counts theirs once, and queues OCR for those that have such pages.

Revision ID: a20e0c0de020
Revises: a21f0c0de021
Create Date: 2026-12-02 12:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a20e0c0de020'
down_revision = 'a21f0c0de021'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ALTER: stored_files is referenced by other tables (no batch copy).
    op.add_column('stored_files', sa.Column('textless_pages', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('stored_files') as batch_op:
        batch_op.drop_column('textless_pages')
