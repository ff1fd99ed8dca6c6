"""GET /api/v1/openapi.json: the API described by hand, from the same vocabularies the
services validate against. tests/api/test_openapi.py fails when a /api/v1 route is
missing here, so a new route comes with its description."""

import re

from flask import jsonify

from archive.api import bp
from archive.models.enums import CARRIERS, CASE_GROUP, CATEGORIES, GROUPS, Level, Retention
from archive.services.customers import GRADES, KINDS, SCALES
from archive.services.finder import MAX_PER_PAGE, SORTS
from archive.services.validation import MAX_INTEGER

ERRORS = {
    400: ("BadRequest", ("The request cannot be understood: a body that is not a JSON "
                         "object (`malformed_json`; NaN and Infinity are not JSON), one nested "
                         "deeper than 20 levels (`json_too_deep`) or holding a lone UTF-16 "
                         "surrogate such as \\ud800 (`invalid_unicode`), a malformed search "
                         "query.")),
    401: ("Unauthorized", "No valid API token (`Authorization: Bearer <token>`)."),
    403: ("Forbidden", "The token's user may not do this (role, department, clearance)."),
    404: ("NotFound", "No such object, or one the user may not know exists."),
    409: ("Conflict", ("The change clashes with what exists (duplicate code, number, "
                       "dossier for the unit, reference), or an Idempotency-Key already "
                       "used for a different upload (`idempotency_key_reused`).")),
    413: ("TooLarge", "The upload is larger than the configured limit."),
    415: ("UnsupportedType", ("The file's content is of a type the archive refuses, or "
                              "does not match its extension.")),
    422: ("Invalid", ("A field is missing or breaks a rule; `details.field` names it. E.g. "
                      "`out_of_range` (an integer past 2^31-1), `bidi_control` (text holding "
                      "a direction control such as U+202E), `file_not_attached` (the `file` "
                      "field sent as text, not as a file).")),
    503: ("Unavailable", ("The search index is being rebuilt (`index_rebuilding`), e.g. after "
                          "it was lost; the archive itself is unaffected. Try again shortly.")),
    507: ("InsufficientStorage", ("The archive's storage is full (`storage_full`): nothing "
                                  "was stored; try again once an administrator made room.")),
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(summary: str, tag: str, ok: tuple[int, dict], errors: tuple[int, ...],
               **extra) -> dict:
    status, response = ok
    responses = {str(status): response}
    for code in (401, *errors):
        responses[str(code)] = {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
    return {"summary": summary, "tags": [tag], "responses": responses, **extra}


def _id(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": f"The {what}'s id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _body(schema_name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _nullable(type_: str, **more) -> dict:
    return {"type": [type_, "null"], **more}


# The levels in rising order, each with its rank, key and Chinese name: `secret` (秘密)
# ranks below `confidential` (机密), whatever the words suggest in other schemes.
LEVEL_MAPPING = "; ".join(f"{int(lv)} = `{lv.key}` = {lv.label}" for lv in Level)

LEVEL_INPUT = {
    "description": "密级 classification: its rank, key or Chinese name. In rising order: "
                   f"{LEVEL_MAPPING}.",
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": int(max(Level))},
        {"type": "string", "enum": [lv.key for lv in Level] + [lv.label for lv in Level]},
    ],
}
DATE = {"type": "string", "format": "date"}
DEPARTMENT_INPUT = {"description": "A department by id or by name.",
                    "oneOf": [{"type": "integer"}, {"type": "string"}]}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. "
                         "`missing_field`, `duplicate_customer`, `paper_only`, `too_large`, "
                         "`storage_full`."},
                "message": {"type": "string", "description": "For people, in Chinese."},
                "details": {"type": "object", "additionalProperties": True,
                            "description": "E.g. `{\"field\": \"title\"}`."},
            },
        }},
    },
    "Level": {
        "type": "object", "required": ["key", "label", "rank"],
        "description": f"A 密级 classification. In rising order: {LEVEL_MAPPING}; compare "
                       "levels by `rank`.",
        "properties": {"key": {"type": "string", "enum": [lv.key for lv in Level]},
                       "label": {"type": "string", "enum": [lv.label for lv in Level]},
                       "rank": {"type": "integer", "minimum": 0, "maximum": int(max(Level))}},
    },
    "Department": {"type": "object", "required": ["id", "name"],
                   "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    "CustomerInput": {
        "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "kind": {"type": "string", "enum": list(KINDS), "default": "person"},
            "department": {**DEPARTMENT_INPUT,
                           "description": "By id or name; the user's own if omitted."},
            "code": {"type": "string", "maxLength": 40, "description": "Generated if omitted."},
            "id_number": {"type": "string", "maxLength": 60},
            "phone": {"type": "string", "maxLength": 40},
            "address": {"type": "string", "maxLength": 300},
            "grade": {"type": "string", "enum": list(GRADES), "default": "普通",
                      "description": "客户等级 by the intent to cooperate."},
            "scale": {"type": "string", "enum": ["", *SCALES], "default": "",
                      "description": "客户规模 by the size of the cooperation; "
                                     "empty if not judged."},
            "notes": {"type": "string", "maxLength": 2000},
            "confirm_different": {"type": "boolean", "description": (
                "The archive room confirms another person than a customer with the same "
                "ID number, or name and phone (else 409 `duplicate_person`, naming the "
                "customers the user may see).")},
        },
    },
    "Customer": {
        "type": "object",
        "required": ["id", "code", "name", "kind", "grade", "department", "created_at"],
        "properties": {
            "id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"},
            "kind": {"type": "string", "enum": list(KINDS)}, "grade": {"type": "string"},
            "scale": {"type": "string"}, "id_number": _nullable("string"), "phone": _nullable("string"),
            "address": _nullable("string"), "department": _ref("Department"),
            "notes": _nullable("string"), "created_at": {"type": "string", "format": "date-time"},
            "merged_into_id": _nullable("integer", description=(
                "Set when this record was merged into another customer (the same person).")),
            "dossiers": {"type": "array", "items": _ref("DossierSummary"),
                         "description": "Only the dossiers the user may see."},
        },
    },
    "CustomerList": {
        "type": "object", "required": ["total", "customers"],
        "properties": {"total": {"type": "integer"},
                       "customers": {"type": "array", "items": _ref("Customer")}},
    },
    "Unit": {
        "type": "object", "required": ["project", "building", "unit", "room"],
        "properties": {"project": {"type": "string", "description": "项目（苑）"},
                       "building": {"type": "string"}, "unit": {"type": "string"},
                       "room": {"type": "string"}},
    },
    "DossierInput": {
        "type": "object", "required": ["customer_id"],
        "description": "A customer dossier (one per customer unit, 一户一档) needs `unit` "
                       "(or flat `project`, `building`, `unit_no`, `room`); a litigation "
                       "case file (`kind: case`) needs `number` and `title`.",
        "properties": {
            "customer_id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["customer", "case"], "default": "customer"},
            "unit": _ref("Unit"),
            "project": {"type": "string"}, "building": {"type": "string"},
            "unit_no": {"type": "string"}, "room": {"type": "string"},
            "number": {"type": "string", "maxLength": 120},
            "title": {"type": "string"},
            "classification": LEVEL_INPUT,
            "retention": {"type": "string", "enum": [r.value for r in Retention],
                          "default": Retention.PERMANENT.value},
            "location": {"type": "string"},
            "compiled_by": {"type": "string", "maxLength": 60},
            "checked_by": {"type": "string", "maxLength": 60},
            "remarks": {"type": "string", "maxLength": 2000},
        },
    },
    "DossierSummary": {
        "type": "object",
        "required": ["id", "number", "kind", "title", "customer_id", "classification",
                     "retention", "status", "created_at"],
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "kind": {"type": "string", "enum": ["customer", "case"]},
            "title": {"type": "string"}, "customer_id": {"type": "integer"},
            "unit": {"oneOf": [_ref("Unit"), {"type": "null"}]},
            "classification": _ref("Level"),
            "retention": {"type": "string", "enum": [r.value for r in Retention]},
            "status": {"type": "string"}, "location": _nullable("string"),
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Dossier": {
        "allOf": [_ref("DossierSummary"), {
            "type": "object", "required": ["level", "groups", "references", "customer"],
            "properties": {
                "level": {**_ref("Level"),
                          "description": "The highest classification of the dossier and "
                                         "its documents."},
                "groups": {"type": "array", "items": {
                    "type": "object", "required": ["code", "name", "documents"],
                    "properties": {
                        "code": {"type": "string", "enum": [*GROUPS, CASE_GROUP],
                                 "description": "a–e in a customer dossier; a case file is "
                                                "one volume, k."},
                        "name": {"type": "string"},
                        "documents": {"type": "array", "items": _ref("Document"),
                                      "description": "卷内目录 volume index order."},
                    },
                }},
                "references": {"type": "array", "items": _ref("Reference")},
                "customer": {"type": "object", "required": ["id", "code", "name"],
                             "properties": {"id": {"type": "integer"},
                                            "code": {"type": "string"},
                                            "name": {"type": "string"}}},
            },
        }],
    },
    "ReferenceInput": {
        "type": "object", "required": ["to_dossier_id"],
        "properties": {
            "to_dossier_id": {"type": "integer"},
            "document_id": {"type": "integer",
                            "description": "A document of this dossier, e.g. the judgment."},
            "kind": {"type": "string", "enum": ["case_file", "related"], "default": "case_file"},
            "note": {"type": "string", "maxLength": 300},
        },
    },
    "Reference": {
        "type": "object", "required": ["to_dossier_id", "to_number", "kind"],
        "properties": {
            "id": {"type": "integer"},
            "to_dossier_id": {"type": "integer"}, "to_number": {"type": "string"},
            "to_kind": {"type": "string", "enum": ["customer", "case"],
                        "description": "A customer dossier or a litigation case file."},
            "kind": {"type": "string", "enum": ["same_customer", "case_file", "related"],
                     "description": ("same_customer: made by the archive between one "
                                     "customer's dossiers; case_file, related: manual.")},
            "document_id": _nullable("integer"), "note": _nullable("string"),
            "manual": {"type": "boolean",
                       "description": "Made by a person, and removable by the archive room."},
        },
    },
    "DocumentUpload": {
        "type": "object", "required": ["title", "category"],
        "properties": {
            "file": {"type": "array", "description": "Zero or more files (none: a paper "
                     "original only), all refused if one is. Sent as text instead of as "
                     "a file, it is refused (422 `file_not_attached`).",
                     "items": {"type": "string", "contentMediaType": "application/octet-stream"}},
            "title": {"type": "string", "maxLength": 300},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "carrier": {"type": "string", "enum": list(CARRIERS),
                        "description": "From the file type if omitted; 纸质 without files."},
            "classification": LEVEL_INPUT,
            "group": {"type": "string", "enum": list(GROUPS),
                      "description": "From the category if omitted. A case file has no "
                                     "groups: its documents go into its one volume."},
            "retention": {"type": "string", "enum": [r.value for r in Retention],
                          "description": "From the category's schedule if omitted."},
            "date": DATE,
            "pages": {"type": "integer", "minimum": 0,
                      "description": "Counted from the files if omitted."},
            "originator": {"type": "string", "maxLength": 100},
            "document_number": {"type": "string", "maxLength": 100, "description": "文号."},
            "remarks": {"type": "string", "maxLength": 2000},
            "confirm_duplicate": {"type": "string", "enum": ["0", "1", "true", "false"],
                                  "description": (
                "1: file it although the same bytes are already filed where the user may "
                "see them (else 409 `duplicate_file`, naming those documents).")},
        },
    },
    "StoredFile": {
        "type": "object", "required": ["id", "name", "sha256", "size", "mime", "kind",
                                       "text_status"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "size": {"type": "integer"}, "mime": {"type": "string"}, "kind": {"type": "string"},
            "pages": _nullable("integer"),
            "text_status": {"type": "string", "enum": ["ok", "empty", "failed", "skipped"]},
            "text_error": _nullable("string"),
            "text_source": {"type": ["string", "null"], "enum": ["ocr", None],
                            "description": "ocr: the text was read from the page images."},
            "ocr_confidence": {"type": ["number", "null"],
                               "description": "The OCR engine's mean confidence (0–1)."},
            "ocr": {"type": ["object", "null"],
                    "description": "The file's OCR job (images and PDFs without a text layer).",
                    "properties": {
                        "state": {"type": "string",
                                  "enum": ["queued", "running", "done", "failed", "cancelled"],
                                  "description": "cancelled: the file was destroyed or "
                                                 "withdrawn before its text was read."},
                        "error": _nullable("string"), "attempts": {"type": "integer"},
                        "pages_done": {"type": "integer"}, "pages": _nullable("integer"),
                        "finished_at": _nullable("string"),
                    }},
            "access_copy": {
                "type": ["object", "null"],
                "description": "A DOCX's PDF access copy, made by LibreOffice after filing "
                               "(the DOCX is never changed): `queued`, `ok` (its own "
                               "SHA-256) or `failed` with the reason in Chinese; null for "
                               "other files. It is what a preview shows and, at 秘密 and "
                               "above, what `content` delivers stamped (the GM receives the "
                               "DOCX).",
                "properties": {
                    "state": {"type": "string", "enum": ["queued", "ok", "failed"]},
                    "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
                    "error": _nullable("string"),
                }},
        },
    },
    "Document": {
        "type": "object",
        "required": ["id", "dossier_id", "group", "seq", "title", "category", "carrier",
                     "classification", "retention", "department", "status", "created_at",
                     "text_extracted", "files"],
        "properties": {
            "id": {"type": "integer"}, "dossier_id": {"type": "integer"},
            "group": {"type": "string", "enum": list(GROUPS)},
            "seq": {"type": ["integer", "null"],
                    "description": "顺序号 item no. within the group; null for readers outside "
                                   "the archive room (numbers are given across every level, "
                                   "so a gap would tell of a hidden item)."},
            "title": {"type": "string"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "carrier": {"type": "string", "enum": list(CARRIERS)},
            "date": _nullable("string", format="date"), "pages": _nullable("integer"),
            "classification": _ref("Level"),
            "retention": {"type": "string", "enum": [r.value for r in Retention]},
            "department": _ref("Department"),
            "originator": _nullable("string"), "remarks": _nullable("string"),
            "document_number": {"type": "string", "description": "文号."},
            "status": {"type": "string", "description": (
                "active, or withdrawn (撤销归档: a tombstone the archive room sees)")},
            "created_at": {"type": "string", "format": "date-time"},
            "text_extracted": {"type": "boolean", "description": (
                "True when every file gave searchable text; false for scans without a text "
                "layer, images, recordings, paper-only documents and unreadable files "
                "(each file's text_status and text_error say which).")},
            "files": {"type": "array", "items": _ref("StoredFile")},
            "sha256": _nullable("string", description="The first file's, if any."),
            "preservation": {"type": "array", "items": _ref("PreservationCheck"),
                             "description": (
                "四性检测 (DA/T 70): the newest result of each check item of the document "
                "and of each file (at filing, at a transfer receipt). Only in the answers "
                "for one document (its GET and the upload).")},
        },
    },
    "PreservationSummary": {
        "type": "object", "required": ["counts", "failing"],
        "properties": {
            "counts": {"type": "object", "properties": {
                k: {"type": "integer"} for k in ("pass", "fail", "not_applicable", "not_run")}},
            "failing": {"type": "array", "items": {"type": "object", "properties": {
                "document_id": {"type": "integer"}, "file_id": _nullable("integer"),
                "item": {"type": "string"}, "item_name": {"type": "string"},
                "reason": {"type": "string"}}}},
        },
    },
    "PreservationCheck": {
        "type": "object",
        "required": ["item", "property", "item_name", "outcome", "reason", "file_id", "stage",
                     "checked_at"],
        "properties": {
            "item": {"type": "string", "enum": ["fixity", "format", "metadata", "continuity",
                                                "orphans", "encryption", "readable", "index",
                                                "virus"]},
            "property": {"type": "string", "enum": ["真实性", "完整性", "可用性", "安全性"]},
            "item_name": {"type": "string", "description": "The DA/T 70 item it covers."},
            "outcome": {"type": "string",
                        "enum": ["pass", "fail", "not_applicable", "not_run"]},
            "reason": {"type": "string"},
            "file_id": _nullable("integer", description="null: the document's own check"),
            "stage": {"type": "string", "enum": ["filing", "transfer"]},
            "checked_at": {"type": "string", "format": "date-time"},
        },
    },
    "SearchHit": {
        "type": "object",
        "required": ["document_id", "dossier_id", "customer_id", "title", "highlight", "score",
                     "dossier_number", "date"],
        "properties": {
            "document_id": {"type": "integer"}, "dossier_id": {"type": "integer"},
            "customer_id": {"type": "integer"}, "title": {"type": "string"},
            "highlight": {"type": "string", "description": "HTML-escaped snippet; the "
                          "matches are in <mark> tags."},
            "score": {"type": "number"},
            "dossier_number": {"type": "string"},
            "date": {"type": ["string", "null"], "format": "date"},
            "ocr": {"type": ["object", "null"], "description": (
                "Set when the words the snippet marks were read by OCR from a scan (the "
                "file's text_source is ocr): which file, and the engine's mean confidence "
                "(0–1) over that file. Null for a match in the title or in a text layer."),
                    "required": ["file_id", "confidence"],
                    "properties": {"file_id": {"type": "integer"},
                                   "confidence": {"type": ["number", "null"]}}},
        },
    },
    "SearchResult": {
        "type": "object", "required": ["total", "page", "per_page", "hits", "facets"],
        "properties": {
            "total": {"type": "integer", "description": "Matches the user may open."},
            "page": {"type": "integer"}, "per_page": {"type": "integer"},
            "hits": {"type": "array", "items": _ref("SearchHit")},
            "facets": {
                "type": "object", "description": "Counts over all matches, by category, "
                "classification, department (id) and year.",
                "additionalProperties": {"type": "object",
                                         "additionalProperties": {"type": "integer"}},
            },
        },
    },
    "AuditEvent": {
        "type": "object",
        "required": ["seq", "at", "actor", "action", "object_type", "object_id", "outcome",
                     "details", "details_withheld", "hash"],
        "properties": {
            "seq": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"}, "action": {"type": "string"},
            "object_type": {"type": "string"}, "object_id": {"type": "string"},
            "ip": {"type": "string"}, "outcome": {"type": "string"},
            "details": {"type": ["string", "null"], "description": (
                "Canonical JSON; null when withheld: the event is about a document or "
                "dossier above the reader's clearance (titles, file names, numbers).")},
            "details_withheld": {"type": "boolean"},
            "hash": {"type": "string", "description": "Hash chaining this event to the one "
                     "before."},
        },
    },
}

