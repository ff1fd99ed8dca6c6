"""Audit checkpoints (issue 21): chain heads signed with the audit key kept outside the
database, so that a chain recomputed by someone with write access to the database is
detected (docs/audit.md). Existing chains are anchored by their first checkpoint.

Revision ID: a21a0c0de021
Revises: a18d0c0de018
Create Date: 2026-12-02 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a21a0c0de021'
down_revision = 'a18d0c0de018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_checkpoints_seq"), "audit_checkpoints", ["seq"])


def downgrade():
    op.drop_index(op.f("ix_audit_checkpoints_seq"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
