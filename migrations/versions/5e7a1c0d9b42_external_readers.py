"""External readers (公检法 and other units): the reader's particulars on the loan, the
scans filed as files of the loan, and the stamped copies handed over (docs/loans.md).

Revision ID: 5e7a1c0d9b42
Revises: 01976b81db41
Create Date: 2026-12-02 08:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e7a1c0d9b42'
down_revision = '01976b81db41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('external_readers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('credential_type', sa.String(length=50), nullable=False),
    sa.Column('credential_number', sa.String(length=60), nullable=False),
    sa.Column('notice_number', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_external_readers_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_readers')),
    sa.UniqueConstraint('loan_id', name=op.f('uq_external_readers_loan_id'))
    )
    op.create_table('loan_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_loan_files_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_files'))
    )
    with op.batch_alter_table('loan_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_files_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_files_sha256'), ['sha256'], unique=False)

    op.create_table('loan_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Text(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.Column('made_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_loan_copies_document_id_documents')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_loan_copies_loan_id_loans')),
    sa.ForeignKeyConstraint(['made_by_id'], ['users.id'], name=op.f('fk_loan_copies_made_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_copies'))
    )
    with op.batch_alter_table('loan_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_copies_loan_id'), ['loan_id'], unique=False)


def downgrade():
    # The scans' blobs stay in the store: a downgrade removes rows, never archived bytes.
    with op.batch_alter_table('loan_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_copies_loan_id'))
    op.drop_table('loan_copies')
    with op.batch_alter_table('loan_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_files_sha256'))
        batch_op.drop_index(batch_op.f('ix_loan_files_loan_id'))
    op.drop_table('loan_files')
    op.drop_table('external_readers')