_DATE_FILTERS = [_query("from", "On or after this day (YYYY-MM-DD).", DATE),
                 _query("to", "On or before this day (YYYY-MM-DD).", DATE)]

PATHS = {
    "/api/v1/openapi.json": {"get": {
        "summary": "This document", "tags": ["meta"], "security": [],
        "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
    }},
    "/api/v1/customers": {
        "get": _operation(
            "List the customers the user may see", "customers",
            (200, _json(_ref("CustomerList"), "One page of customers.")), (403,),
            parameters=[_query("q", "Filter by name or code."),
                        _query("page", "Page number.", {"type": "integer", "minimum": 1})]),
        "post": _operation(
            "Register a customer", "customers",
            (201, _json(_ref("Customer"), "The new customer.")), (400, 403, 404, 409, 422),
            requestBody=_body("CustomerInput")),
    },
    "/api/v1/customers/{customer_id}": {"get": _operation(
        "A customer and the dossiers the user may see", "customers",
        (200, _json(_ref("Customer"), "The customer.")), (403, 404),
        parameters=[_id("customer_id", "customer")])},
    "/api/v1/dossiers": {"post": _operation(
        "Open a dossier", "dossiers",
        (201, _json(_ref("DossierSummary"), "The new dossier.")), (400, 403, 404, 409, 422),
        requestBody=_body("DossierInput"))},
    "/api/v1/dossiers/{dossier_id}": {"get": _operation(
        "A dossier with its groups, documents and references (audited)", "dossiers",
        (200, _json(_ref("Dossier"), "The dossier.")), (403, 404),
        parameters=[_id("dossier_id", "dossier")])},
    "/api/v1/dossiers/{dossier_id}/references": {"post": _operation(
        "Add a cross-reference to another dossier (both directions)", "dossiers",
        (201, _json(_ref("Reference"), "The reference from this dossier.")),
        (400, 403, 404, 409, 422),
        parameters=[_id("dossier_id", "dossier")], requestBody=_body("ReferenceInput"))},
    "/api/v1/dossiers/{dossier_id}/documents": {"post": _operation(
        "File a document into the dossier", "documents",
        (201, _json(_ref("Document"), ("The filed document; with an Idempotency-Key "
                                        "already used for this same upload, the document "
                                        "it filed (header Idempotent-Replayed: true)."))),
        (403, 404, 409, 413, 415, 422, 507),
        parameters=[_id("dossier_id", "dossier"), {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": ("1-100 visible ASCII characters chosen by the client, new for "
                            "each upload: a retry with the same key and the same request "
                            "returns the first document instead of filing it twice."),
            "schema": {"type": "string", "minLength": 1, "maxLength": 100}}],
        requestBody={"required": True, "content": {"multipart/form-data": {
            "schema": _ref("DocumentUpload"),
            "encoding": {"file": {"contentType": "application/octet-stream"}},
        }}})},
    "/api/v1/documents/{document_id}": {"get": _operation(
        "A document's metadata", "documents",
        (200, _json(_ref("Document"), "The document.")), (403, 404),
        parameters=[_id("document_id", "document")])},
    "/api/v1/documents/{document_id}/content": {"get": _operation(
        "A file of the document, verified against its hash (audited)", "documents",
        (200, {"description": "The bytes, as an attachment with the original file name. "
                              "At 秘密 and above a PDF, a scan (as a PDF of the image) or a "
                              "DOCX (as its PDF access copy) is a copy stamped with the "
                              "reader and the time; the GM receives a DOCX as filed.",
               "content": {"application/octet-stream": {
                   "schema": {"type": "string", "contentMediaType": "application/octet-stream"},
               }}}),
        (403, 404, 409, 422),
        parameters=[_id("document_id", "document"),
                    _query("file", "A stored file's id; the first file if omitted.",
                           {"type": "integer"})])},
    "/api/v1/search": {"get": _operation(
        "Full-text search over the documents the user may open (audited)", "search",
        (200, _json(_ref("SearchResult"), "One page of hits and the facets.")),
        (400, 403, 422, 503),
        parameters=[
            _query("q", "Query: words, \"phrases\", AND / OR / NOT."),
            _query("customer", "A customer's id, or part of a name or code."),
            _query("category", "类别.", {"type": "string", "enum": list(CATEGORIES)}),
            _query("classification", "密级 (rank, key or Chinese name).", LEVEL_INPUT),
            _query("carrier", "载体.", {"type": "string", "enum": list(CARRIERS)}),
            _query("department", "A department's id.", {"type": "integer"}),
            _query("dossier", "A dossier's id.", {"type": "integer"}),
            *_DATE_FILTERS,
            _query("sort", "Order of the hits.",
                   {"type": "string", "enum": list(SORTS), "default": "relevance"}),
            _query("page", "Page number.",
                   {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
            _query("per_page", "Hits per page.",
                   {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20}),
            _query("facets", "0 skips the facet counts (faster for broad queries); "
                   "the exact total is always given.",
                   {"type": "integer", "enum": [0, 1], "default": 1}),
        ])},
    "/api/v1/audit": {"get": _operation(
        "Audit events, newest first, at most 500 (auditors; the query is itself audited)",
        "audit",
        (200, _json({"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "items": _ref("AuditEvent")}}}, "The events.")),
        (403, 422),
        parameters=[_query("actor", "A user name."),
                    _query("person", "Part of a person's display name, or a user name."),
                    _query("action", "E.g. document.download."),
                    _query("outcome", "ok, denied or error.",
                           {"type": "string", "enum": ["ok", "denied", "error"]}),
                    _query("object_type", "E.g. document, dossier."),
                    _query("object", "An object's id (also accepted as object_id)."),
                    *_DATE_FILTERS])},
}

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "Juanzong (卷宗) archive API",
        "version": "1.0",
        "description": "Customer files and their dossiers (档案): filing, retrieval, "
                       "search and audit. Messages in errors are in Chinese. Every time "
                       "(`*_at`, an audit event's `at`) is ISO 8601 in the archive's time "
                       "zone (setting ARCHIVE_TIMEZONE, default Asia/Shanghai) with its "
                       "offset, e.g. `2026-12-02T10:15:00+08:00`; dates (a document's date, "
                       "`*_on`, a calendar day) are `YYYY-MM-DD` in that zone. A time given "
                       "without an offset (the audit filters `from`/`to`) is read in it.",
    },
    "security": [{"bearerAuth": []}],
    "tags": [{"name": name} for name in
             ("customers", "dossiers", "documents", "search", "audit", "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "A token from `flask --app archive create-token USER`."}},
        "schemas": SCHEMAS,
        "responses": {
            name: _json(_ref("Error"), description) for name, description in ERRORS.values()
        },
    },
}


# References into the seed regulations ("(002:67)", "(GM, 002:45)") are for the code's
# readers; API users read the rule itself.
_SEED_IN_PARENS = re.compile(r"\s*\(\d{3}:\d+(?:[-–]\d+)?(?:[,、]\s*\d{3}:\d+(?:[-–]\d+)?)*\)")
_SEED_AFTER_COMMA = re.compile(r",\s*\d{3}:\d+(?:[-–]\d+)?(?=\))")


def _public(node):
    """`node` with seed references taken out of every summary and description."""
    if isinstance(node, dict):
        return {k: (_SEED_AFTER_COMMA.sub("", _SEED_IN_PARENS.sub("", v))
                    if k in ("summary", "description") and isinstance(v, str) else _public(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_public(v) for v in node]
    return node


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(_public(SPEC))
