"""Model → JSON shapes of the API."""

from archive import clock
from archive.clock import now
from archive.models import (
    AccessGrant,
    ApprovalRequest,
    ApprovalRoute,
    CopyApproval,
    Customer,
    Designation,
    Document,
    Dossier,
    DossierReference,
    StoredFile,
)
from archive.models.approval import Approver, Decision
from archive.models.enums import Level
from archive.services import access, holds


def level(value: int) -> dict:
    lv = Level(value)
    return {"key": lv.key, "label": lv.label, "rank": int(lv)}


def customer(c: Customer, dossiers: list[Dossier] | None = None, *,
             personal: dict | None = None) -> dict:
    """A customer; `personal` is its ID and phone as the caller may see them
    (personal_data.shown), in full if not given."""
    personal = personal or {"id_number": c.id_number, "phone": c.phone}
    body = {
        "id": c.id, "code": c.code, "name": c.name, "kind": c.kind, "grade": c.grade,
        "scale": c.scale,
        "id_number": personal["id_number"], "phone": personal["phone"], "address": c.address,
        "department": {"id": c.department_id, "name": c.department.name},
        "notes": c.notes, "created_at": timestamp(c.created_at),
        "merged_into_id": c.merged_into_id,
    }
    if dossiers is not None:
        body["dossiers"] = [dossier_summary(d) for d in dossiers]
    return body


def dossier_summary(d: Dossier) -> dict:
    return {
        "id": d.id, "number": d.number, "kind": d.kind, "title": d.title,
        "customer_id": d.customer_id,
        "unit": ({"project": d.unit.project, "building": d.unit.building,
                  "unit": d.unit.unit_no, "room": d.unit.room} if d.unit else None),
        "classification": level(d.classification), "retention": d.retention,
        "status": d.status, "location": d.location, "created_at": timestamp(d.created_at),
    }


def reference(r: DossierReference) -> dict:
    return {"id": r.id, "to_dossier_id": r.to_dossier_id, "to_number": r.to_dossier.number,
            "to_kind": r.to_dossier.kind, "kind": r.kind, "document_id": r.document_id,
            "note": r.note, "manual": r.kind != "same_customer"}


def stored_file(f: StoredFile) -> dict:
    return {"id": f.id, "name": f.original_name, "sha256": f.sha256, "size": f.size,
            "mime": f.mime, "kind": f.kind, "pages": f.pages, "text_status": f.text_status,
            "text_error": f.text_error, "text_source": f.text_source or None,
            "ocr_confidence": f.ocr_confidence, "ocr": ocr_job(f),
            "access_copy": access_copy(f)}


def access_copy(f: StoredFile) -> dict | None:
    """A DOCX's PDF access copy (services/conversion.py): queued, ok (with its SHA-256)
    or failed with the reason; None for other files and DOCX filed before access copies."""
    if f.access_copy_status is None:
        return None
    return {"state": f.access_copy_status, "sha256": f.access_copy_sha256,
            "error": f.access_copy_error}


def ocr_job(f: StoredFile) -> dict | None:
    """The file's newest OCR job: queued, running (pages done of all), done or failed
    with the reason; None for a file that never needed OCR."""
    job = next((j for j in reversed(f.jobs) if j.kind == "ocr"), None)
    if job is None:
        return None
    return {"state": job.state, "error": job.error, "attempts": job.attempts,
            "pages_done": job.done_pages, "pages": job.total_pages,
            "finished_at": timestamp(job.finished_at)}


def document(d: Document, *, numbered: bool = False) -> dict:
    """`numbered`: whether the reader may see sequence numbers (numbering.view); else
    `seq` is null, since a gap in them would tell of an item above the reader."""
    return {
        "id": d.id, "dossier_id": d.dossier_id, "group": d.group.code,
        "seq": d.seq if numbered else None,
        "title": d.title, "category": d.category, "carrier": d.carrier,
        "date": d.doc_date.isoformat() if d.doc_date else None, "pages": d.pages,
        "classification": level(d.classification), "retention": d.retention,
        # The schedule's view (services/retention.py): the disposal date (到期日, null:
        # permanent), where the retention came from, whether the officer must confirm it.
        "important": d.important, "retention_source": d.retention_source,
        "disposal_on": timestamp(d.disposal_on), "disposal_basis": d.disposal_basis,
        "disposal_unconfirmed": d.disposal_unconfirmed,
        "disposal_proposed_on": timestamp(d.disposal_proposed_on),
        "department": {"id": d.department_id, "name": d.department.name},
        "originator": d.originator, "remarks": d.remarks, "status": d.status,
        "document_number": d.document_number,
        "created_at": timestamp(d.created_at),
        # Searchable by what its files say: not a scan without a text layer, an image,
        # a recording, a paper-only record or a file whose text could not be read.
        "text_extracted": bool(d.files) and all(f.text_status == "ok" for f in d.files),
        "files": [stored_file(f) for f in d.files],
        "sha256": d.files[0].sha256 if d.files else None,
    }


