"""What a run's outcome does to its job: finished, retried later, put back, or waiting out a
limit or a budget. Apart from the engine's life cycle, so the rules for a job after its run
read in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from core.claude.limits import LimitHit
from core.claude.runner import RunControl
from core.clock import to_iso
from core.config.settings import ConfigError, Settings
from core.engine.budget import queue_budget, workflow_budget
from core.jobs import Job, JobState, RunOutcome
from core.ledger.store import LedgerStore
from core.ops.control import Control
from core.queue.transport import JobQueue

log = logging.getLogger(__name__)

Publish = Callable[[Job, str], None]


class Outcomes:
    """Writes each run's outcome to the ledger and queues what runs again."""

    def __init__(
        self,
        settings: Settings,
        ledger: LedgerStore,
        queue: JobQueue,
        control: Control,
        publish: Publish,
        paused: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.queue = queue
        self.control = control
        self._publish = publish
        self._paused = paused

    def record(self, job: Job, outcome: RunOutcome, run_control: RunControl) -> None:
        if run_control.lease_lost:
            # Another engine took the job back while this one could not renew: the row is
            # theirs now; this run's result must not overwrite it.
            log.warning(
                "job #%s: run stopped after losing its lease; left to the engine that took it", job.id
            )
            return
        if outcome.state is JobState.CANCELLED and run_control.superseded:
            # Back to queued, out of Huey's queue: the watch queues it again once the burst settles.
            updated = self.ledger.requeue(job.id, run_control.reason, None, refund_attempt=True)
            self._publish(updated, run_control.reason)
        elif outcome.state is JobState.CANCELLED and run_control.interrupted:
            updated = self.ledger.requeue(
                job.id, "interrupted by engine stop; will run again", None, refund_attempt=True
            )
            self._publish(updated, "interrupted by engine stop")
        elif outcome.limit is not None:
            self._hit_limit(job, outcome, outcome.limit)
        elif outcome.state is JobState.FAILED and outcome.retryable and job.attempts < job.max_attempts:
            delay = retry_delay(self.settings, job)
            run_after = self.ledger.clock.now() + timedelta(seconds=delay)
            updated = self.ledger.requeue(
                job.id,
                f"attempt {job.attempts} failed: {outcome.error}; retry in {delay:g}s",
                to_iso(run_after),
                outcome=outcome,
            )
            self.queue.submit(job.id, job.priority, run_after)
            self._publish(updated, f"retry in {delay:g}s")
        else:
            updated = self.ledger.finish(job.id, outcome)
            self._publish(updated, outcome.error or str(outcome.state))
        self.check_queue_budget()

    def _hit_limit(self, job: Job, outcome: RunOutcome, limit: LimitHit) -> None:
        """Not the job's fault: it waits in the queue (no attempt spent) and the queue pauses."""
        until = to_iso(limit.until)
        local = self.ledger.clock.local(limit.until)
        reason = f"{limit.kind} until {local:%H:%M}" + ("" if limit.reset_known else " (reset time unknown)")
        updated = self.ledger.requeue(
            job.id, f"{reason}: {outcome.error}; will run again", None, refund_attempt=True, outcome=outcome
        )
        self.queue.submit(job.id, job.priority)
        self.control.pause(reason, until=until)
        self._publish(updated, reason)

    def check_queue_budget(self) -> None:
        budget = queue_budget(self.ledger, self.settings)
        if budget is not None and budget.reached and not self._paused():
            self.control.pause(budget.reason(), until=to_iso(self.ledger.clock.next_midnight()))

    def over_workflow_budget(self, job_id: int) -> bool:
        """A job of a workflow past its own daily budget waits for tomorrow."""
        job = self.ledger.get(job_id)
        if job is None or job.state is not JobState.QUEUED:
            return False
        budget = workflow_budget(self.ledger, self.settings, job.workflow)
        if budget is None or not budget.reached:
            return False
        tomorrow = self.ledger.clock.next_midnight()
        if self.ledger.defer(job_id, to_iso(tomorrow), f"waits for tomorrow: {budget.reason(job.workflow)}"):
            self.queue.submit(job_id, job.priority, tomorrow)
        return True

    def requeue_untouched(self, job_id: int) -> None:
        job = self.ledger.get(job_id)
        if job is not None and job.state is JobState.QUEUED:
            self.queue.submit(job.id, job.priority, job.eta)


def retry_delay(settings: Settings, job: Job) -> float:
    try:
        base = settings.workflow(job.workflow).retry_delay_seconds
    except ConfigError:
        base = 10.0
    return float(base * (2 ** max(0, job.attempts - 1)))
