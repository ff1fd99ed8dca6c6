"""Custody and transfers (移交, issue 19): each document's custody, holder and deadline;
the deadline rules with their seed lines; transfer batches and items with both sides'
signatures; staff handovers; the project's central move-in date; the receipt route.

Documents filed before this release stay in the archive room's custody (they were).

Revision ID: a19t0c0de019
Revises: a17d0c0de017
Create Date: 2026-12-02 10:10:00

"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = 'a19t0c0de019'
down_revision = 'a17d0c0de017'
branch_labels = None
depends_on = None

# key, position, name, categories, trigger, workdays, months, seed line
RULES = [
    ("sales_subscription", 1, "销售现场移交客户事务组：认购后 5 个工作日内", "销售", "document_date",
     5, 0, "000:750"),
    ("contracts", 2, "合同：签订后一个月内", "签约", "document_date", 0, 1, "001:429-430"),
    ("move_in", 3, "签约、办证、入伙资料：集中入伙后一个月，其后每季度", "办证,入伙", "move_in", 0, 1,
     "000:758-760"),
    ("customer_service", 4, "客户服务资料：每半年", "维修,赔付,投诉", "half_year", 0, 0, "000:766"),
    ("litigation", 5, "诉讼资料：结案后", "诉讼", "case_closed", 0, 1, "000:772"),
    ("monthly", 6, "部门兼职档案员：每月 10 日前移交上月资料", "*", "next_month_10th", 0, 0,
     "003:39, 003:21"),
]


def _add_reference(table, column, target):
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), sa.ForeignKey(
            f"{target}.id", name=f"fk_{table}_{column}_{target}"), nullable=True))


def upgrade():
    op.create_table('transfer_rules',
    sa.Column('key', sa.String(length=30), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('workdays', sa.Integer(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('seed_ref', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_transfer_rules_updated_by_id_users')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_transfer_rules'))
    )
    op.create_table('transfer_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=True),
    sa.Column('from_department_id', sa.Integer(), nullable=False),
    sa.Column('to_department_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('prepared_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=True),
    sa.Column('receipt_note', sa.Text(), nullable=False),
    sa.Column('returned_from_id', sa.Integer(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['from_department_id'], ['departments.id'], name=op.f('fk_transfer_batches_from_department_id_departments')),
    sa.ForeignKeyConstraint(['to_department_id'], ['departments.id'], name=op.f('fk_transfer_batches_to_department_id_departments')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['users.id'], name=op.f('fk_transfer_batches_prepared_by_id_users')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_transfer_batches_received_by_id_users')),
    sa.ForeignKeyConstraint(['returned_from_id'], ['transfer_batches.id'], name=op.f('fk_transfer_batches_returned_from_id_transfer_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_batches')),
    sa.UniqueConstraint('number', name=op.f('uq_transfer_batches_number'))
    )
    op.create_index(op.f('ix_transfer_batches_from_department_id'), 'transfer_batches', ['from_department_id'], unique=False)
    op.create_index(op.f('ix_transfer_batches_status'), 'transfer_batches', ['status'], unique=False)
    op.create_table('transfer_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('received_count', sa.Integer(), nullable=True),
    sa.Column('received_pages', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['transfer_batches.id'], name=op.f('fk_transfer_items_batch_id_transfer_batches')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_transfer_items_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_items')),
    sa.UniqueConstraint('batch_id', 'document_id', name=op.f('uq_transfer_items_batch_id'))
    )
    op.create_index(op.f('ix_transfer_items_batch_id'), 'transfer_items', ['batch_id'], unique=False)
    op.create_index(op.f('ix_transfer_items_document_id'), 'transfer_items', ['document_id'], unique=False)
    op.create_table('handovers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('handed_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_handovers_opened_by_id_users')),
    sa.ForeignKeyConstraint(['person_id'], ['users.id'], name=op.f('fk_handovers_person_id_users')),
    sa.ForeignKeyConstraint(['receiver_id'], ['users.id'], name=op.f('fk_handovers_receiver_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers'))
    )
    op.create_index(op.f('ix_handovers_person_id'), 'handovers', ['person_id'], unique=False)

    op.add_column('documents', sa.Column('custody', sa.String(length=12), nullable=False,
                                         server_default='archive'))
    op.create_index(op.f('ix_documents_custody'), 'documents', ['custody'], unique=False)
    _add_reference('documents', 'custody_department_id', 'departments')
    _add_reference('documents', 'custody_holder_id', 'users')
    op.add_column('documents', sa.Column('transfer_rule', sa.String(length=30), nullable=True))
    op.add_column('documents', sa.Column('transfer_due_on', sa.Date(), nullable=True))
    op.add_column('projects', sa.Column('move_in_on', sa.Date(), nullable=True))
    _add_reference('approval_requests', 'transfer_id', 'transfer_batches')
    op.create_index(op.f('ix_approval_requests_transfer_id'), 'approval_requests',
                    ['transfer_id'], unique=False)

    bind = op.get_bind()
    rules = sa.table('transfer_rules', sa.column('key'), sa.column('position'), sa.column('name'),
                     sa.column('categories'), sa.column('trigger'), sa.column('workdays'),
                     sa.column('months'), sa.column('seed_ref'))
    for key, position, name, categories, trigger, days, months, seed in RULES:
        bind.execute(rules.insert().values(key=key, position=position, name=name,
                                           categories=categories, trigger=trigger,
                                           workdays=days, months=months, seed_ref=seed))
    routes = sa.table('approval_routes', sa.column('id', sa.Integer), sa.column('kind'),
                      sa.column('version'), sa.column('name'), sa.column('seed_ref'),
                      sa.column('time_limit_hours'), sa.column('active'),
                      sa.column('created_at'))
    steps = sa.table('approval_route_steps', sa.column('route_id'), sa.column('stage'),
                     sa.column('approver'))
    route_id = bind.execute(routes.insert().values(
        kind="transfer_receipt", version=1, name="移交接收（清点件数、页数后签收）",
        seed_ref="000:746-806, 003:39", time_limit_hours=None, active=True,
        created_at=datetime.now().replace(microsecond=0)).returning(routes.c.id)).scalar_one()
    bind.execute(steps.insert().values(route_id=route_id, stage=1, approver="transfer_receiver"))


def downgrade():
    bind = op.get_bind()
    requests = "SELECT id FROM approval_requests WHERE transfer_id IS NOT NULL"
    bind.execute(sa.text(f"DELETE FROM approval_steps WHERE request_id IN ({requests})"))
    bind.execute(sa.text("DELETE FROM approval_requests WHERE transfer_id IS NOT NULL"))
    route_ids = "SELECT id FROM approval_routes WHERE kind = 'transfer_receipt'"
    bind.execute(sa.text(f"DELETE FROM approval_route_steps WHERE route_id IN ({route_ids})"))
    bind.execute(sa.text("DELETE FROM approval_routes WHERE kind = 'transfer_receipt'"))
    op.drop_index(op.f('ix_approval_requests_transfer_id'), table_name='approval_requests')
    op.drop_column('approval_requests', 'transfer_id')
    op.drop_column('projects', 'move_in_on')
    op.drop_index(op.f('ix_documents_custody'), table_name='documents')
    for column in ('transfer_due_on', 'transfer_rule', 'custody_holder_id',
                   'custody_department_id', 'custody'):
        op.drop_column('documents', column)
    op.drop_index(op.f('ix_handovers_person_id'), table_name='handovers')
    op.drop_table('handovers')
    op.drop_index(op.f('ix_transfer_items_document_id'), table_name='transfer_items')
    op.drop_index(op.f('ix_transfer_items_batch_id'), table_name='transfer_items')
    op.drop_table('transfer_items')
    op.drop_index(op.f('ix_transfer_batches_status'), table_name='transfer_batches')
    op.drop_index(op.f('ix_transfer_batches_from_department_id'), table_name='transfer_batches')
    op.drop_table('transfer_batches')
    op.drop_table('transfer_rules')
