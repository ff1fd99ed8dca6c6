"""A document's index generation (docs/search.md, "Waiting for the index"): every change
that flags a document for the index counts it up, and an index write clears the flag only
where the generation is still the one it read, so a change committed while the write ran
stays flagged even if its own index write never happens. Existing rows start at 0.

Revision ID: f29g0c0de029
Revises: e21k0c0de021
Create Date: 2026-12-03 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f29g0c0de029'
down_revision = 'e21k0c0de021'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("documents", sa.Column("index_gen", sa.Integer(), nullable=False,
                                         server_default="0"))


def downgrade():
    # Native DROP COLUMN, as the earlier migrations of this table: a batch copy of the
    # table would rewrite its foreign keys, which their downgrades then cannot drop.
    op.drop_column("documents", "index_gen")
