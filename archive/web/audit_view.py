"""The auditors' page: search the audit trail in Chinese (audit_labels), verify its hash
chain, export it as CSV (with the codes)."""

import csv
import io

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from archive.clock import local
from archive.extensions import db
from archive.services import (
    access,
    audit,
    audit_anchor,
    audit_labels,
    personal_data,
    spreadsheets,
    validation,
    work,
)
from archive.web import query_url

bp = Blueprint("audit", __name__, url_prefix="/audit")



PAGE_SIZE = 100


@bp.get("")
@login_required
def index():
    page = validation.page(request.args)
    with work.unit(db.session):
        listing = audit.list_events(db.session, current_user, request.args.to_dict(),
                                    limit=PAGE_SIZE, page=page, count=True)
    pages = max(1, -(-listing.total // PAGE_SIZE))

    def page_url(number: int) -> str:
        return query_url("audit.index", {**request.args.to_dict(), "page": number})

    return render_template("audit/index.html", params=request.args,
                           rows=audit_labels.rows(db.session, current_user, listing.events,
                                                  listing.withheld),
                           actions=sorted(audit_labels.ACTIONS.items(), key=lambda a: a[0]),
                           outcomes=audit_labels.OUTCOMES,
                           total=listing.total, page=page, pages=pages, page_url=page_url,
                           withheld=listing.withheld, withheld_text=audit.WITHHELD)


@bp.get("/verify")
@login_required
def verify():
    """The same check as `flask verify-audit`, for the auditor: the chain against its
    signed checkpoints, walked from the last one (`?full=1`: from the first event), the
    first broken event named. A GET signs nothing (no checkpoint in the file or the
    table); the check is recorded as every look at the trail is."""
    return _verify(sign_head=False, full=request.args.get("full") == "1")


@bp.post("/verify")
@login_required
def sign():
    """The 签名检查点 button: the same check, and when everything holds the verified head
    signed as a checkpoint (the CLI's verify-audit and the every-N-events hook do the
    same)."""
    return _verify(sign_head=True, full=request.form.get("full") == "1")


def _verify(*, sign_head: bool, full: bool):
    access.require(current_user, "audit.view")
    key, path = audit_anchor.settings()
    with work.unit(db.session):
        report = audit_anchor.verify(db.session, key, path, full=full, sign_head=sign_head,
                                     old_keys=audit_anchor.retired_keys())
        audit.record(db.session, current_user, "audit.verified", None, ok=report.ok,
                     checked=report.chain.checked, problem=report.message,
                     full=report.full, checkpoints=report.valid,
                     signed=report.signed.seq if report.signed else None)
    return render_template("audit/verify.html", report=report, chain=report.chain)


@bp.get("/export.csv")
@login_required
def export():
    with work.unit(db.session):
        listing = audit.list_events(db.session, current_user, request.args.to_dict(),
                                    recorded_as="audit.exported")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    full = personal_data.in_full(current_user)
    writer.writerow(["seq", "time", "actor", "action", "object_type", "object_id", "ip",
                     "outcome", "details", "hash"])
    for e in listing.events:
        details = (audit.WITHHELD if e.id in listing.withheld
                   else e.details if full else personal_data.mask_text(e.details))
        writer.writerow([spreadsheets.cell(v) for v in (e.seq, local(e.utc_at).isoformat(), e.actor_name, e.action,
                                            e.object_type, e.object_id, e.ip, e.outcome,
                                            details, e.hash)])
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})
