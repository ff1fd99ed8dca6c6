"""HTML blueprints: parse the form, call one service, render."""

import flask
import flask_babel
from flask import Flask, current_app, has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.urls import _urlencode

from archive import clock
from archive.clock import now
from archive.models.enums import CARRIERS, CATEGORIES, GROUPS, LEVEL_LABELS, Level
from archive.services import access
from archive.web import vocabulary


def register(app: Flask) -> None:
    from archive.web import (
        admin,
        approvals,
        audit_view,
        auth_views,
        calendar,
        classification,
        corrections,
        customers,
        documents,
        dossiers,
        external_loans,
        grants,
        imports,
        loan_items,
        loans,
        main,
        preservation,
        retention,
        search,
        transfers,
    )

    for module in (auth_views, main, customers, dossiers, documents, search, audit_view,
                   external_loans,
                   classification, grants, approvals, calendar, loans, loan_items, corrections,
                   retention, imports, transfers, preservation):
        app.register_blueprint(module.bp)
    app.register_blueprint(admin.bp)

    app.jinja_env.filters["label"] = _label
    # A page has 50-80 strings to translate; Flask-Babel finds the catalogue for each
    # through three walks of its context on `g`. A render takes it once (the context
    # processor below, inside any force_locale of the caller).
    app.jinja_env.install_gettext_callables(
        gettext=_gettext, newstyle=True,
        ngettext=lambda s, p, n: flask_babel.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: flask_babel.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: flask_babel.get_translations().unpgettext(c, s, p, n),
    )
    # `_()` and `gettext()` in one call each (Jinja's own: an alias that resolves gettext,
    # a wrapper, then the callable above, three template calls a string).
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)
    app.jinja_env.globals["url_for"] = _links(app)
    app.jinja_env.globals["query_url"] = query_url
    app.jinja_env.filters["local"] = local_time

    @app.context_processor
    def _vocabulary():
        # The levels' names from the render's catalogue, as |label reads it: a lazy label
        # walks Flask-Babel's context on each use, and a search page names a level per hit.
        catalogue = flask_babel.get_translations()
        # The user behind the proxy, once a render: a dossier page asks can() about 40
        # times, and each use of current_user walks Flask-Login's proxy and `g`.
        user = current_user._get_current_object()
        return {
            "CATEGORIES": CATEGORIES,
            "CARRIERS": CARRIERS,
            "GROUPS": GROUPS,
            "LEVELS": [(int(level), _word(catalogue, LEVEL_LABELS[level])) for level in Level],
            "level_label": lambda value: _word(catalogue, Level(value).label),
            "shown_level": lambda dossier: access.shown_level(user, dossier),
            "can": lambda action, obj=None: access.can(user, action, obj),
            # A lent document's title, withheld if raised beyond the reader since.
            "lent_title": lambda document: access.shown_title(user, document),
            # Its level likewise: shown to whoever is cleared for it now.
            "lent_cleared": lambda document: access.cleared(user, document),
            "company_name": current_app.config["COMPANY_NAME"],
            "numbered": access.can(user, "numbering.view"),
            "clock_now": now,
            CATALOGUE: catalogue,
        }


def query_url(endpoint: str, params) -> str:
    """A link to `endpoint` (a route without values) with `params` (a dict or the request's
    args) as its query string, whatever their names: url_for(**params) takes `endpoint`
    (a TypeError: 500), `_anchor`, `_external`, `_method` and `_scheme` as its own. The
    query is encoded as Werkzeug encodes it (tests/web/test_search_page.py compares)."""
    base = flask.url_for(endpoint)
    query = _urlencode(params)
    return f"{base}?{query}" if query else base


def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`|local`: a stored time as the archive shows it, in ARCHIVE_TIMEZONE ('' for none)."""
    shown = clock.local(value)
    return shown.strftime(fmt) if shown is not None else ""


CATALOGUE = "_catalogue"


def _catalogue(context):
    # A template rendered without the request's context (a macro imported without it)
    # asks Flask-Babel.
    return context.get(CATALOGUE) or flask_babel.get_translations()


@pass_context
def _gettext(context, string: str) -> str:
    return _catalogue(context).ugettext(string)


@pass_context
def _template_gettext(context, string: str, **variables) -> str:
    """What Jinja's newstyle gettext does, in one call: the string from the render's
    catalogue, Markup where the template autoescapes, formatted with `variables` (a
    string is always a format string: "%%" is "%"; one without "%" is itself)."""
    rv = _catalogue(context).ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables if variables or "%" in rv else rv


def _links(app: Flask):
    """url_for for templates, about 25 links a page. A link without values (the menu's)
    is built once per script root; one whose values are all ids (whole numbers: a hit's
    document, a dossier's documents) once per endpoint and names, as a form its numbers
    are put into; any other as Flask builds it. Nothing else changes such a link: the
    app has no url_defaults and no host or subdomain rules, and a number reads the same
    in a path and in a query (a test compares pages with Flask's own url_for)."""
    from archive.services.validation import MAX_INTEGER

    built: dict[tuple, str | None] = {}

    def url_for(endpoint: str, **values) -> str:
        if (endpoint.startswith(".") or app.url_default_functions
                or not has_request_context()
                or not all(type(v) is int and 0 <= v <= MAX_INTEGER for v in values.values())):
            return flask.url_for(endpoint, **values)
        key = (endpoint, *values, request.script_root)
        form = built.get(key, "")
        if form == "":
            form = built[key] = _link_form(endpoint, tuple(values))
        return flask.url_for(endpoint, **values) if form is None else form.format(**values)

    return url_for


def _link_form(endpoint: str, names: tuple[str, ...]) -> str | None:
    """The link to `endpoint` with a {name} in place of each value's number, or None if a
    number does not stand once and alone in it (then each link is built)."""
    marks = {name: 2_000_000_000 + i for i, name in enumerate(names)}  # digits no link holds
    link = flask.url_for(endpoint, **marks).replace("{", "{{").replace("}", "}}")
    for name, mark in marks.items():
        if link.count(str(mark)) != 1:
            return None
        link = link.replace(str(mark), "{" + name + "}")
    return link


@pass_context
def _label(context, value) -> str:
    """The |label filter: vocabulary.label with the render's catalogue."""
    return _word(_catalogue(context), value)


def _word(catalogue, value) -> str:
    """vocabulary.label read from `catalogue` (each LABELS entry's msgid is its key)."""
    if value is not None and str(value) in vocabulary.LABELS:
        return catalogue.ugettext(str(value))
    return vocabulary.label(value)


def local_path(target: str | None) -> str | None:
    r"""`target` if it is a path on this site, else None (never an open redirect).

    Browsers drop tabs and line breaks inside a URL and read a backslash as a slash, so
    "/<TAB>/evil.example" or "/\evil.example" would leave the site: such a character
    anywhere refuses the target."""
    target = target or ""
    if not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in target):
        return None
    return target


__all__ = ["register", "local_path", "_"]


def N_(text: str) -> str:
    """Mark a msgid for `make translations` without translating it here (labels that are
    Chinese data of the models, shown as `_(label)`)."""
    return text


def run_form(action, message: str, fallback: str):
    """Run `action` in one unit of work and flash `message`; a form error is flashed and
    nothing is changed, while a refusal (403) or a hidden or missing object (404) is
    raised and answered like on every route. Then back to the form's `next` or
    `fallback`."""
    from flask import flash, redirect, request

    from archive.extensions import db
    from archive.services import work
    from archive.services.errors import DomainError, Forbidden, NotFound

    try:
        with work.unit(db.session):
            action()
        flash(message, "info")
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(local_path(request.form.get("next")) or fallback)
