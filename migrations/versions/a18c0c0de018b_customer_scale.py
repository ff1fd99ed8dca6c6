"""Customer grade on two scales, as the seed uses them (004:23-25): 等级 by the intent to
cooperate (重要 / 普通 / 潜在) and 规模 by the size of the cooperation (大 / 中 / 小). A
customer graded 大, 中 or 小 before keeps it as its scale, with the grade 普通.

Revision ID: a18c0c0de018b
Revises: a18c0c0de018
Create Date: 2026-12-02 09:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a18c0c0de018b'
down_revision = 'a18c0c0de018'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('customers', sa.Column('scale', sa.String(length=4), nullable=False,
                                         server_default=''))
    op.execute("UPDATE customers SET scale = grade, grade = '普通' WHERE grade IN ('大', '中', '小')")


def downgrade():
    op.execute("UPDATE customers SET grade = scale WHERE scale <> '' AND grade = '普通'")
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('scale')
