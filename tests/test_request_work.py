"""What a request does not do (issue 14, capacity): work found by bench/request_cpu.py
that served nothing, each held here so it does not come back."""

from contextlib import contextmanager

from sqlalchemy import event

from archive.extensions import db
from tests.databases import sqlite_only_because


@contextmanager
def _statements():
    """The first word of each SQL statement run meanwhile (on SQLite a transaction's BEGIN
    is one: archive._sqlite_pragmas)."""
    seen: list[str] = []

    def _seen(_conn, _cursor, statement, *_args):
        seen.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", _seen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _seen)


def test_a_static_file_reads_nothing_from_the_database(app, login_as):
    """The request's end forgot the user's cached grants by asking current_user, which
    looked the session and its user up for a request that never needed them."""
    client = login_as("staff")
    db.session.commit()
    with _statements() as seen:
        response = client.get("/static/app.css")
    assert response.status_code == 200
    assert seen == []


@sqlite_only_because("counts the BEGIN statements SQLite's transactions start with")
def test_a_page_view_is_one_transaction_from_the_user_lookup_to_its_audit_event(app, login_as):
    """work.lookup: the session's lookup, which wrote nothing, is not a transaction of its
    own; the page's reads and its audit event follow in the same one."""
    client = login_as("staff")
    db.session.commit()
    with _statements() as seen:
        response = client.get("/search", query_string={"q": "认购书"})
    assert response.status_code == 200
    assert seen.count("INSERT") == 1  # the search's audit event
    assert seen[:seen.index("INSERT")].count("BEGIN") == 1, seen  # BEGIN and BEGIN IMMEDIATE


def test_an_api_call_sets_no_cookie_though_the_browser_sent_one(app, login_as, api):
    """The API authenticates by bearer token only; re-signing the browser's session
    cookie on each call was work for nothing (and a cookie the API does not read)."""
    client = login_as("staff")
    response = client.get("/api/v1/search", query_string={"q": "认购书"},
                          headers=api("staff"))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_a_page_renews_the_cookie_when_the_session_activity_is_noted(app, login_as):
    """The cookie lives for the idle time from the activity the server notes (at most once
    a minute), and is renewed with it; it was re-signed and sent on every page."""
    from datetime import timedelta

    from archive import clock

    client = login_as("staff")
    client.get("/search")  # the first page after the login: permanent, the forms' CSRF secret
    assert "Set-Cookie" not in client.get("/search").headers  # noted at the login
    clock.travel(timedelta(seconds=61))
    try:
        renewed = client.get("/search").headers.get("Set-Cookie", "")
        again = client.get("/search").headers.get("Set-Cookie")
    finally:
        clock.reset()
    assert "Expires=" in renewed and "HttpOnly" in renewed
    assert again is None


def test_a_refused_api_call_does_not_load_its_user_again_after_the_answer(app, api):
    """The request's end asked user.is_authenticated to forget the user's cached grants;
    after a 404's rollback that reloaded the user from the database, for nothing."""
    headers = api("staff")
    db.session.commit()
    with _statements() as seen:
        response = app.test_client().get("/api/v1/customers/99999999", headers=headers)
    assert response.status_code == 404
    selects = [s for s in seen if s == "SELECT"]
    assert len(selects) == 2, seen  # the token with its user, the customer


def test_an_api_token_notes_its_use_at_most_once_a_minute(app, api):
    """The token lookup reads the user and the token's two columns it needs, and writes
    the token's last use with one UPDATE when a minute has passed since the last."""
    from datetime import timedelta

    from archive import clock
    from archive.models import ApiToken

    headers = api("staff")
    db.session.commit()
    client = app.test_client()

    def used() -> tuple[list[str], object]:
        with _statements() as seen:
            assert client.get("/api/v1/customers/99999999", headers=headers).status_code == 404
        db.session.expire_all()
        token = db.session.query(ApiToken).one()
        return [s for s in seen if s == "UPDATE"], token.last_used_at

    first, noted = used()
    assert first == ["UPDATE"] and noted is not None
    again, unchanged = used()
    assert again == [] and unchanged == noted
    clock.travel(timedelta(seconds=61))
    try:
        later, moved = used()
    finally:
        clock.reset()
    assert later == ["UPDATE"] and moved > noted


def test_an_api_call_does_not_read_the_browsers_session_cookie(app, login_as, api, monkeypatch):
    """The API authenticates by bearer token only; checking the signature of the cookie a
    browser sends along, and decoding it, was work for a session it never uses."""
    from itsdangerous import URLSafeTimedSerializer

    client = login_as("staff")
    headers = api("staff")
    opened = []
    loads = URLSafeTimedSerializer.loads
    monkeypatch.setattr(URLSafeTimedSerializer, "loads",
                        lambda self, *a, **k: opened.append(1) or loads(self, *a, **k))
    response = client.get("/api/v1/search", query_string={"q": "认购书"}, headers=headers)
    assert response.status_code == 200
    assert opened == []
    assert client.get("/search").status_code == 200 and opened  # a page reads it
