"""Receiving units of transfers (移交接收单位, issue 19): the categories a department
receives from the others, as 客户事务组 receives the sales site's material (000:750). No
department receives anything until the administrator says so; the archive room receives
every category.

Revision ID: a19r0c0de019
Revises: a18z0c0de018
Create Date: 2026-12-02 12:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a19r0c0de019'
down_revision = 'a18z0c0de018'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('departments', sa.Column('receives', sa.String(length=200), nullable=False,
                                           server_default=''))


def downgrade():
    with op.batch_alter_table('departments') as batch_op:
        batch_op.drop_column('receives')
