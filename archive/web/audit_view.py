"""The auditors' page: search the audit trail, export it as CSV."""

import csv
import io
from datetime import datetime, time

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from archive.extensions import db
from archive.services import access, audit, validation
from archive.services.errors import Invalid

bp = Blueprint("audit", __name__, url_prefix="/audit")


def audit_filters(args) -> dict:
    """The audit query's filters from request arguments, dates as whole days."""
    def day(key, end=False):
        value = (args.get(key) or "").strip()
        if not value:
            return None
        try:
            d = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("日期格式应为 YYYY-MM-DD") from None
        return datetime.combine(d.date(), time.max if end else time.min) if len(value) == 10 else d

    return {
        "actor": (args.get("actor") or "").strip() or None,
        "action": (args.get("action") or "").strip() or None,
        "object_type": (args.get("object_type") or "").strip() or None,
        "object_id": (args.get("object") or args.get("object_id") or "").strip() or None,
        "start": day("from"),
        "end": day("to", end=True),
    }


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (titles reach the details)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


PAGE_SIZE = 100


@bp.get("")
@login_required
def index():
    access.require(current_user, "audit.view")
    filters = audit_filters(request.args)
    page = validation.page(request.args)
    stmt = audit.query(db.session, **filters)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    events = db.session.execute(
        stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all()
    withheld = audit.withheld(db.session, current_user, events)
    audit.record(db.session, current_user, "audit.viewed", None, filters=request.args.to_dict())
    db.session.commit()
    pages = max(1, -(-total // PAGE_SIZE))

    def page_url(number: int) -> str:
        return url_for("audit.index", **{**request.args.to_dict(), "page": number})

    return render_template("audit/index.html", events=events, params=request.args, total=total,
                           page=page, pages=pages, page_url=page_url, withheld=withheld,
                           withheld_text=audit.WITHHELD)


@bp.get("/export.csv")
@login_required
def export():
    access.require(current_user, "audit.view")
    filters = audit_filters(request.args)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "time", "actor", "action", "object_type", "object_id", "ip",
                     "outcome", "details", "hash"])
    events = db.session.execute(audit.query(db.session, **filters)).scalars().all()
    withheld = audit.withheld(db.session, current_user, events)
    for e in events:
        details = audit.WITHHELD if e.id in withheld else e.details
        writer.writerow([_cell(v) for v in (e.seq, e.at.isoformat(), e.actor_name, e.action,
                                            e.object_type, e.object_id, e.ip, e.outcome,
                                            details, e.hash)])
    audit.record(db.session, current_user, "audit.exported", None, filters=request.args.to_dict())
    db.session.commit()
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})
