"""Work done once a night across every worker process (the 四性 storage check): each
worker's scheduler fires it, and the first to claim tonight's row runs it. The row is a
claim under a lease the runner renews while it works (archive/models/job.py NightlyRun);
a worker killed mid-run stops renewing, and once its lease has run out another worker,
trying within the night's window, takes the row over and runs the work again. These
operations never commit (the worker's units do)."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from archive import clock
from archive.models import NightlyRun

RUNNING, DONE, FAILED = "running", "done", "failed"
# The archive's night (ARCHIVE_TIMEZONE): the work starts at 02:30, when nobody files, and
# a run whose worker died is taken over until 06:00, not in the working day.
STARTS, ENDS = time(2, 30), time(6, 0)


def tonight(moment: datetime) -> date | None:
    """The archive's date of the night whose window holds `moment` (stored UTC), or None
    outside the window."""
    local = clock.local(moment)
    return local.date() if STARTS <= local.time().replace(tzinfo=None) < ENDS else None


def claim(session, task: str, night: date, worker: str, lease_seconds: float) -> NightlyRun | None:
    """Tonight's run of `task` for `worker`: a new row, or one running under a lease that
    ran out (its worker died); None when it is done, failed or held by a live worker. Two
    workers inserting at once: the database's unique (task, night) refuses the second
    (IntegrityError, its unit rolled back), which has then not claimed it."""
    moment = clock.now()
    run = session.execute(select(NightlyRun).where(NightlyRun.task == task, NightlyRun.night == night)
                          .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    lease_until = moment + timedelta(seconds=lease_seconds)
    if run is None:
        run = NightlyRun(task=task, night=night, state=RUNNING, worker=worker, attempts=1,
                         lease_until=lease_until, started_at=moment)
        session.add(run)
    elif run.state == RUNNING and run.lease_until < moment:
        run.worker, run.lease_until, run.started_at = worker, lease_until, moment
        run.attempts += 1
    else:
        return None
    session.flush()
    return run


def renew(session, run_id: int, worker: str, lease_seconds: float) -> bool:
    """Extend the lease of a run this worker holds; False if another worker took it over."""
    run = session.get(NightlyRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.state != RUNNING or run.worker != worker:
        return False
    run.lease_until = clock.now() + timedelta(seconds=lease_seconds)
    return True


def finish(session, run_id: int, worker: str, error: str | None = None) -> bool:
    """Mark a run this worker holds done (or failed with `error`: not tried again tonight,
    the next night runs it anew); False if it is no longer this worker's."""
    run = session.get(NightlyRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.state != RUNNING or run.worker != worker:
        return False
    run.state, run.lease_until, run.finished_at = (FAILED if error else DONE), None, clock.now()
    run.error = error[:500] if error else None
    return True
