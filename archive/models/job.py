"""Background jobs (OCR first; later re-indexing, fixity checks, imports) and their state.

The task queue (huey) carries only a job's id and does not acknowledge tasks: a worker
killed mid-task loses its message. The database row is what counts: a job is claimed
with a lease that the worker renews while it works; a lease that ran out means the
worker died, and the job is queued again (at worker start-up, by a periodic sweep and by
`flask ocr --pending`).
"""

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.document import StoredFile


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # The file's content went (destroyed, withdrawn) before the job finished: never run,
    # or stopped at its next page, with nothing written.
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return JOB_STATE_LABELS[self]


JOB_STATE_LABELS = {
    JobState.QUEUED: "排队中",
    JobState.RUNNING: "识别中",
    JobState.DONE: "已完成",
    JobState.FAILED: "失败",
    JobState.CANCELLED: "已取消",
}

# A job failing for a reason other than its file (the worker ran out of memory, the
# database was locked) is tried this many times in all before it is marked failed.
MAX_ATTEMPTS = 3


class Job(db.Model):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # 'ocr'
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default=JobState.QUEUED.value, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # While running: the moment after which the worker is presumed dead.
    lease_until: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(100), default="")
    # Pages done / pages in all, while running (the progress shown on the document page).
    done_pages: Mapped[int] = mapped_column(default=0)
    total_pages: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]

    # StoredFile.jobs: a file's jobs, oldest first (its OCR state is the newest one's).
    file: Mapped[StoredFile] = relationship(backref=backref("jobs", order_by="Job.id"))

    @property
    def state_enum(self) -> JobState:
        return JobState(self.state)

    def lease_expired(self, moment: datetime) -> bool:
        return self.state == JobState.RUNNING and (self.lease_until is None or self.lease_until < moment)

    def start(self, worker: str, lease_until: datetime, at: datetime) -> None:
        self.state, self.worker, self.lease_until = JobState.RUNNING.value, worker, lease_until
        self.attempts += 1
        self.done_pages, self.error, self.updated_at = 0, None, at

    def requeue(self, at: datetime, error: str | None = None) -> None:
        self.state, self.lease_until, self.worker, self.updated_at = JobState.QUEUED.value, None, "", at
        if error:
            self.error = error

    def finish(self, at: datetime) -> None:
        self.state, self.lease_until, self.error = JobState.DONE.value, None, None
        self.updated_at = self.finished_at = at

    def fail(self, reason: str, at: datetime) -> None:
        self.state, self.lease_until, self.error = JobState.FAILED.value, None, reason[:500]
        self.updated_at = self.finished_at = at

    def cancel(self, reason: str, at: datetime) -> None:
        self.state, self.lease_until, self.error = JobState.CANCELLED.value, None, reason[:500]
        self.updated_at = self.finished_at = at


class NightlyRun(db.Model):
    """Work done once a night however many workers run (the 四性 storage check): one row
    per task and night (the archive's date), claimed by the worker that runs it under a
    lease it renews while it works. A worker killed mid-run leaves its lease to run out,
    and another worker takes the row over (archive/services/nightly.py)."""

    __tablename__ = "nightly_runs"
    __table_args__ = (UniqueConstraint("task", "night", name="uq_nightly_runs_task"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(40))
    night: Mapped[date]
    state: Mapped[str] = mapped_column(String(10))  # running | done | failed
    worker: Mapped[str] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(default=1)
    lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))
