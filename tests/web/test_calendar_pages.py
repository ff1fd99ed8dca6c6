"""The administrator's working-day calendar page and /api/v1/calendar: anyone signed in
reads the calendar, only the administrator changes it, a bad day or name is refused in
Chinese with nothing changed, every change is audited."""

import json

import pytest
from sqlalchemy import func, select

from archive.models import AuditEvent, CalendarDay


def _state(session) -> dict:
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)).all()
    state = {"days": sorted(map(tuple, rows)),
             "changes": session.scalar(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.action.like("calendar.%")))}
    session.commit()  # let go of SQLite's write lock before the next request
    return state


def _event(session, action: str) -> AuditEvent:
    found = session.execute(select(AuditEvent).where(AuditEvent.action == action)
                            .order_by(AuditEvent.seq.desc())).scalars().first()
    session.commit()
    return found


# ---- the page -------------------------------------------------------------------------

def test_the_administrator_sees_the_year_and_the_link(login_as):
    client = login_as("admin")
    assert "/admin/calendar" in client.get("/admin").get_data(as_text=True)
    page = client.get("/admin/calendar?year=2025").get_data(as_text=True)
    assert "工作日历 2025" in page
    assert 'data-day="2025-10-01"' in page and "国庆节、中秋节" in page
    assert 'data-day="2025-10-11"' in page and "国庆调休" in page
    assert 'data-day="2026-02-15"' not in page
    assert "本年放假 28 天（其中周一至周五 18 天），调休上班 5 天。" in page
    assert "按国务院通知预置" in page


def test_no_link_for_others(login_as):
    assert "/admin/calendar" not in login_as("officer").get("/").get_data(as_text=True)


def test_adding_replacing_and_removing_a_day_through_the_page(session, login_as):
    client = login_as("admin")
    response = client.post("/admin/calendar", data={"date": "2027-10-01", "kind": "holiday",
                                                    "name": "国庆节", "year": "2025"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/calendar?year=2027")
    page = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "已保存：2027-10-01 国庆节" in page and "系统管理员" in page
    client.post("/admin/calendar", data={"date": "2027-10-01", "kind": "holiday",
                                         "name": "国庆节、中秋节"})
    assert "国庆节、中秋节" in client.get("/admin/calendar?year=2027").get_data(as_text=True)
    replaced = _event(session, "calendar.day_set")
    assert json.loads(replaced.details)["previous_name"] == "国庆节"

    response = client.post("/admin/calendar/2027-10-01/remove", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已删除：2027-10-01 国庆节、中秋节" in page and 'data-day="2027-10-01"' not in page
    removed = _event(session, "calendar.day_removed")
    assert (removed.object_id, removed.actor_name) == ("2027-10-01", "admin")


@pytest.mark.parametrize("form, message", [
    ({"date": "2025-02-30", "kind": "holiday", "name": "节"}, "日期格式应为 YYYY-MM-DD"),
    ({"date": "", "kind": "holiday", "name": "节"}, "请填写日期"),
    ({"date": "2025-10-09", "kind": "rest", "name": "节"}, "类型只能是"),
    ({"date": "2025-10-09", "kind": "holiday", "name": "节" * 51}, "名称过长（最多 50 个字符）"),
    ({"date": "2025-10-09", "kind": "workday", "name": "调休"}, "调休上班只用于周六、周日"),
])
def test_a_bad_form_is_flashed_in_chinese_and_changes_nothing(session, login_as, form, message):
    client = login_as("admin")
    before = _state(session)
    response = client.post("/admin/calendar", data={**form, "year": "2025"})
    assert response.headers["Location"].endswith("/admin/calendar?year=2025")
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _state(session) == before


def test_removing_a_day_not_listed_is_flashed(session, login_as):
    client = login_as("admin")
    before = _state(session)
    page = client.post("/admin/calendar/2025-10-09/remove", data={"year": "2025"},
                       follow_redirects=True).get_data(as_text=True)
    assert "工作日历中没有 2025-10-09 这一天" in page
    page = client.post("/admin/calendar/2025-1-9/remove", follow_redirects=True)
    assert "日期格式应为 YYYY-MM-DD" in page.get_data(as_text=True)
    assert _state(session) == before


def test_a_bad_year_is_a_clear_error_not_a_crash(login_as):
    response = login_as("admin").get("/admin/calendar?year=abc")
    assert response.status_code == 422
    assert "年份应为 2000 至 2099 之间的整数" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["officer", "gm", "auditor"])
def test_others_are_refused_the_page_and_its_forms(session, login_as, username):
    client = login_as(username)
    before = _state(session)
    assert client.get("/admin/calendar").status_code == 403
    assert client.post("/admin/calendar", data={"date": "2025-10-09", "kind": "holiday",
                                                "name": "节"}).status_code == 403
    assert client.post("/admin/calendar/2025-10-01/remove").status_code == 403
    assert _state(session) == before


def test_the_page_in_english(login_as):
    client = login_as("admin")
    client.get("/lang/en")
    page = client.get("/admin/calendar?year=2025").get_data(as_text=True)
    assert "Working-day calendar" in page and "Day off" in page and "工作日历" not in page


# ---- the API --------------------------------------------------------------------------

def test_anyone_signed_in_reads_the_calendar(client, api):
    response = client.get("/api/v1/calendar?year=2025", headers=api("staff"))
    assert response.status_code == 200
    body = response.json
    assert body["year"] == 2025 and len(body["days"]) == 33
    first = body["days"][0]
    assert first == {"date": "2025-01-01", "weekday": 3,
                     "kind": {"key": "holiday", "label": "放假"}, "name": "元旦",
                     "created_by": None, "created_at": first["created_at"]}
    worked = [d["date"] for d in body["days"] if d["kind"]["key"] == "workday"]
    assert worked == ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]


def test_a_bad_year_in_the_api_is_422(client, api):
    response = client.get("/api/v1/calendar?year=1999", headers=api("staff"))
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"field": "year"}


