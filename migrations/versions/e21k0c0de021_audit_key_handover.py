"""Audit key rotation (issue 21): a checkpoint may hand the chain over to the next audit
key, naming that key's id in what the retiring key signs (docs/audit.md). Existing rows
are ordinary checkpoints (no next key).

Revision ID: e21k0c0de021
Revises: c20n0c0de020
Create Date: 2026-12-02 16:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e21k0c0de021'
down_revision = 'c20n0c0de020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.add_column(sa.Column("next_key_id", sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("next_key_id")
