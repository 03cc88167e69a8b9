"""The one place a job becomes queued in the ledger and is handed to the queue (Huey).

Every ledger write that leaves a job ``queued`` is paired here with its ``submit``, so "the
ledger is the truth, Huey the transport" holds by structure rather than by each caller's
discipline. Nothing here wakes the engine: the caller (the door, the engine) knows whom to tell.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import to_iso
from core.jobs import Job, JobState, RunOutcome
from core.ledger.sqlite import NewJob
from core.ledger.store import LedgerStore
from core.queue.transport import JobQueue


class Handoff:
    """The one place a job becomes queued in the ledger and is handed to the queue (Huey),
    so "the ledger is the truth, Huey the transport" holds by structure."""

    def __init__(self, ledger: LedgerStore, queue: JobQueue) -> None:
        self.ledger = ledger
        self.queue = queue

    def create(self, new_job: NewJob, reason: str) -> Job:
        """Record a new job; one that waits for approval stays out of the queue until approved."""
        job = self.ledger.create(new_job, reason)
        if job.state is JobState.QUEUED:
            self.submit(job)
        return job

    def requeue(
        self,
        job_id: int,
        reason: str,
        run_after: datetime | None = None,
        *,
        refund_attempt: bool = False,
        outcome: RunOutcome | None = None,
        hold: bool = False,
    ) -> Job:
        """A run's job back to ``queued``; with ``hold`` it stays out of Huey (a watch, or
        the next engine's recovery, hands it over later)."""
        job = self.ledger.requeue(
            job_id,
            reason,
            to_iso(run_after) if run_after is not None else None,
            refund_attempt=refund_attempt,
            outcome=outcome,
        )
        if not hold:
            # The caller's datetime, not the ledger's millisecond text, so the delay is exact.
            self.queue.submit(job.id, job.priority, run_after)
        return job

    def approve(self, job_id: int, reason: str) -> bool:
        """awaiting_approval -> queued and into Huey; False when it was not awaiting approval."""
        if not self.ledger.approve(job_id, reason):
            return False
        job = self.ledger.get(job_id)
        if job is not None:
            self.submit(job)
        return True

    def defer(self, job_id: int, until: datetime, reason: str) -> bool:
        """A queued job waits in Huey's schedule until ``until``; False when it is not queued."""
        if not self.ledger.defer(job_id, to_iso(until), reason):
            return False
        job = self.ledger.get(job_id)
        if job is not None:
            self.queue.submit(job.id, job.priority, until)
        return True

    def offer_again(self, job: Job, until: datetime) -> None:
        """Hand Huey a queued job again for ``until`` with no ledger write (its history already
        says why it waits)."""
        self.queue.submit(job.id, job.priority, until)

    def submit(self, job: Job) -> None:
        """Hand Huey a job the ledger already has queued, its delay (``run_after``) kept."""
        self.queue.submit(job.id, job.priority, job.eta)

    def resubmit_all_queued(self) -> int:
        """After a queue reset: every queued job of the ledger into Huey, delays kept."""
        jobs = self.ledger.queued()
        for job in jobs:
            self.submit(job)
        return len(jobs)
