"""四性检测 (DA/T 70, issue 21): the results of the checks at filing, at transfer and in
storage, and the storage runs; both append-only records.

Revision ID: a21f0c0de021
Revises: a19t0c0de019
Create Date: 2026-12-02 12:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a21f0c0de021'
down_revision = 'a19t0c0de019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('preservation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preservation_runs'))
    )
    op.create_table('preservation_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('item', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['transfer_batches.id'],
                            name=op.f('fk_preservation_checks_batch_id_transfer_batches')),
    # document_id and file_id name what was checked without a foreign key: a record
    # outlives what it names, as audit events do.
    sa.ForeignKeyConstraint(['run_id'], ['preservation_runs.id'],
                            name=op.f('fk_preservation_checks_run_id_preservation_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preservation_checks'))
    )
    for column in ('batch_id', 'run_id', 'document_id', 'file_id'):
        op.create_index(op.f(f'ix_preservation_checks_{column}'), 'preservation_checks',
                        [column], unique=False)


def downgrade():
    for column in ('batch_id', 'run_id', 'document_id', 'file_id'):
        op.drop_index(op.f(f'ix_preservation_checks_{column}'), table_name='preservation_checks')
    op.drop_table('preservation_checks')
    op.drop_table('preservation_runs')
