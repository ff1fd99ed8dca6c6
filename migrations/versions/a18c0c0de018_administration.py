"""Administration (issue 18): one-time passwords the user must change, and the list of
projects (苑) a dossier's unit is chosen from, seeded from the projects already in use.

Revision ID: a18c0c0de018
Revises: 5e7a1c0d9b42
Create Date: 2026-12-02 09:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a18c0c0de018'
down_revision = '5e7a1c0d9b42'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ALTER: users is referenced by most tables, a batch copy would fail on SQLite.
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.execute("INSERT INTO projects (name, active, created_at) "
               "SELECT DISTINCT project, TRUE, CURRENT_TIMESTAMP FROM units ORDER BY project")


def downgrade():
    op.drop_table('projects')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