def test_the_administrator_puts_and_deletes_a_day(session, client, api):
    headers = api("admin")
    response = client.put("/api/v1/calendar/2027-02-06", headers=headers,
                          json={"kind": "holiday", "name": "春节"})
    assert response.status_code == 200
    assert response.json["kind"]["key"] == "holiday" and response.json["created_by"] == "admin"
    response = client.put("/api/v1/calendar/2027-02-06", headers=headers,
                          json={"kind": "workday", "name": "春节调休"})
    assert response.json["kind"] == {"key": "workday", "label": "调休上班"}
    assert _event(session, "calendar.day_set").object_id == "2027-02-06"
    assert client.delete("/api/v1/calendar/2027-02-06", headers=headers).status_code == 204
    assert _event(session, "calendar.day_removed").object_id == "2027-02-06"
    again = client.delete("/api/v1/calendar/2027-02-06", headers=headers)
    assert again.status_code == 404 and again.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("path, body, status, field", [
    ("2025-10-32", {"kind": "holiday", "name": "节"}, 422, "date"),
    ("yesterday", {"kind": "holiday", "name": "节"}, 422, "date"),
    ("2025-10-09", {"kind": "holiday"}, 422, "name"),
    ("2025-10-09", {"kind": "holiday", "name": 5.5}, 422, "name"),
    ("2025-10-09", {"kind": None, "name": "节"}, 422, "kind"),
    ("2025-10-11", {"kind": "workday", "name": "x" * 51}, 422, "name"),
])
def test_bad_input_to_the_api_is_refused_and_changes_nothing(session, client, api, path, body,
                                                             status, field):
    headers = api("admin")
    before = _state(session)
    response = client.put(f"/api/v1/calendar/{path}", headers=headers, json=body)
    assert response.status_code == status
    assert response.json["error"]["details"] == {"field": field}
    assert _state(session) == before


def test_a_body_that_is_not_json_is_400(session, client, api):
    headers = api("admin")
    before = _state(session)
    response = client.put("/api/v1/calendar/2025-10-09", headers=headers, data="kind=holiday")
    assert response.status_code == 400
    assert _state(session) == before


@pytest.mark.parametrize("username", ["staff", "gm", "auditor"])
def test_others_may_not_change_the_calendar(session, client, api, username):
    headers = api(username)
    before = _state(session)
    put = client.put("/api/v1/calendar/2025-10-09", headers=headers,
                     json={"kind": "holiday", "name": "节"})
    delete = client.delete("/api/v1/calendar/2025-10-01", headers=headers)
    assert (put.status_code, delete.status_code) == (403, 403)
    assert put.json["error"]["code"] == "forbidden"
    assert _state(session) == before
    denied = _event(session, "access.denied")
    assert json.loads(denied.details)["permission"] == "calendar.manage"
