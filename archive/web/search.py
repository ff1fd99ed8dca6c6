"""The search page."""

from flask import Blueprint, flash, render_template, request
from flask_login import current_user, login_required

from archive.extensions import db
from archive.services import finder, index_batches, ocr_hits, work
from archive.services.errors import DomainError
from archive.web import query_url

bp = Blueprint("search", __name__, url_prefix="/search")


def facet_url(params: dict, name: str, key: str) -> str:
    """The search narrowed to one facet value (a year is its whole date range), from the
    first page."""
    narrowed = {k: v for k, v in params.items() if k != "page"}
    if name == "year":
        narrowed.update({"from": f"{key}-01-01", "to": f"{key}-12-31"})
    else:
        narrowed[name] = key
    return query_url("search.index", narrowed)


@bp.get("")
@login_required
def index():
    params = request.args.to_dict()
    departments, levels, names = finder.filter_choices(db.session, current_user)
    choices = {"departments": departments, "levels": levels, "department_names": names}
    if not any(params.get(k) for k in ("q", "customer", "category", "classification",
                                       "department", "carrier", "from", "to")):
        return render_template("search/index.html", params=params, result=None, **choices)
    index_batches.catch_up(db.session)
    try:
        with work.unit(db.session):  # the search's audit event, committed before rendering
            query, result, documents = finder.search(db.session, current_user, params)
            read_by_ocr = ocr_hits.matches(db.session, result.hits)
    except DomainError as exc:
        flash(exc.message, "error")
        return render_template("search/index.html", params=params, result=None,
                               **choices), exc.status
    pages = max(1, -(-result.total // query.per_page))

    def page_url(number: int) -> str:
        return query_url("search.index", {**params, "page": number})

    return render_template("search/index.html", params=params, result=result, query=query,
                           pages=pages, page_url=page_url, documents=documents,
                           read_by_ocr=read_by_ocr,
                           facet_url=lambda name, key: facet_url(params, name, key), **choices)
