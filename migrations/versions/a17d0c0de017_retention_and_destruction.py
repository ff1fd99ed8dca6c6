"""Retention schedule, legal holds, appraisal, destruction batches and the permanent
destruction register (docs/retention.md).

The schedule rows gain their period in months, the event they count from and the longer
period of 重要 documents; the category 投诉 is added (002:19). Every document gains its
disposal date, computed here as services/retention.py computes it. The register refuses
UPDATE and DELETE by trigger.

Revision ID: a17d0c0de017
Revises: a19i0c0de019
Create Date: 2026-12-02 09:20:00

"""
import calendar
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision = 'a17d0c0de017'
down_revision = 'a19i0c0de019'
branch_labels = None
depends_on = None

LONG, SHORT = 360, 120
# category: (retention, months, counts from, important retention, important months, seed)
SCHEDULE = {
    "销售": ("永久", None, "document_date", None, None, "000:850"),
    "签约": ("永久", None, "document_date", None, None, "000:850"),
    "办证": ("永久", None, "document_date", None, None, "000:850"),
    "入伙": ("永久", None, "document_date", None, None, "000:850"),
    "维修": ("永久", None, "document_date", None, None, "000:850"),
    "赔付": ("永久", None, "document_date", None, None, "000:850"),
    "诉讼": ("永久", None, "case_closed", None, None, "000:850"),
    "商铺租赁": ("永久", None, "document_date", None, None, "000:850"),
    "投诉": ("1年", 12, "document_date", "长期", LONG, "002:19"),
    "其他": ("长期", LONG, "document_date", None, None, "003:89"),
}
TERMS = {"永久": None, "长期": LONG, "短期": SHORT}
ROUTE = ("destruction", "档案销毁（《公司档案资料销毁审批表》）", "002:944-946")
REGISTER_GUARDS = {
    "sqlite": [
        "CREATE TRIGGER destruction_register_no_update BEFORE UPDATE ON destruction_register "
        "BEGIN SELECT RAISE(ABORT, '销毁清册不可修改'); END",
        "CREATE TRIGGER destruction_register_no_delete BEFORE DELETE ON destruction_register "
        "BEGIN SELECT RAISE(ABORT, '销毁清册不可删除'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION destruction_register_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION '销毁清册不可修改或删除'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER destruction_register_append_only BEFORE UPDATE OR DELETE ON "
        "destruction_register FOR EACH ROW EXECUTE FUNCTION destruction_register_append_only()",
    ],
}


def _add_months(day, months):
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months(label):
    if label in TERMS:
        return TERMS[label]
    if label.endswith("个月"):
        return int(label[:-2])
    if label.endswith("年"):
        return int(label[:-1]) * 12
    return None


