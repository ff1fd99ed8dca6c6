"""The first events of an empty audit chain, recorded at once on PostgreSQL (issue 21): one
writer creates the chain's head, the other waits for it and chains after, instead of both
creating it and the second failing."""

import threading
import time

import pytest
import sqlalchemy as sa

from archive.extensions import db
from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.services import audit, work
from tests.databases import ON_POSTGRES, lock_waits

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite the write lock lets one "
                                "writer at a time create the head")


def test_two_first_events_of_an_empty_chain_both_chain(app):
    for model in (AuditEvent, AuditCheckpoint, AuditHead):
        db.session.execute(sa.delete(model))
    db.session.commit()
    outcome = {}

    def second():
        with app.app_context():
            try:
                with work.unit(db.session):
                    audit.record(db.session, None, "test.second")
            except Exception as exc:  # noqa: BLE001 (reported to the test below)
                outcome["error"] = exc
            finally:
                db.session.remove()

    other = threading.Thread(target=second)
    with work.unit(db.session):
        audit.record(db.session, None, "test.first")
        db.session.flush()
        other.start()
        for _ in range(300):  # the second writer is waiting for this transaction
            if lock_waits(app):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the second writer never waited for the first")
    other.join(30)
    assert "error" not in outcome, outcome
    actions = db.session.execute(sa.select(AuditEvent.seq, AuditEvent.action)
                                 .order_by(AuditEvent.seq)).all()
    assert [tuple(a) for a in actions] == [(1, "test.first"), (2, "test.second")]
    assert audit.verify(db.session).ok
