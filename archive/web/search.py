"""The search page."""

from flask import Blueprint, flash, render_template, request, url_for
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models import Department
from archive.services import finder, work
from archive.services.errors import DomainError

bp = Blueprint("search", __name__, url_prefix="/search")


@bp.get("")
@login_required
def index():
    params = request.args.to_dict()
    departments = {d.id: d.name for d in db.session.query(Department).all()}
    if not any(params.get(k) for k in ("q", "customer", "category", "classification",
                                       "department", "carrier", "from", "to")):
        return render_template("search/index.html", params=params, result=None,
                               departments=departments)
    try:
        with work.unit(db.session):  # the search's audit event, committed before rendering
            query, result, documents = finder.search(db.session, current_user, params)
    except DomainError as exc:
        flash(exc.message, "error")
        return render_template("search/index.html", params=params, result=None,
                               departments=departments), exc.status
    pages = max(1, -(-result.total // query.per_page))

    def page_url(number: int) -> str:
        return url_for("search.index", **{**params, "page": number})

    return render_template("search/index.html", params=params, result=result, query=query,
                           pages=pages, departments=departments, page_url=page_url,
                           documents=documents)