def _add_reference(table, column, target):
    """A referencing column added in place (SQLite cannot batch-copy a referenced table
    with foreign keys on)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), sa.ForeignKey(
            f"{target}.id", name=f"fk_{table}_{column}_{target}"), nullable=True))


def upgrade():
    op.create_table('destructions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('supervisor1_id', sa.Integer(), nullable=True),
    sa.Column('supervisor2_id', sa.Integer(), nullable=True),
    sa.Column('executed_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('paper_method', sa.String(length=100), nullable=False),
    sa.Column('paper_place', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_destructions_approved_by_id_users')),
    sa.ForeignKeyConstraint(['executed_by_id'], ['users.id'], name=op.f('fk_destructions_executed_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_destructions_requested_by_id_users')),
    sa.ForeignKeyConstraint(['supervisor1_id'], ['users.id'], name=op.f('fk_destructions_supervisor1_id_users')),
    sa.ForeignKeyConstraint(['supervisor2_id'], ['users.id'], name=op.f('fk_destructions_supervisor2_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destructions')),
    sa.UniqueConstraint('number', name=op.f('uq_destructions_number'))
    )
    op.create_index(op.f('ix_destructions_status'), 'destructions', ['status'], unique=False)
    op.create_table('destruction_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destruction_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['destruction_id'], ['destructions.id'], name=op.f('fk_destruction_items_destruction_id_destructions')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_destruction_items_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_items')),
    sa.UniqueConstraint('destruction_id', 'document_id', name=op.f('uq_destruction_items_destruction_id'))
    )
    op.create_index(op.f('ix_destruction_items_destruction_id'), 'destruction_items', ['destruction_id'], unique=False)
    op.create_index(op.f('ix_destruction_items_document_id'), 'destruction_items', ['document_id'], unique=False)
    op.create_table('destruction_register',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destruction_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('batch_number', sa.String(length=30), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('archival_code', sa.String(length=160), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('originator', sa.String(length=100), nullable=False),
    sa.Column('formed', sa.String(length=20), nullable=False),
    sa.Column('retention', sa.String(length=10), nullable=False),
    sa.Column('kept_for', sa.String(length=30), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('classification', sa.Integer(), nullable=False),
    sa.Column('carrier', sa.String(length=10), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('files_json', sa.Text(), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=False),
    sa.Column('supervisors', sa.String(length=200), nullable=False),
    sa.Column('executed_by', sa.String(length=100), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['destruction_id'], ['destructions.id'], name=op.f('fk_destruction_register_destruction_id_destructions')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_destruction_register_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_destruction_register')),
    sa.UniqueConstraint('document_id', name=op.f('uq_destruction_register_document_id'))
    )
    op.create_index(op.f('ix_destruction_register_destruction_id'), 'destruction_register', ['destruction_id'], unique=False)
    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('dossier_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(), nullable=False),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_legal_holds_customer_id_customers')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_legal_holds_document_id_documents')),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], name=op.f('fk_legal_holds_dossier_id_dossiers')),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_legal_holds_lifted_by_id_users')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_legal_holds_placed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    for column in ('customer_id', 'dossier_id', 'document_id'):
        op.create_index(op.f(f'ix_legal_holds_{column}'), 'legal_holds', [column], unique=False)
    op.create_table('appraisals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('disposal_before', sa.Date(), nullable=True),
    sa.Column('disposal_after', sa.Date(), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('destruction_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_appraisals_decided_by_id_users')),
    sa.ForeignKeyConstraint(['destruction_id'], ['destructions.id'], name=op.f('fk_appraisals_destruction_id_destructions')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_appraisals_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appraisals'))
    )
    op.create_index(op.f('ix_appraisals_document_id'), 'appraisals', ['document_id'], unique=False)

    # Referenced tables grow in place.
    op.add_column('documents', sa.Column('important', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column('documents', sa.Column('retention_months', sa.Integer(), nullable=True))
    op.add_column('documents', sa.Column('retention_source', sa.String(length=10),
                                         nullable=False, server_default='schedule'))
    op.add_column('documents', sa.Column('disposal_basis', sa.String(length=20), nullable=True))
    op.add_column('documents', sa.Column('disposal_on', sa.Date(), nullable=True))
    op.add_column('documents', sa.Column('disposal_unconfirmed', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column('documents', sa.Column('disposal_proposed_on', sa.Date(), nullable=True))
    op.create_index(op.f('ix_documents_disposal_on'), 'documents', ['disposal_on'], unique=False)
    op.add_column('dossiers', sa.Column('closed_on', sa.Date(), nullable=True))
    op.add_column('dossiers', sa.Column('case_closed_on', sa.Date(), nullable=True))
    _add_reference('approval_requests', 'destruction_id', 'destructions')
    op.create_index(op.f('ix_approval_requests_destruction_id'), 'approval_requests',
                    ['destruction_id'], unique=False)
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('counts_from', sa.String(length=20), nullable=False,
                                      server_default='document_date'))
        batch_op.add_column(sa.Column('important_retention', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('important_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('seed_ref', sa.String(length=100), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_retention_rules_updated_by_id_users'),
                                    'users', ['updated_by_id'], ['id'])
    _seed_schedule()
    _compute_disposal_dates()
    _seed_route()
    for statement in REGISTER_GUARDS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def _seed_schedule():
    bind = op.get_bind()
    rules = sa.table('retention_rules', sa.column('category'), sa.column('retention'),
                     sa.column('months'), sa.column('counts_from'),
                     sa.column('important_retention'), sa.column('important_months'),
                     sa.column('seed_ref'))
    existing = dict(bind.execute(sa.select(rules.c.category, rules.c.retention)).all())
    for category, (label, months, counts, important, important_months, seed) in SCHEDULE.items():
        if category in existing and existing[category] != label:
            label, months = existing[category], _months(existing[category])  # an admin's choice
        values = dict(retention=label, months=months, counts_from=counts,
                      important_retention=important, important_months=important_months,
                      seed_ref=seed)
        if category in existing:
            bind.execute(rules.update().where(rules.c.category == category).values(**values))
        else:
            bind.execute(rules.insert().values(category=category, **values))


def _compute_disposal_dates():
    """Every document's date as services/retention.py computes it at filing: the
    schedule's followers take the row's period; a retention that differs from its row's
    was chosen at filing and keeps its period."""
    bind = op.get_bind()
    rules = {row.category: row for row in bind.execute(sa.text(
        "SELECT category, retention, months, counts_from FROM retention_rules"))}
    rows = bind.execute(sa.text(
        "SELECT d.id, d.category, d.retention, d.doc_date, d.created_at, s.closed_on, "
        "s.case_closed_on, s.kind FROM documents d JOIN dossiers s ON s.id = d.dossier_id")).all()
    for row in rows:
        rule = rules[row.category]
        source = "schedule" if row.retention == rule.retention else "filing"
        months = _months(row.retention)
        values = {"id": row.id, "source": source, "months": months, "basis": None,
                  "on": None, "unconfirmed": False}
        if months is not None:
            created = row.created_at if isinstance(row.created_at, datetime) \
                else datetime.fromisoformat(str(row.created_at))
            start = {"document_date": row.doc_date, "filed": created.date(),
                     "dossier_closed": row.closed_on,
                     "case_closed": row.case_closed_on if row.kind == "case" else None,
                     }[rule.counts_from]
            basis = rule.counts_from
            if start is None:
                start, basis, values["unconfirmed"] = created.date(), "filed", True
            if isinstance(start, str):
                start = date.fromisoformat(start)
            values.update(basis=basis, on=_add_months(start, months))
        bind.execute(sa.text(
            "UPDATE documents SET retention_source = :source, retention_months = :months, "
            "disposal_basis = :basis, disposal_on = :on, disposal_unconfirmed = :unconfirmed "
            "WHERE id = :id"), values)


def _seed_route():
    bind = op.get_bind()
    routes = sa.table('approval_routes', sa.column('id', sa.Integer), sa.column('kind'),
                      sa.column('version'), sa.column('name'), sa.column('seed_ref'),
                      sa.column('time_limit_hours'), sa.column('active'),
                      sa.column('created_at'))
    steps = sa.table('approval_route_steps', sa.column('route_id'), sa.column('stage'),
                     sa.column('approver'))
    kind, name, seed = ROUTE
    route_id = bind.execute(routes.insert().values(
        kind=kind, version=1, name=name, seed_ref=seed, time_limit_hours=None, active=True,
        created_at=datetime.now().replace(microsecond=0)).returning(routes.c.id)).scalar_one()
    bind.execute(steps.insert().values(route_id=route_id, stage=1, approver="gm_or_director"))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS destruction_register_no_update")
        op.execute("DROP TRIGGER IF EXISTS destruction_register_no_delete")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS destruction_register_append_only ON destruction_register")
        op.execute("DROP FUNCTION IF EXISTS destruction_register_append_only()")
    requests = "SELECT id FROM approval_requests WHERE destruction_id IS NOT NULL"
    bind.execute(sa.text(f"DELETE FROM approval_steps WHERE request_id IN ({requests})"))
    bind.execute(sa.text("DELETE FROM approval_requests WHERE destruction_id IS NOT NULL"))
    route_ids = "SELECT id FROM approval_routes WHERE kind = 'destruction'"
    bind.execute(sa.text(f"DELETE FROM approval_route_steps WHERE route_id IN ({route_ids})"))
    bind.execute(sa.text("DELETE FROM approval_routes WHERE kind = 'destruction'"))
    op.drop_index(op.f('ix_approval_requests_destruction_id'), table_name='approval_requests')
    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE approval_requests DROP COLUMN destruction_id")
    else:
        op.drop_column('approval_requests', 'destruction_id')
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_retention_rules_updated_by_id_users'),
                                 type_='foreignkey')
        for column in ('updated_by_id', 'updated_at', 'seed_ref', 'important_months',
                       'important_retention', 'counts_from', 'months'):
            batch_op.drop_column(column)
    bind.execute(sa.text("DELETE FROM retention_rules WHERE category = '投诉'"))
    op.drop_column('dossiers', 'case_closed_on')
    op.drop_column('dossiers', 'closed_on')
    op.drop_index(op.f('ix_documents_disposal_on'), table_name='documents')
    for column in ('disposal_proposed_on', 'disposal_unconfirmed', 'disposal_on',
                   'disposal_basis', 'retention_source', 'retention_months', 'important'):
        op.drop_column('documents', column)
    op.drop_index(op.f('ix_appraisals_document_id'), table_name='appraisals')
    op.drop_table('appraisals')
    for column in ('customer_id', 'dossier_id', 'document_id'):
        op.drop_index(op.f(f'ix_legal_holds_{column}'), table_name='legal_holds')
    op.drop_table('legal_holds')
    op.drop_index(op.f('ix_destruction_register_destruction_id'), table_name='destruction_register')
    op.drop_table('destruction_register')
    op.drop_index(op.f('ix_destruction_items_document_id'), table_name='destruction_items')
    op.drop_index(op.f('ix_destruction_items_destruction_id'), table_name='destruction_items')
    op.drop_table('destruction_items')
    op.drop_index(op.f('ix_destructions_status'), table_name='destructions')
    op.drop_table('destructions')
