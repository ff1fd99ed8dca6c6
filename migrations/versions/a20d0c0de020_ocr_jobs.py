"""Background jobs (issue 20): the jobs table (state and lease of each OCR job), and on
stored files where their text came from (OCR) with the engine's mean confidence.

Revision ID: a20d0c0de020
Revises: a18c0c0de018b
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a20d0c0de020'
down_revision = 'a18c0c0de018b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('done_pages', sa.Integer(), nullable=False),
    sa.Column('total_pages', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], name=op.f('fk_jobs_file_id_stored_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index(op.f('ix_jobs_file_id'), 'jobs', ['file_id'], unique=False)
    op.create_index(op.f('ix_jobs_state'), 'jobs', ['state'], unique=False)
    # Plain ALTERs: stored_files is referenced by others, so no batch copy (SQLite).
    op.add_column('stored_files', sa.Column('text_source', sa.String(length=10), nullable=False,
                                            server_default=''))
    op.add_column('stored_files', sa.Column('ocr_confidence', sa.Float(), nullable=True))


def downgrade():
    op.drop_column('stored_files', 'ocr_confidence')
    op.drop_column('stored_files', 'text_source')
    op.drop_index(op.f('ix_jobs_state'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_file_id'), table_name='jobs')
    op.drop_table('jobs')
