"""Stored times become UTC from here on (issue 18, docs/timezone-and-docx.md part 1).

Until now the clock wrote the server's local time (the reference server's: Asia/Shanghai).
This records the cut-over in `settings` (key utc_since) and converts every time column to
UTC, except the two whose rows are hashed as stored: audit_events (the chain hashes `at`)
and destruction_register (its digest covers destroyed_at; triggers refuse UPDATE). Their
rows are never rewritten: those before the recorded audit seq / register id are read as
local time of the recorded zone (archive/models/setting.py). A loan request still waiting
for approval carries its due time in its payload: converted with the columns.

Revision ID: a18z0c0de018
Revises: a21a0c0de021
Create Date: 2026-12-02 12:30:00

"""
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = 'a18z0c0de018'
down_revision = 'a21a0c0de021'
branch_labels = None
depends_on = None

LEGACY_ZONE = "Asia/Shanghai"

# Every time column at this revision, but audit_events.at and destruction_register.
COLUMNS = {
    "access_grants": ("valid_from", "valid_until", "created_at"),
    "api_tokens": ("created_at", "last_used_at"),
    "appraisals": ("decided_at",),
    "approval_requests": ("created_at", "expires_at", "decided_at"),
    "approval_routes": ("created_at",),
    "approval_steps": ("decided_at",),
    "audit_checkpoints": ("at",),  # what the signature covers is (seq, hash), not when
    "calendar_days": ("created_at",),
    "copy_approvals": ("created_at", "expires_at"),
    "customers": ("created_at",),
    "designations": ("created_at",),
    "destruction_items": ("destroyed_at",),
    "destructions": ("created_at", "approved_at", "started_at", "finished_at"),
    "documents": ("created_at",),
    "dossier_references": ("created_at",),
    "dossiers": ("created_at",),
    "handovers": ("opened_at", "signed_at"),
    "import_rows": ("updated_at",),
    "imports": ("lease_until", "created_at", "updated_at", "finished_at"),
    "jobs": ("lease_until", "created_at", "updated_at", "finished_at"),
    "legal_holds": ("placed_at", "lifted_at"),
    "loan_copies": ("made_at",),
    "loan_files": ("created_at",),
    "loans": ("due_at", "created_at", "approved_at", "out_at", "returned_at"),
    "login_sessions": ("created_at", "last_seen_at", "ended_at"),
    "loss_reports": ("created_at", "closed_at"),
    "preservation_checks": ("checked_at",),
    "preservation_runs": ("started_at", "finished_at"),
    "projects": ("created_at",),
    "retention_rules": ("updated_at",),
    "stored_files": ("created_at",),
    "transfer_batches": ("created_at", "submitted_at", "received_at"),
    "transfer_rules": ("updated_at",),
    "upload_keys": ("created_at",),
    "users": ("created_at",),
}


def _to_utc(value, zone):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _convert(bind, table: str, columns, key: sa.Column, zone) -> None:
    rows = sa.table(table, key, *(sa.column(c, sa.DateTime()) for c in columns))
    for name in columns:
        column = rows.c[name]
        found = bind.execute(sa.select(rows.c[key.name], column).where(column.is_not(None))).all()
        if found:
            bind.execute(rows.update().where(rows.c[key.name] == sa.bindparam("k"))
                         .values({name: sa.bindparam("v")}),
                         [{"k": k, "v": _to_utc(v, zone)} for k, v in found])


def upgrade():
    op.create_table(
        'settings',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_settings')),
    )
    bind = op.get_bind()
    zone = ZoneInfo(LEGACY_ZONE)
    present = set(sa.inspect(bind).get_table_names())
    keys = {"calendar_days": sa.column("day", sa.Date()), "retention_rules": sa.column("category"),
            "transfer_rules": sa.column("key")}
    for table, columns in COLUMNS.items():
        if table in present:
            _convert(bind, table, columns, keys.get(table, sa.column("id")), zone)
    requests = sa.table("approval_requests", sa.column("id"), sa.column("payload_json", sa.Text()))
    for request_id, payload in bind.execute(
            sa.select(requests.c.id, requests.c.payload_json)
            .where(requests.c.payload_json.contains('"due"'))).all():
        data = json.loads(payload)
        if isinstance(data.get("due"), str):
            data["due"] = _to_utc(data["due"], zone).isoformat()
            bind.execute(requests.update().where(requests.c.id == request_id)
                         .values(payload_json=json.dumps(data, ensure_ascii=False, sort_keys=True)))
    head = bind.execute(sa.text("SELECT seq FROM audit_head WHERE id = 1")).scalar() or 0
    last_row = bind.execute(sa.text("SELECT MAX(id) FROM destruction_register")).scalar() or 0
    settings = sa.table("settings", sa.column("key"), sa.column("value"))
    op.bulk_insert(settings, [{"key": "utc_since", "value": json.dumps({
        "at": datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat(),
        "audit_seq": head + 1, "register_id": last_row + 1, "legacy_zone": LEGACY_ZONE})}])


def downgrade():
    # The converted columns stay UTC: a downgrade does not guess which rows were written
    # after the cut-over. Only the record goes.
    op.drop_table('settings')
