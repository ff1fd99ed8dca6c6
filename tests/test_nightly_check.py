"""The nightly 四性 storage check runs once a night however many workers run (issue 20):
every worker's scheduler fires it, the first to claim the night's row runs it, and a
worker killed mid-run is taken over by another once its lease has run out."""

import contextlib
import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from archive import clock, samples, worker
from archive.extensions import db
from archive.models import NightlyRun, PreservationRun
from archive.services import nightly, preservation_storage, work

PDF = samples.make_pdf("买卖合同", ["房地产买卖合同，合同编号HT-2024-0032。"])


@contextlib.contextmanager
def at_local(*moment):
    """The clock at `moment` (year, month, day, hour, minute) in the archive's zone."""
    target = clock.to_utc(datetime(*moment))
    clock.travel(target - clock.now())
    try:
        yield
    finally:
        clock.reset()


def _runs() -> list[PreservationRun]:
    db.session.expire_all()
    return db.session.execute(select(PreservationRun).where(PreservationRun.trigger == "queue")).scalars().all()


def _claims() -> list[NightlyRun]:
    db.session.expire_all()
    return db.session.execute(select(NightlyRun)).scalars().all()


def _filed(make_customer, make_dossier, file_doc):
    file_doc(make_dossier(make_customer()), files=[("合同.pdf", PDF)])
    db.session.commit()  # SQLite's write lock is let go before the workers' threads run


def test_two_workers_fired_at_the_same_moment_check_the_archive_once(app, make_customer, make_dossier,
                                                                    file_doc):
    _filed(make_customer, make_dossier, file_doc)
    ran, start = {}, threading.Barrier(2)

    def a_worker(name):
        with app.app_context():
            start.wait()
            ran[name] = worker.nightly_check(app, me=name)
            db.session.remove()

    with at_local(2026, 12, 3, 2, 30):
        threads = [threading.Thread(target=a_worker, args=(f"host-{n}:{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(ran.values(), key=lambda run: run is None)[1] is None
        [run] = _runs()
        assert [run.id] == [value for value in ran.values() if value is not None]
        [claim] = _claims()
        assert (claim.task, claim.night.isoformat(), claim.state, claim.attempts) == (
            worker.NIGHTLY_CHECK, "2026-12-03", "done", 1)
        # Fired again the next minutes, by either: the night is checked.
        clock.travel(timedelta(minutes=1))
        assert worker.nightly_check(app, me="host-1:1") is None
        assert worker.nightly_check(app, me="host-3:3") is None
    assert len(_runs()) == 1
    with at_local(2026, 12, 4, 2, 45):  # the next night: checked again, once
        assert worker.nightly_check(app, me="host-2:2") is not None
        assert worker.nightly_check(app, me="host-1:1") is None
    assert len(_runs()) == 2


def test_the_check_runs_only_in_the_night(app, make_customer, make_dossier, file_doc):
    _filed(make_customer, make_dossier, file_doc)
    for moment in ((2026, 12, 3, 2, 29), (2026, 12, 3, 6, 0), (2026, 12, 3, 14, 0), (2026, 12, 3, 18, 30)):
        with at_local(*moment):
            assert worker.nightly_check(app) is None
    assert _runs() == [] and _claims() == []


def test_a_check_whose_worker_was_killed_is_taken_over_after_its_lease(app, make_customer,
                                                                      make_dossier, file_doc):
    _filed(make_customer, make_dossier, file_doc)
    lease = app.config["NIGHTLY_LEASE_SECONDS"]
    with at_local(2026, 12, 3, 2, 30):
        with work.unit(db.session):  # a worker claimed the night, then was killed (SIGKILL)
            dead = nightly.claim(db.session, worker.NIGHTLY_CHECK, clock.today(), "dead-host:7", lease)
        dead_id = dead.id
        clock.travel(timedelta(seconds=lease - 60))  # its lease still runs: nobody else checks
        assert worker.nightly_check(app, me="host-1:1") is None
        assert _runs() == []
        clock.travel(timedelta(seconds=61))  # run out: the next worker firing takes it over
        run_id = worker.nightly_check(app, me="host-1:1")
        assert run_id is not None and [run.id for run in _runs()] == [run_id]
        [claim] = _claims()
        assert (claim.id, claim.worker, claim.state, claim.attempts) == (dead_id, "host-1:1", "done", 2)
        with work.unit(db.session):  # the killed worker, had it only stalled, finds it gone
            assert not nightly.renew(db.session, dead_id, "dead-host:7", lease)
            assert not nightly.finish(db.session, dead_id, "dead-host:7")
        assert worker.nightly_check(app, me="host-2:2") is None
    assert len(_runs()) == 1


def test_a_run_taken_over_before_it_reports_writes_no_report(app, monkeypatch, make_customer,
                                                           make_dossier, file_doc):
    """The worker stalls past its lease after its last renewal, another takes the night
    over, and the first then finishes its check: its report is not written (the run that
    took over reports the night), so a night never has two."""
    _filed(make_customer, make_dossier, file_doc)
    lease = app.config["NIGHTLY_LEASE_SECONDS"]
    last_step = preservation_storage._index

    def stalled_then_taken_over(session, search, found):
        last_step(session, search, found)
        clock.travel(timedelta(seconds=lease + 1))
        with work.unit(db.session):
            assert nightly.claim(db.session, worker.NIGHTLY_CHECK, clock.today(), "host-2:2",
                                 lease) is not None

    monkeypatch.setattr(preservation_storage, "_index", stalled_then_taken_over)
    with at_local(2026, 12, 3, 2, 30):
        assert worker.nightly_check(app, me="host-1:1") is None
        monkeypatch.undo()
        assert _runs() == []
        [claim] = _claims()
        assert (claim.worker, claim.state, claim.attempts) == ("host-2:2", "running", 2)
        clock.travel(timedelta(seconds=lease + 1))  # host-2 died too: host-3 reports the night
        run_id = worker.nightly_check(app, me="host-3:3")
    assert [run.id for run in _runs()] == [run_id] and run_id is not None
    [claim] = _claims()
    assert (claim.worker, claim.state) == ("host-3:3", "done")


def test_a_check_that_fails_is_recorded_and_not_retried_that_night(app, make_customer, make_dossier,
                                                                   file_doc):
    _filed(make_customer, make_dossier, file_doc)
    search = app.extensions["search"]
    app.extensions["search"] = None  # the index cannot be read: the check raises
    try:
        with at_local(2026, 12, 3, 2, 30):
            assert worker.nightly_check(app, me="host-1:1") is None
            clock.travel(timedelta(minutes=5))
            app.extensions["search"] = search
            assert worker.nightly_check(app, me="host-2:2") is None
    finally:
        app.extensions["search"] = search
    [claim] = _claims()
    assert claim.state == "failed" and claim.error.startswith("AttributeError")
    assert _runs() == []
