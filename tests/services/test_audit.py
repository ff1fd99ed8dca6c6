"""The audit trail is append-only and tamper-evident: any edit, deletion or insertion is found."""

import pytest
from sqlalchemy import text

from archive.models import AuditEvent
from archive.services import audit
from tests.databases import ON_POSTGRES


def _events(session, users, n=5):
    for i in range(n):
        audit.record(session, users["staff"], "document.viewed", ("document", i + 1))
    session.commit()


def test_an_intact_chain_verifies(session, users):
    _events(session, users)
    report = audit.verify(session)
    assert report.ok and report.checked == session.query(AuditEvent).count()


def test_an_edited_event_is_named(session, users):
    _events(session, users)
    target = session.query(AuditEvent).order_by(AuditEvent.seq.desc()).offset(2).first()
    session.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE id = :id"),
                    {"id": target.id})
    session.commit()
    session.expire_all()
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == target.seq
    assert "篡改" in report.problem


def test_a_deleted_event_is_found(session, users):
    _events(session, users)
    target = session.query(AuditEvent).order_by(AuditEvent.seq.desc()).offset(2).first()
    seq = target.seq
    session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": target.id})
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == seq + 1


def test_deleting_the_newest_event_is_found(session, users):
    _events(session, users)
    last = session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
    seq = last.seq
    session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": last.id})
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == seq


def test_an_inserted_event_is_found(session, users):
    _events(session, users)
    second = session.query(AuditEvent).order_by(AuditEvent.seq).offset(1).first()
    second_seq, second_hash = second.seq, second.hash
    # A forger shifts later events up and slips one in, with a plausible-looking hash.
    session.execute(text("UPDATE audit_events SET seq = seq + 1000 WHERE seq > :s"), {"s": second_seq})
    session.execute(text(
        "INSERT INTO audit_events (seq, at, actor_name, action, object_type, object_id, ip, "
        "outcome, details, prev_hash, hash) VALUES (:seq, '2026-01-01 00:00:00', 'mallory', "
        "'document.viewed', 'document', '1', '', 'ok', '{}', :prev, :h)"),
        {"seq": second_seq + 1, "prev": second_hash, "h": "f" * 64})
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == second_seq + 1


def test_verify_audit_command_exits_non_zero_on_tampering(app, session, users):
    _events(session, users)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    session.execute(text("UPDATE audit_events SET outcome = 'ok', action = 'x' WHERE seq = 3"))
    session.commit()
    # An event before the last signed checkpoint is re-hashed by the full walk (the daily
    # run walks from that checkpoint: docs/audit.md).
    result = runner.invoke(args=["verify-audit", "--full"])
    assert result.exit_code == 1 and "#3" in result.output


def test_deleting_the_chain_head_is_found(session, users):
    _events(session, users)
    session.execute(text("DELETE FROM audit_head"))
    session.commit()
    report = audit.verify(session)
    assert not report.ok and "链头" in report.problem


def test_audit_csv_cells_never_start_a_formula():
    from archive.services.spreadsheets import cell as _cell

    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("-1+2") == "'-1+2" and _cell("张伟") == "张伟" and _cell(42) == "42"


def test_a_sub_second_edit_of_the_time_is_found(session, users):
    _events(session, users)
    target = session.query(AuditEvent).order_by(AuditEvent.seq).offset(1).first()
    seq = target.seq
    session.execute(text("UPDATE audit_events SET at = :at WHERE id = :id"),
                    {"at": target.at.replace(microsecond=1).isoformat(" "), "id": target.id})
    session.commit()
    session.expire_all()
    report = audit.verify(session)
    assert not report.ok and report.first_bad_seq == seq


def _event_in_a_refused_savepoint(session, users, document_id: int) -> None:
    """An event recorded and flushed in a savepoint that then rolls back (a refused row)."""
    try:
        with session.begin_nested():
            audit.record(session, users["staff"], "document.viewed", ("document", document_id))
            session.flush()
            raise RuntimeError("the row is refused")
    except RuntimeError:
        pass


def test_a_unit_reads_the_head_once_and_chains_past_a_rolled_back_savepoint(session, users):
    """A unit that records many events (an import writes one a row) locks and reads the
    head once; an event undone with its savepoint (a refused row) leaves no gap."""
    from sqlalchemy import event

    from archive.services import work

    _events(session, users, n=1)
    reads = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "audit_head" in statement:
            reads.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        with work.unit(session):
            audit.record(session, users["staff"], "document.viewed", ("document", 10))
            audit.record(session, users["staff"], "document.viewed", ("document", 11))
            first_reads = len(reads)
            _event_in_a_refused_savepoint(session, users, 12)
            audit.record(session, users["staff"], "document.viewed", ("document", 13))
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count)
    assert first_reads == 1
    # The rolled-back savepoint expired the head: read once more, under the same lock.
    assert len(reads) == 2
    seqs = [e.seq for e in session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.object_id for e in session.query(AuditEvent).order_by(AuditEvent.seq)][-3:] == \
        ["10", "11", "13"]
    assert audit.verify(session).ok


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite keeps its write lock past a savepoint")
def test_the_head_is_locked_again_after_a_rolled_back_savepoint(session, users):
    """PostgreSQL lets go of a row lock taken inside a savepoint that rolls back (a refused
    import row): the unit's next event locks the head again, so no other writer chains
    in between (before, the head in hand was reused unlocked, and the unit's commit
    failed on a duplicate seq)."""
    from sqlalchemy.exc import OperationalError

    from archive.services import work

    _events(session, users, n=1)

    def head_free() -> bool:
        with session.get_bind().connect() as other:
            other.execute(text("SET lock_timeout = '300ms'"))
            try:
                other.execute(text("SELECT id FROM audit_head WHERE id = 1 FOR UPDATE"))
            except OperationalError:
                return False
            other.rollback()
            return True

    with work.unit(session):
        _event_in_a_refused_savepoint(session, users, 1)
        assert head_free()  # what PostgreSQL does with the savepoint's lock
        audit.record(session, users["staff"], "document.viewed", ("document", 2))
        assert not head_free()
    assert audit.verify(session).ok