def dossier(d: Dossier, groups, refs, shown_level, *, numbered: bool = False) -> dict:
    body = dossier_summary(d)
    body["level"] = level(shown_level)
    body["groups"] = [
        {"code": g.code, "name": g.name,
         "documents": [document(x, numbered=numbered) for x in docs]}
        for g, docs in groups
    ]
    body["references"] = [reference(r) for r in refs]
    body["customer"] = {"id": d.customer.id, "code": d.customer.code, "name": d.customer.name}
    return body


def timestamp(value) -> str | None:
    """A stored time as the API gives it: ISO 8601 in the archive's zone, with its offset
    (2026-12-02T10:15:00+08:00); a date stays YYYY-MM-DD; None stays null."""
    shown = clock.local(value)
    return shown.isoformat() if shown is not None else None


def _who(user) -> dict | None:
    return {"id": user.id, "username": user.username, "name": user.display_name} if user else None


# A level change's status as the /classification API has always named it.
LEGACY_STATUS = {"pending": "requested", "approved": "applied", "rejected": "rejected",
                 "withdrawn": "withdrawn", "expired": "expired"}


def level_change(c: ApprovalRequest) -> dict:
    """A level change in the shape of /api/v1/classification-changes (kept for its
    clients), with the engine's request beside it under `approval`."""
    approved = {s.approver: s for s in c.steps if s.decision == Decision.APPROVED.value}
    head, office = (approved.get(Approver.CUSTOMER_DEPT_HEAD.value),
                    approved.get(Approver.GM_OFFICE.value))
    rejected = next((s for s in c.steps if s.decision == Decision.REJECTED.value), None)
    state = c.state(now()).value
    return {
        "id": c.id, "document_id": c.document_id, "dossier_id": c.dossier_id,
        "from": level(c.from_level), "to": level(c.to_level), "reason": c.reason,
        "status": LEGACY_STATUS[state], "requested_by": _who(c.requested_by),
        "requested_at": timestamp(c.created_at),
        "dept_head": _who(head.decided_by if head else None),
        "dept_head_at": timestamp(head.decided_at if head else None),
        "gm_office": _who(office.decided_by if office else None),
        "gm_office_at": timestamp(office.decided_at if office else None),
        "rejected_by": _who(rejected.decided_by if rejected else None),
        "note": rejected.note if rejected else "",
        "decided_at": timestamp(c.decided_at),
        "approval": {"id": c.id, "kind": c.kind, "status": state},
    }


def approval(r: ApprovalRequest, subject: str, *, may_decide: bool = False) -> dict:
    """One request for the inbox and 我的申请: `subject` is described for the reader."""
    return {
        "id": r.id, "kind": {"key": r.kind, "label": r.kind_enum.label},
        "status": {"key": r.state(now()).value, "label": r.state(now()).label},
        "subject": subject, "reason": r.reason, "requested_by": _who(r.requested_by),
        "created_at": timestamp(r.created_at), "expires_at": timestamp(r.expires_at),
        "decided_at": timestamp(r.decided_at), "open_stage": r.open_stage,
        "may_decide": may_decide,
        "route": {"id": r.route_id, "name": r.route.name, "version": r.route.version,
                  "seed_ref": r.route.seed_ref},
        "steps": [{"stage": s.stage,
                   "approver": {"key": s.approver, "label": s.approver_enum.label},
                   "decision": s.decision, "decided_by": _who(s.decided_by),
                   "decided_at": timestamp(s.decided_at), "note": s.note} for s in r.steps],
    }


def route(r: ApprovalRoute) -> dict:
    return {"id": r.id, "kind": {"key": r.kind, "label": r.kind_enum.label}, "name": r.name,
            "version": r.version, "seed_ref": r.seed_ref, "active": r.active,
            "time_limit_hours": r.time_limit_hours,
            "steps": [{"stage": s.stage, "approver": {"key": s.approver,
                                                      "label": s.approver_enum.label}}
                      for s in r.steps]}


