"""Bulk import (issue 19): imports (one per manifest SHA-256, its state and progress) and
import_rows (each row's state, so a rerun files nothing twice).

Revision ID: a19i0c0de019
Revises: a18b0c0de018
Create Date: 2026-12-02 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a19i0c0de019'
down_revision = 'a18b0c0de018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_imports_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    sa.UniqueConstraint('manifest_sha256', name=op.f('uq_imports_manifest_sha256'))
    )
    op.create_index(op.f('ix_imports_state'), 'imports', ['state'], unique=False)
    op.create_table('import_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('dossier_number', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_import_rows_document_id_documents')),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_import_rows_import_id_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_rows')),
    sa.UniqueConstraint('import_id', 'row_number', name=op.f('uq_import_rows_import_id'))
    )
    op.create_index(op.f('ix_import_rows_import_id'), 'import_rows', ['import_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_import_rows_import_id'), table_name='import_rows')
    op.drop_table('import_rows')
    op.drop_index(op.f('ix_imports_state'), table_name='imports')
    op.drop_table('imports')
