"""/api/v1 routes of the working-day calendar: a year's holidays and 调休 workdays for
anyone signed in (the calendar is not secret), and the administrator's changes."""

from flask import jsonify, request
from flask_login import current_user, login_required

from archive.api import bp
from archive.api.routes import _json_body
from archive.api.serialize import timestamp
from archive.extensions import db
from archive.models import CalendarDay, DayKind
from archive.services import access, work, workdays


def _day(row: CalendarDay) -> dict:
    return {
        "date": row.day.isoformat(),
        "weekday": row.day.isoweekday(),
        "kind": {"key": row.kind, "label": row.kind_enum.label},
        "name": row.name,
        "created_by": row.created_by.username if row.created_by else None,
        "created_at": timestamp(row.created_at),
    }


@bp.get("/calendar")
@login_required
def calendar_days():
    year = workdays.parse_year(request.args.get("year"))
    return jsonify({"year": year, "days": [_day(d) for d in workdays.list_year(db.session, year)]})


@bp.put("/calendar/<day>")
@login_required
def set_calendar_day(day: str):
    """Make the day a holiday or a 调休 workday, replacing what was there."""
    access.require(current_user, "calendar.manage")
    body = _json_body()
    with work.unit(db.session):
        row = workdays.set_day(db.session, current_user, {**body, "date": day})
    return jsonify(_day(row))


@bp.delete("/calendar/<day>")
@login_required
def remove_calendar_day(day: str):
    with work.unit(db.session):
        workdays.remove_day(db.session, current_user, day)
    return "", 204


# ---- the OpenAPI description of these routes (merged into openapi.SPEC) -------------

def _describe() -> None:
    from archive.api import openapi as oa

    kind = {"type": "string", "enum": [k.value for k in DayKind],
            "description": "holiday (放假: a day off) or workday (调休上班: a weekend day "
                           "worked)."}
    oa.SCHEMAS.update({
        "CalendarDay": {
            "type": "object", "required": ["date", "weekday", "kind", "name"],
            "properties": {
                "date": {"type": "string", "format": "date"},
                "weekday": {"type": "integer", "minimum": 1, "maximum": 7,
                            "description": "ISO weekday: 1 Monday … 7 Sunday."},
                "kind": {"type": "object", "properties": {"key": kind,
                                                          "label": {"type": "string"}}},
                "name": {"type": "string", "maxLength": workdays.MAX_NAME},
                "created_by": oa._nullable("string", description="The administrator's "
                                           "username; null for the days seeded from the "
                                           "State Council's notice."),
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "CalendarDayInput": {"type": "object", "required": ["kind", "name"], "properties": {
            "kind": kind,
            "name": {"type": "string", "maxLength": workdays.MAX_NAME,
                     "description": "E.g. 国庆节, 国庆调休."}}},
    })
    day = {"name": "day", "in": "path", "required": True,
           "description": f"The day, YYYY-MM-DD, {workdays.MIN_YEAR}–{workdays.MAX_YEAR}.",
           "schema": {"type": "string", "format": "date"}}
    oa.PATHS.update({
        "/api/v1/calendar": {"get": oa._operation(
            "The working-day calendar of a year: its holidays and 调休 workdays (every "
            "other Monday to Friday is a working day)", "calendar",
            (200, oa._json({"type": "object", "required": ["year", "days"], "properties": {
                "year": {"type": "integer"},
                "days": {"type": "array", "items": oa._ref("CalendarDay")}}}, "The year's days.")),
            (422,), parameters=[oa._query(
                "year", "The year (default: this year).",
                {"type": "integer", "minimum": workdays.MIN_YEAR,
                 "maximum": workdays.MAX_YEAR})])},
        "/api/v1/calendar/{day}": {
            "put": oa._operation(
                "Make a day a holiday or a 调休 workday, replacing what the calendar said "
                "of it (admin)", "calendar",
                (200, oa._json(oa._ref("CalendarDay"), "The day as stored.")),
                (400, 403, 422), parameters=[day], requestBody=oa._body("CalendarDayInput")),
            "delete": oa._operation(
                "Take a day out of the calendar (admin)", "calendar",
                (204, {"description": "Removed."}), (403, 404, 422), parameters=[day]),
        },
    })
    oa.SPEC["tags"] += [{"name": "calendar"}]


_describe()
