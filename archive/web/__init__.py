"""HTML blueprints: parse the form, call one service, render."""

from flask import Flask, current_app, flash, redirect, request
from flask_babel import gettext as _

from archive.models.enums import CARRIERS, CATEGORIES, GROUPS, LEVEL_LABELS, Level


def register(app: Flask) -> None:
    from archive.web import (
        audit_view,
        auth_views,
        classification,
        customers,
        documents,
        dossiers,
        grants,
        main,
        search,
    )

    for module in (auth_views, main, customers, dossiers, documents, search, audit_view,
                   classification, grants):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _vocabulary():
        return {
            "CATEGORIES": CATEGORIES,
            "CARRIERS": CARRIERS,
            "GROUPS": GROUPS,
            "LEVELS": [(int(level), LEVEL_LABELS[level]) for level in Level],
            "level_label": lambda value: Level(value).label,
            "company_name": current_app.config["COMPANY_NAME"],
        }


def back_with_error(message: str, endpoint_url: str | None = None):
    """Re-show the previous form with the error (used on domain errors from forms)."""
    flash(message, "error")
    return redirect(endpoint_url or request.referrer or "/")


__all__ = ["register", "back_with_error", "_"]
