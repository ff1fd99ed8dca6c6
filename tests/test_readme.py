"""The README's tour and API examples work as written on the demo archive."""

import re
from pathlib import Path

from sqlalchemy import delete

from archive import demo
from archive.extensions import db
from archive.models import Department, User

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_tour_search_examples_find_demo_documents(app, client):
    db.session.execute(delete(User))  # demo.load fills an empty archive
    db.session.execute(delete(Department))
    db.session.commit()
    demo.load(db.session, echo=lambda *args, **kwargs: None)
    client.post("/login", data={"username": "officer",
                                "password": demo.DEMO_PASSWORDS["officer"]})
    tour = next(line for line in README.splitlines() if "**检索** searches everything" in line)
    queries = re.findall(r"`([^`]+)`", tour)
    assert "HT-2018-0001" in queries
    for query in queries:
        page = client.get("/search", query_string={"q": query}).get_data(as_text=True)
        total = re.search(r'id="total">(\d+)<', page)
        assert total and int(total.group(1)) > 0, f"README tour query {query!r} finds nothing"


def test_api_curl_example_url_encodes_the_chinese_query():
    # curl sends a raw 维修 in the URL as is; gunicorn refuses such a request line (HTML 400).
    assert "search?q=维修" not in README
    assert '--data-urlencode "q=维修"' in README