def grant(g: AccessGrant) -> dict:
    return {"id": g.id, "user": _who(g.user), "department_id": g.department_id,
            "customer_id": g.customer_id, "valid_from": timestamp(g.valid_from),
            "valid_until": timestamp(g.valid_until), "approved_by": _who(g.approved_by),
            "reason": g.reason}


def designation(d: Designation) -> dict:
    return {"id": d.id, "user": _who(d.user), "dossier_id": d.dossier_id,
            "document_id": d.document_id, "designated_by": _who(d.designated_by),
            "created_at": timestamp(d.created_at)}


def copy_approval(a: CopyApproval) -> dict:
    return {"id": a.id, "user": _who(a.user), "document_id": a.document_id,
            "approved_by": _who(a.approved_by), "reason": a.reason,
            "created_at": timestamp(a.created_at), "expires_at": timestamp(a.expires_at)}


def loan(item, viewer, *, requests=()) -> dict:
    """A loan for its borrower, the counter and the register (`item`: a Loan), as
    `viewer` may see it (an item raised beyond their clearance since: access.shown_title)."""
    moment = now()
    return {
        "id": item.id, "number": item.number,
        "kind": {"key": item.kind, "label": item.kind_enum.label},
        "status": {"key": item.status, "label": item.status_enum.label},
        "overdue": item.overdue(moment),
        "dossier": {"id": item.dossier_id, "number": item.dossier.number},
        "borrower": _who(item.borrower), "requested_by": _who(item.requested_by),
        "purpose": item.purpose, "level": level(item.level), "direct": item.direct,
        "may_download": item.may_download, "due_at": timestamp(item.due_at),
        "created_at": timestamp(item.created_at), "approved_at": timestamp(item.approved_at),
        "out_at": timestamp(item.out_at), "items_out": item.items_out, "pages_out": item.pages_out,
        "returned_at": timestamp(item.returned_at), "items_back": item.items_back,
        "pages_back": item.pages_back, "condition": item.condition, "effect": item.effect,
        "items": [{"document_id": i.document_id, "title": access.shown_title(viewer, i.document)}
                  for i in item.items],
        "loss_reports": [{"id": r.id, "what": r.what, "count": r.count,
                          "description": r.description, "created_at": timestamp(r.created_at),
                          "closed_at": timestamp(r.closed_at), "outcome": r.outcome,
                          "note": r.closing_note} for r in item.reports],
        "approvals": [{"id": r.id, "kind": r.kind, "status": r.state(moment).value,
                       "renewal": bool(r.payload.get("renewal"))} for r in requests],
        "external_reader": external_reader(item),
    }


def external_reader(item) -> dict | None:
    """An external reader's particulars, scans and the copies handed over (`item`: a
    Loan); None for a staff member's loan."""
    reader = item.external_reader
    if reader is None:
        return None
    return {
        "kind": {"key": reader.kind, "label": reader.kind_enum.label},
        "unit": reader.unit, "name": reader.name, "credential_type": reader.credential_type,
        "credential_number": reader.credential_number, "notice_number": reader.notice_number,
        "phone": reader.phone,
        "scans": [{"id": f.id, "purpose": f.purpose, "sha256": f.sha256, "size": f.size,
                   "mime": f.mime, "original_name": f.original_name,
                   "url": f"/api/v1/loans/{item.id}/scans/{f.id}"} for f in item.scans],
        "copies": [{"id": c.id, "document_id": c.document_id, "pages": c.pages,
                    "page_count": c.page_count, "sha256": c.sha256, "made_at": timestamp(c.made_at),
                    "made_by": _who(c.made_by)} for c in item.handed_copies],
    }

def hold(h) -> dict:
    return {"id": h.id, "subject": holds.describe(h), "customer_id": h.customer_id,
            "dossier_id": h.dossier_id, "document_id": h.document_id, "reason": h.reason,
            "active": h.active, "placed_by": _who(h.placed_by), "placed_at": timestamp(h.placed_at),
            "lifted_by": _who(h.lifted_by), "lifted_at": timestamp(h.lifted_at),
            "lift_reason": h.lift_reason}


def appraisal(a) -> dict:
    return {"id": a.id, "document_id": a.document_id,
            "decision": {"key": a.decision, "label": a.decision_enum.label},
            "disposal_before": timestamp(a.disposal_before), "disposal_after": timestamp(a.disposal_after),
            "opinion": a.opinion, "decided_by": _who(a.decided_by),
            "decided_at": timestamp(a.decided_at), "destruction_id": a.destruction_id}


