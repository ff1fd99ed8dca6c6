"""JSON API /api/v1 (DESIGN §4): thin, on the same services as the web UI."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from archive.api import (  # noqa: E402,F401  (registers the routes on bp)
    approvals,
    calendar,
    clearance,
    corrections,
    external_loans,
    imports,
    loans,
    openapi,
    preservation,
    retention,
    routes,
    transfers,
)
