"""The administrator's working-day calendar: a year's public holidays and 调休 workdays,
with forms to add, replace or remove a day (workdays.set_day, workdays.remove_day)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.extensions import db
from archive.models import DayKind
from archive.services import access, work, workdays
from archive.services.errors import DomainError

bp = Blueprint("calendar", __name__)


@bp.get("/admin/calendar")
@login_required
def index():
    access.require(current_user, "calendar.manage")
    year = workdays.parse_year(request.args.get("year"))
    days = workdays.list_year(db.session, year)
    return render_template(
        "calendar/index.html", year=year, days=days, kinds=DayKind,
        weekdays=[_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")],
        off=sum(d.kind == DayKind.HOLIDAY for d in days),
        weekdays_off=sum(d.kind == DayKind.HOLIDAY and d.day.weekday() < 5 for d in days),
        worked=sum(d.kind == DayKind.WORKDAY for d in days),
        min_year=workdays.MIN_YEAR, max_year=workdays.MAX_YEAR,
    )


def _back(year: int | None = None):
    """To the year of the day just changed, else to the year the form was sent from."""
    if year is None:
        try:
            year = workdays.parse_year(request.form.get("year"))
        except DomainError:
            year = None
    return redirect(url_for("calendar.index", year=year))


@bp.post("/admin/calendar")
@login_required
def set_day():
    """Add a day, or replace what the calendar says of it."""
    access.require(current_user, "calendar.manage")
    try:
        with work.unit(db.session):
            row = workdays.set_day(db.session, current_user, request.form.to_dict())
    except DomainError as exc:
        flash(exc.message, "error")
        return _back()
    flash(_("已保存：%(day)s %(name)s", day=row.day.isoformat(), name=row.name), "info")
    return _back(row.day.year)


@bp.post("/admin/calendar/<day>/remove")
@login_required
def remove(day: str):
    access.require(current_user, "calendar.manage")
    try:
        with work.unit(db.session):
            row = workdays.remove_day(db.session, current_user, day)
    except DomainError as exc:  # a bad date, or one removed meanwhile (from another tab)
        flash(exc.message, "error")
        return _back()
    flash(_("已删除：%(day)s %(name)s", day=row.day.isoformat(), name=row.name), "info")
    return _back(row.day.year)
