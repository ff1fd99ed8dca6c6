"""The working-day calendar: public holidays and the weekends worked in exchange (调休),
seeded with the State Council's arrangements for 2025 and 2026.

Revision ID: 1a2b3c4d5e6f
Revises: ec89c5fbc47a
Create Date: 2026-12-02 10:00:00.000000

"""
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '1a2b3c4d5e6f'
down_revision = 'ec89c5fbc47a'
branch_labels = None
depends_on = None

# 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024年11月12日）
# and 关于2026年部分节假日安排的通知（2025年11月4日）: each holiday period as the notice
# gives it (first day, last day, name), and the weekend days worked (调休).
HOLIDAYS = [
    ("2025-01-01", "2025-01-01", "元旦"),
    ("2025-01-28", "2025-02-04", "春节"),
    ("2025-04-04", "2025-04-06", "清明节"),
    ("2025-05-01", "2025-05-05", "劳动节"),
    ("2025-05-31", "2025-06-02", "端午节"),
    ("2025-10-01", "2025-10-08", "国庆节、中秋节"),
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
]
WORKDAYS = [
    ("2025-01-26", "春节调休"),
    ("2025-02-08", "春节调休"),
    ("2025-04-27", "劳动节调休"),
    ("2025-09-28", "国庆调休"),
    ("2025-10-11", "国庆调休"),
    ("2026-01-04", "元旦调休"),
    ("2026-02-14", "春节调休"),
    ("2026-02-28", "春节调休"),
    ("2026-05-09", "劳动节调休"),
    ("2026-09-20", "国庆调休"),
    ("2026-10-10", "国庆调休"),
]


def _seed_rows() -> list[dict]:
    created = datetime.now().replace(microsecond=0)
    rows = []
    for first, last, name in HOLIDAYS:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            rows.append({"day": day, "kind": "holiday", "name": name, "created_at": created})
            day += timedelta(days=1)
    for day, name in WORKDAYS:
        rows.append({"day": date.fromisoformat(day), "kind": "workday", "name": name,
                     "created_at": created})
    return rows


def upgrade():
    table = op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calendar_days_created_by_id_users')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.bulk_insert(table, _seed_rows())


def downgrade():
    op.drop_table('calendar_days')
