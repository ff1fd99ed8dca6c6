"""The /api/v1 routes."""

import json

from flask import current_app, jsonify, request
from flask_login import current_user, login_required

from archive import delivery as delivery_response
from archive.api import bp
from archive.api import serialize as out
from archive.extensions import db
from archive.services import (
    access,
    audit,
    customers,
    filing,
    finder,
    index_batches,
    ocr_hits,
    personal_data,
    preservation,
    validation,
    work,
)
from archive.services.errors import BadRequest, Invalid, UnsupportedType

# No body this API takes nests deeper than 3; a few more levels leave room for growth.
MAX_JSON_DEPTH = 20


def _json_body(*, optional: bool = False) -> dict:
    """The request's JSON object, refused (400) unless it is one the services can store:
    malformed JSON, NaN or Infinity, nesting past MAX_JSON_DEPTH, or a lone surrogate
    ("\\ud800", valid JSON but no UTF-8 text) in any key or string. `optional`: an empty
    body is an empty object."""
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        return {}
    if not request.is_json:
        raise BadRequest("请求体必须是 JSON 对象", code="malformed_json")
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:  # the decoder recurses once per level: 100 000 '[' exhaust it
        raise BadRequest(f"JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）", code="json_too_deep") from None
    except ValueError:
        raise BadRequest("请求体必须是 JSON 对象", code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("请求体必须是 JSON 对象", code="malformed_json")
    _check_json(body)
    return body


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _check_json(body: dict) -> None:
    """Walk the decoded body without recursion, each value once."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(f"JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）",
                                 code="json_too_deep")
            items = [*value, *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, str) and validation.has_lone_surrogate(value):
            raise BadRequest("请求中含有无效的 Unicode 字符（单独的代理项，如 \\ud800）",
                             code="invalid_unicode")


def _store():
    return current_app.extensions["blob_store"]


@bp.get("/customers")
@login_required
def list_customers():
    total, rows = customers.list_customers(
        db.session, current_user, q=request.args.get("q", ""),
        page=validation.page(request.args),
    )
    return jsonify({"total": total, "customers": [
        out.customer(c, personal=personal_data.shown(current_user, c)) for c in rows]})


@bp.post("/customers")
@login_required
def create_customer():
    body = _json_body()
    with work.unit(db.session):
        customer = customers.create_customer(
            db.session, current_user, body, code_format=current_app.config["CUSTOMER_CODE_FORMAT"])
    return jsonify(out.customer(customer, [])), 201


@bp.get("/customers/<int:customer_id>")
@login_required
def get_customer(customer_id: int):
    with work.unit(db.session):  # the view's audit event, committed before the answer
        customer = customers.get_customer(db.session, current_user, customer_id)
    visible = customers.visible_dossiers(current_user, customer)
    return jsonify(out.customer(customer, visible,
                                personal=personal_data.shown(current_user, customer)))


@bp.post("/dossiers")
@login_required
def create_dossier():
    body = _json_body()
    unit = body.get("unit")
    if isinstance(unit, dict):
        body = {**body, "project": unit.get("project"), "building": unit.get("building"),
                "unit_no": unit.get("unit"), "room": unit.get("room")}
    with work.unit(db.session):
        dossier = customers.create_dossier(db.session, current_user, body,
                                           number_format=current_app.config["DOSSIER_NUMBER_FORMAT"])
    return jsonify(out.dossier_summary(dossier)), 201


@bp.get("/dossiers/<int:dossier_id>")
@login_required
def get_dossier(dossier_id: int):
    with work.unit(db.session):
        dossier = customers.get_dossier(db.session, current_user, dossier_id)
    return jsonify(out.dossier(dossier, filing.volume_index(current_user, dossier),
                               customers.references(db.session, current_user, dossier),
                               access.shown_level(current_user, dossier),
                               numbered=access.can(current_user, "numbering.view")))


@bp.post("/dossiers/<int:dossier_id>/references")
@login_required
def add_reference(dossier_id: int):
    body = _json_body()
    with work.unit(db.session):
        ref = customers.add_reference(db.session, current_user, dossier_id, body)
    return jsonify(out.reference(ref)), 201


@bp.post("/dossiers/<int:dossier_id>/documents")
@login_required
def upload_document(dossier_id: int):
    if request.is_json:  # form fields (and files) only: say so instead of "请填写题名"
        # Who may file here is answered first, as for any other request.
        dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
        access.require(current_user, "document.upload", dossier, hide=False)
        raise UnsupportedType("请以表单提交（multipart/form-data，字段 file、title、category …）",
                              code="multipart_required")
    uploads = [filing.Upload(name, data) for name, data in validation.file_parts(
        request.form, request.files.getlist("file"), keep_empty=True)]
    if not uploads and request.files:
        raise Invalid("请使用字段名 file 上传文件")
    # The checks only read: their unit ends the transaction (and SQLite's write lock)
    # before the files are read, which takes seconds for a large PDF.
    with work.unit(db.session):
        intake = filing.preflight(db.session, current_user, dossier_id, request.form.to_dict(),
                                  uploads, key=request.headers.get("Idempotency-Key"),
                                  warn_duplicates=True,
                                  limits=filing.Limits.from_config(current_app.config))
    filing.read_files(intake)
    with work.unit(db.session):
        document, replayed = filing.file_intake(db.session, intake, store=_store(),
                                                batched=True)
        response = jsonify(out.document(document,
                                        numbered=access.can(current_user, "numbering.view")))
    if replayed:  # the first answer again, for a client that never received it
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


@bp.get("/documents/<int:document_id>")
@login_required
def get_document(document_id: int):
    with work.unit(db.session):
        document = filing.get_document(db.session, current_user, document_id)
        body = out.document(document, numbered=access.can(current_user, "numbering.view"))
        body["preservation"] = [r.as_json() for r in preservation.latest_for(db.session, document)]
    return jsonify(body)


@bp.get("/documents/<int:document_id>/content")
@login_required
def document_content(document_id: int):
    # The same delivery as the web download: 绝密 needs the GM's copy approval (002:45),
    # refused with its reason and audited; 秘密 and above go out stamped.
    with work.unit(db.session):
        delivery = filing.read_for_delivery(db.session, current_user, document_id,
                                            request.args.get("file"), store=_store())
    return delivery_response.send(delivery.data, delivery.mime, delivery.filename,
                                  attachment=True, private=delivery.stamped)


@bp.get("/search")
@login_required
def search():
    index_batches.catch_up(db.session)
    with work.unit(db.session):
        query, result, documents = finder.search(db.session, current_user,
                                                 request.args.to_dict())
        read_by_ocr = ocr_hits.matches(db.session, result.hits)
    return jsonify({
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "hits": [
            {"document_id": h.document_id, "dossier_id": h.dossier_id,
             "customer_id": h.customer_id, "title": h.title, "highlight": h.highlight,
             "score": h.score, "dossier_number": documents[h.document_id].dossier.number,
             "date": (documents[h.document_id].doc_date.isoformat()
                      if documents[h.document_id].doc_date else None),
             "ocr": ({"file_id": read_by_ocr[h.document_id].file_id,
                      "confidence": read_by_ocr[h.document_id].confidence}
                     if h.document_id in read_by_ocr else None)}
            for h in result.hits
        ],
        "facets": result.facets,
    })


@bp.get("/audit")
@login_required
def audit_events():
    with work.unit(db.session):
        listing = audit.list_events(db.session, current_user, request.args.to_dict(), limit=500)
    full = personal_data.in_full(current_user)
    return jsonify({"events": [
        {"seq": e.seq, "at": out.timestamp(e.utc_at), "actor": e.actor_name, "action": e.action,
         "object_type": e.object_type, "object_id": e.object_id, "ip": e.ip,
         "outcome": e.outcome,
         "details": None if e.id in listing.withheld else (
             e.details if full else personal_data.mask_text(e.details)),
         "details_withheld": e.id in listing.withheld, "hash": e.hash}
        for e in listing.events
    ]})
