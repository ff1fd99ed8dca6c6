"""Corrections (issue 18): a document's 文号 (document number, a field of the 卷内目录), and
the customer a customer record was merged into (the merged record stays as a tombstone:
approval requests, grants and the audit trail name it).

Revision ID: a18b0c0de018
Revises: a20d0c0de020
Create Date: 2026-12-02 09:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a18b0c0de018'
down_revision = 'a20d0c0de020'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTERs: documents and customers are referenced by other tables, a batch copy
    # would fail on SQLite with foreign keys on.
    op.add_column('documents', sa.Column('document_number', sa.String(length=100),
                                         nullable=False, server_default=''))
    if op.get_bind().dialect.name == 'sqlite':  # no ALTER of constraints: inline
        op.execute('ALTER TABLE customers ADD COLUMN merged_into_id INTEGER CONSTRAINT '
                   'fk_customers_merged_into_id_customers REFERENCES customers (id)')
    else:
        op.add_column('customers', sa.Column('merged_into_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_customers_merged_into_id_customers'), 'customers',
                              'customers', ['merged_into_id'], ['id'])


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('merged_into_id')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('document_number')
