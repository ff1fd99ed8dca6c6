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



def test_the_demo_has_work_for_the_retention_and_transfer_tour(app, client):
    """README tour steps 10-11: the review queue, a hold and the transfers dashboard are not
    empty on a new install."""
    from archive.services import accounts, work

    db.session.execute(delete(User))
    db.session.execute(delete(Department))
    db.session.commit()
    demo.load(db.session, echo=lambda *args, **kwargs: None)
    with work.unit(db.session):
        officer = db.session.query(User).filter_by(username="officer").one()
        headers = {"Authorization": f"Bearer {accounts.create_token(db.session, officer)}"}
    due = client.get("/api/v1/retention/due", headers=headers).json["due"]
    assert due and {d["category"] for d in due} == {"投诉"}
    assert len(client.get("/api/v1/holds", headers=headers).json["holds"]) == 1
    board = client.get("/api/v1/transfers/dashboard", headers=headers).json["departments"]
    assert [r["department"] for r in board] == ["销售经营部"]
    assert board[0]["overdue"] and board[0]["no_deadline"]


def test_every_demo_user_who_borrows_can_ask_for_a_loan(app, client):
    """Every department has someone to decide its loans: 法律室 and 总经理办公室 members
    were refused (no head to decide), so the demo's legal office and archive room could
    not borrow. Each asks to read a dossier it may read, of its own department first."""
    from sqlalchemy import select

    from archive.models import Dossier
    from archive.services import access, accounts, work

    db.session.execute(delete(User))
    db.session.execute(delete(Department))
    db.session.commit()
    demo.load(db.session, echo=lambda *args, **kwargs: None)
    dossiers = db.session.scalars(select(Dossier).order_by(Dossier.id)).all()
    borrowers = [u for u in db.session.scalars(select(User).order_by(User.id))
                 if access.can(u, "loan.request")]
    assert {u.username for u in borrowers} >= {"staff", "service", "legal", "officer", "gmoffice"}
    for user in borrowers:
        readable = [d for d in dossiers if access.may_read(user, d)
                    and all(access.may_read(user, doc) for doc in d.documents)]
        own = [d for d in readable if d.customer.department_id == user.department_id]
        dossier = (own or readable)[0]
        with work.unit(db.session):
            token = accounts.create_token(db.session, db.session.get(User, user.id))
        asked = client.post("/api/v1/loans", headers={"Authorization": f"Bearer {token}"},
                            json={"dossier_id": dossier.id, "kind": "read",
                                  "purpose": "核对资料", "days": 3})
        assert asked.status_code == 201, (user.username, asked.json)