def due_document(d: Document) -> dict:
    return {"id": d.id, "title": d.title, "category": d.category,
            "dossier": {"id": d.dossier_id, "number": d.dossier.number},
            "classification": level(d.classification), "retention": d.retention,
            "disposal_on": timestamp(d.disposal_on), "disposal_basis": d.disposal_basis,
            "disposal_unconfirmed": d.disposal_unconfirmed,
            "disposal_proposed_on": timestamp(d.disposal_proposed_on), "pages": d.pages,
            "carrier": d.carrier}


def register_entry(e) -> dict:
    return {"id": e.id, "batch": e.batch_number, "seq": e.seq, "document_id": e.document_id,
            "archival_code": e.archival_code, "title": e.title, "originator": e.originator,
            "formed": e.formed, "retention": e.retention, "kept_for": e.kept_for,
            "pages": e.pages, "classification": level(e.classification),
            "carrier": e.carrier, "remarks": e.remarks, "files": e.files,
            "approved_by": e.approved_by, "supervisors": e.supervisors,
            "executed_by": e.executed_by, "destroyed_at": timestamp(e.utc_destroyed_at),
            "digest": e.digest}


def destruction(b, *, requests=(), entries=()) -> dict:
    return {
        "id": b.id, "number": b.number, "reason": b.reason,
        "status": {"key": b.status, "label": b.status_enum.label},
        "requested_by": _who(b.requested_by), "created_at": timestamp(b.created_at),
        "approved_by": _who(b.approved_by), "approved_at": timestamp(b.approved_at),
        "supervisors": [_who(u) for u in b.supervisors],
        "executed_by": _who(b.executed_by), "started_at": timestamp(b.started_at),
        "finished_at": timestamp(b.finished_at), "paper_method": b.paper_method,
        "paper_place": b.paper_place,
        "items": [{"seq": i.seq, "document_id": i.document_id, "title": i.document.title,
                   "dossier": i.document.dossier.number,
                   "classification": level(i.document.classification),
                   "pages": i.document.pages, "retention": i.document.retention,
                   "disposal_on": timestamp(i.document.disposal_on),
                   "state": {"key": i.state, "label": i.state_enum.label},
                   "note": i.note, "destroyed_at": timestamp(i.destroyed_at)} for i in b.items],
        "approvals": [{"id": r.id, "status": r.state(now()).value} for r in requests],
        "register": [register_entry(e) for e in entries],
    }


def transfer(batch, *, requests=()) -> dict:
    """A transfer batch (移交清单) with both sides' signatures and each item's count."""
    return {
        "id": batch.id, "number": batch.number,
        "status": {"key": batch.status, "label": batch.status_enum.label},
        "from_department": {"id": batch.from_department_id, "name": batch.from_department.name},
        "to": {"id": batch.to_department_id, "name": batch.receiver_name},
        "note": batch.note, "prepared_by": _who(batch.prepared_by),
        "created_at": timestamp(batch.created_at), "submitted_at": timestamp(batch.submitted_at),
        "received_by": _who(batch.received_by), "received_at": timestamp(batch.received_at),
        "receipt_note": batch.receipt_note, "returned_from_id": batch.returned_from_id,
        "return_reason": batch.return_reason,
        "items": [{"seq": i.seq, "document_id": i.document_id, "title": i.document.title,
                   "dossier": i.document.dossier.number, "count": i.count, "pages": i.pages,
                   "received_count": i.received_count, "received_pages": i.received_pages,
                   "outcome": ({"key": i.outcome, "label": i.outcome_enum.label}
                               if i.outcome else None), "note": i.note} for i in batch.items],
        "approvals": [{"id": r.id, "status": r.state(now()).value} for r in requests],
    }


def handover(h, left: dict | None) -> dict:
    """A handover (离职/调岗交接) and, while open, what the person still holds."""
    return {
        "id": h.id, "person": _who(h.person), "receiver": _who(h.receiver), "kind": h.kind,
        "reason": h.reason, "opened_by": _who(h.opened_by), "opened_at": timestamp(h.opened_at),
        "signed_at": timestamp(h.signed_at), "open": h.open,
        "outstanding": None if left is None else {
            "loans": [loan.number for loan in left["loans"]],
            "batches": [b.number for b in left["batches"]],
            "documents": [d.id for d in left["documents"]]},
    }
