"""The /api/v1 routes."""

from flask import current_app, jsonify, request, send_file
from flask_login import current_user, login_required

from archive.api import bp
from archive.api import serialize as out
from archive.extensions import db
from archive.services import access, audit, customers, filing, finder
from archive.services.errors import BadRequest, Invalid, UnsupportedType


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("请求体必须是 JSON 对象", code="malformed_json")
    return body


def _store():
    return current_app.extensions["blob_store"]


@bp.get("/customers")
@login_required
def list_customers():
    page = request.args.get("page", "1")
    total, rows = customers.list_customers(
        db.session, current_user, q=request.args.get("q", ""),
        page=int(page) if page.isdecimal() else 1,
    )
    return jsonify({"total": total, "customers": [out.customer(c) for c in rows]})


@bp.post("/customers")
@login_required
def create_customer():
    customer = customers.create_customer(db.session, current_user, _json_body())
    return jsonify(out.customer(customer, [])), 201


@bp.get("/customers/<int:customer_id>")
@login_required
def get_customer(customer_id: int):
    customer = customers.get_customer(db.session, current_user, customer_id)
    visible = customers.visible_dossiers(current_user, customer)
    return jsonify(out.customer(customer, visible))


@bp.post("/dossiers")
@login_required
def create_dossier():
    body = _json_body()
    unit = body.get("unit")
    if isinstance(unit, dict):
        body = {**body, "project": unit.get("project"), "building": unit.get("building"),
                "unit_no": unit.get("unit"), "room": unit.get("room")}
    dossier = customers.create_dossier(
        db.session, current_user, body, number_format=current_app.config["DOSSIER_NUMBER_FORMAT"]
    )
    return jsonify(out.dossier_summary(dossier)), 201


@bp.get("/dossiers/<int:dossier_id>")
@login_required
def get_dossier(dossier_id: int):
    dossier = customers.get_dossier(db.session, current_user, dossier_id)
    return jsonify(out.dossier(dossier, filing.volume_index(current_user, dossier),
                               customers.references(db.session, current_user, dossier),
                               access.shown_level(current_user, dossier)))


@bp.post("/dossiers/<int:dossier_id>/references")
@login_required
def add_reference(dossier_id: int):
    ref = customers.add_reference(db.session, current_user, dossier_id, _json_body())
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
    uploads = [
        filing.Upload(f.filename or "", f.read())
        for f in request.files.getlist("file") if f is not None
    ]
    if not uploads and request.files:
        raise Invalid("请使用字段名 file 上传文件")
    document, replayed = filing.file_once(
        db.session, current_user, dossier_id, request.form.to_dict(), uploads,
        key=request.headers.get("Idempotency-Key"), store=_store(),
        limits=filing.Limits.from_config(current_app.config),
    )
    response = jsonify(out.document(document))
    if replayed:  # the first answer again, for a client that never received it
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


@bp.get("/documents/<int:document_id>")
@login_required
def get_document(document_id: int):
    return jsonify(out.document(filing.get_document(db.session, current_user, document_id)))


@bp.get("/documents/<int:document_id>/content")
@login_required
def document_content(document_id: int):
    # The same delivery as the web download: 绝密 needs the GM's copy approval (002:45),
    # refused with its reason and audited; 秘密 and above go out stamped.
    delivery = filing.read_for_delivery(db.session, current_user, document_id,
                                        request.args.get("file"), store=_store())
    import io

    response = send_file(io.BytesIO(delivery.data), mimetype=delivery.mime, as_attachment=True,
                         download_name=delivery.filename)
    if delivery.stamped:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/search")
@login_required
def search():
    query, result, documents = finder.search(db.session, current_user, request.args.to_dict())
    return jsonify({
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "hits": [
            {"document_id": h.document_id, "dossier_id": h.dossier_id,
             "customer_id": h.customer_id, "title": h.title, "highlight": h.highlight,
             "score": h.score, "dossier_number": documents[h.document_id].dossier.number,
             "date": (documents[h.document_id].doc_date.isoformat()
                      if documents[h.document_id].doc_date else None)}
            for h in result.hits
        ],
        "facets": result.facets,
    })


@bp.get("/audit")
@login_required
def audit_events():
    access.require(current_user, "audit.view")
    from archive.web.audit_view import audit_filters

    stmt = audit.query(db.session, **audit_filters(request.args))
    rows = db.session.execute(stmt.limit(500)).scalars().all()
    audit.record(db.session, current_user, "audit.viewed", None, filters=request.args.to_dict())
    db.session.commit()
    return jsonify({"events": [
        {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor_name, "action": e.action,
         "object_type": e.object_type, "object_id": e.object_id, "ip": e.ip,
         "outcome": e.outcome, "details": e.details, "hash": e.hash}
        for e in rows
    ]})
