"""Nightly work claimed once across workers (issue 20): a row per task and night (the
archive's date), held under a lease by the worker that runs it, so that the 四性 storage
check runs once a night however many workers (OCR_WORKERS) run, and a worker killed
mid-run is taken over by another once its lease has run out.

Revision ID: c20n0c0de020
Revises: a19r0c0de019
Create Date: 2026-12-02 16:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c20n0c0de020'
down_revision = 'a19r0c0de019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'nightly_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=40), nullable=False),
        sa.Column('night', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('worker', sa.String(length=100), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_nightly_runs')),
        sa.UniqueConstraint('task', 'night', name='uq_nightly_runs_task'),
    )


def downgrade():
    op.drop_table('nightly_runs')
