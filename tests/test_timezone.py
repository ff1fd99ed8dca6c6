"""Times in the archive's time zone (issue 18, docs/timezone-and-docx.md part 1): one
setting, ARCHIVE_TIMEZONE, is the zone every page, form, CSV and API answer shows times in."""

from datetime import datetime

import pytest

from archive import clock, create_app
from archive.extensions import db
from archive.models import Document
from archive.services import work
from config import TestConfig
from tests.conftest import login

# A stored time: 02:15 on 2 December, as the server's clock wrote it (Asia/Shanghai).
STORED = datetime(2026, 12, 2, 2, 15)


@pytest.fixture(autouse=True)
def _zone_back():
    yield
    clock.set_zone(clock.DEFAULT_ZONE)


def _app_in(root, zone):
    config = TestConfig(root)
    config.ARCHIVE_TIMEZONE = zone
    return create_app(config)


@pytest.fixture
def filed(app, make_customer, make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()))
    with work.unit(db.session):
        db.session.get(Document, document.id).created_at = STORED
    return document.id


def _shown(app, document_id, headers):
    """The document page's 归档 time and the API's created_at, as `app` gives them."""
    client = app.test_client()
    with app.app_context():
        login(client, "officer")
        page = client.get(f"/documents/{document_id}").get_data(as_text=True)
        body = client.get(f"/api/v1/documents/{document_id}", headers=headers).get_json()
    return next(line for line in page.splitlines() if "归档</dt>" in line), body["created_at"]


def test_a_time_is_shown_in_the_archive_zone_and_moves_with_the_setting(app, api, filed,
                                                                        tmp_path):
    headers = api("officer")
    line, api_time = _shown(app, filed, headers)
    assert "2026-12-02 02:15" in line
    assert api_time == "2026-12-02T02:15:00+08:00"

    berlin = _app_in(tmp_path, "Europe/Berlin")
    try:
        line, api_time = _shown(berlin, filed, headers)
    finally:
        berlin.extensions["search"].close()
    assert "2026-12-01 19:15" in line
    assert api_time == "2026-12-01T19:15:00+01:00"


def test_an_unknown_zone_stops_the_app_with_its_name(tmp_path):
    with pytest.raises(ValueError, match="Mars/Olympus"):
        _app_in(tmp_path, "Mars/Olympus")
