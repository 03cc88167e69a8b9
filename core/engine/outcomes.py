"""What a run's outcome does to its job: finished, retried later, put back, or waiting out a
limit or a budget. Apart from the engine's life cycle, so the rules for a job after its run
read in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from core.claude.limits import LimitHit
from core.claude.runner import RunControl, RunEnd
from core.clock import to_iso
from core.config.live import LiveSettings
from core.config.settings import Settings
from core.engine.budget import queue_budget, workflow_budget
from core.errors import ConfigError
from core.jobs import Job, JobState, RunOutcome
from core.ledger.store import LedgerStore
from core.ops.handoff import Handoff
from core.ops.usage import read_usage, usage_pause

log = logging.getLogger(__name__)

Publish = Callable[[Job, str], None]

ENGINE_STOPPED = "engine stopped"
"""Why a plain engine stop interrupts its runs; any other reason (a hand-off to another
engine) is written to the job's history as it is."""

PINNED_RETRY_SECONDS = 3.0
"""How soon a job taken by an engine on the wrong machine is offered to the queue again."""

PauseSelf = Callable[[str, str | None], None]
"""The engine pausing itself: (reason, until as UTC ISO or None), without a round trip
through the door that would notify the engine of what it just decided."""


class Outcomes:
    """Writes each run's outcome to the ledger and queues what runs again."""

    def __init__(
        self,
        settings: Settings | LiveSettings,
        ledger: LedgerStore,
        handoff: Handoff,
        publish: Publish,
        paused: Callable[[], bool],
        pause_self: PauseSelf,
    ) -> None:
        self._live = settings if isinstance(settings, LiveSettings) else LiveSettings.fixed(settings)
        self.ledger = ledger
        self.handoff = handoff
        self._publish = publish
        self._paused = paused
        self._pause_self = pause_self
        self._held_for_others: set[int] = set()
        """Jobs whose history says already that they wait for the machine with their worktree."""
        self._usage_paused_for: set[tuple[str, datetime]] = set()
        """The readings (window, read at) that paused the queue already."""

    @property
    def settings(self) -> Settings:
        """The config as it is now: a retry delay or a budget edited meanwhile applies."""
        return self._live.current()

    def record(self, job: Job, outcome: RunOutcome, run_control: RunControl) -> None:
        ended = run_control.ended
        if ended is RunEnd.LEASE_LOST:
            # Another engine took the job back while this one could not renew: the row is
            # theirs now; this run's result must not overwrite it.
            log.warning(
                "job #%s: run stopped after losing its lease; left to the engine that took it", job.id
            )
            return
        if outcome.state is JobState.CANCELLED and ended is RunEnd.SUPERSEDED:
            # Back to queued, out of Huey's queue: the watch queues it again once the burst settles.
            updated = self.handoff.requeue(job.id, run_control.reason, refund_attempt=True, hold=True)
            self._publish(updated, run_control.reason)
        elif outcome.state is JobState.CANCELLED and ended is RunEnd.INTERRUPTED:
            # Held out of Huey: the next engine's recovery hands it over.
            handed_on = run_control.reason != ENGINE_STOPPED  # a hand-off names the engine it goes to
            note = run_control.reason if handed_on else "interrupted by engine stop; will run again"
            updated = self.handoff.requeue(job.id, note, refund_attempt=True, hold=True)
            self._publish(updated, run_control.reason if handed_on else "interrupted by engine stop")
        elif outcome.limit is not None:
            self._hit_limit(job, outcome, outcome.limit)
        elif outcome.state is JobState.FAILED and outcome.retryable and job.attempts < job.max_attempts:
            delay = retry_delay(self.settings, job)
            run_after = self.ledger.clock.now() + timedelta(seconds=delay)
            updated = self.handoff.requeue(
                job.id,
                f"attempt {job.attempts} failed: {outcome.error}; retry in {delay:g}s",
                run_after,
                outcome=outcome,
            )
            self._publish(updated, f"retry in {delay:g}s")
        else:
            updated = self.ledger.finish(job.id, outcome)
            self._publish(updated, outcome.error or str(outcome.state))
        self.check_queue_budget()
        self.check_usage()

    def _hit_limit(self, job: Job, outcome: RunOutcome, limit: LimitHit) -> None:
        """Not the job's fault: it waits in the queue (no attempt spent) and the queue pauses."""
        until = to_iso(limit.until)
        local = self.ledger.clock.local(limit.until)
        reason = f"{limit.kind} until {local:%H:%M}" + ("" if limit.reset_known else " (reset time unknown)")
        updated = self.handoff.requeue(
            job.id, f"{reason}: {outcome.error}; will run again", refund_attempt=True, outcome=outcome
        )
        self._pause_self(reason, until)
        self._publish(updated, reason)

    def check_queue_budget(self) -> None:
        budget = queue_budget(self.ledger, self.settings)
        if budget is not None and budget.reached and not self._paused():
            self._pause_self(budget.reason(), to_iso(self.ledger.clock.next_midnight()))

    def check_usage(self) -> None:
        """A subscription window at or above ``[budget] pause_above_utilization`` pauses the
        queue until it resets (the pause then ends by itself); checked as each run ends and
        before each job starts, once per reading."""
        threshold = self.settings.budget.pause_above_utilization
        if threshold is None or self._paused():
            return
        pause = usage_pause(read_usage(self.ledger), threshold, self.ledger.clock.now())
        if pause is None:
            return
        called_by = (pause.reading.window, pause.reading.read_at)
        if called_by in self._usage_paused_for:
            return  # resumed by a person since this reading paused the queue: they decided
        self._usage_paused_for.add(called_by)
        self._pause_self(pause.reason, to_iso(pause.until))

    def over_workflow_budget(self, job_id: int) -> bool:
        """A job of a workflow past its own daily budget waits for tomorrow."""
        job = self.ledger.get(job_id)
        if job is None or job.state is not JobState.QUEUED:
            return False
        budget = workflow_budget(self.ledger, self.settings, job.workflow)
        if budget is None or not budget.reached:
            return False
        tomorrow = self.ledger.clock.next_midnight()
        self.handoff.defer(job_id, tomorrow, f"waits for tomorrow: {budget.reason(job.workflow)}")
        return True

    def held_elsewhere(self, job_id: int, machine: str) -> bool:
        """On a shared queue, a job whose worktree is on another machine's disk runs there only:
        it goes back to the queue for a few seconds (any engine may take it; the one on its
        machine runs it), and its history says what it waits for once per engine."""
        job = self.ledger.get(job_id)
        if job is None or job.state is not JobState.QUEUED or not job.worktree:
            return False
        if job.git_host is None or job.git_host == machine:
            return False
        until = self.ledger.clock.now() + timedelta(seconds=PINNED_RETRY_SECONDS)
        if job_id in self._held_for_others:
            self.handoff.offer_again(job, until)  # said already: no new line
        else:
            self._held_for_others.add(job_id)
            self.handoff.defer(job_id, until, f"waits for machine {job.git_host}, which holds its worktree")
        return True

    def requeue_untouched(self, job_id: int) -> None:
        job = self.ledger.get(job_id)
        if job is not None and job.state is JobState.QUEUED:
            self.handoff.submit(job)


def retry_delay(settings: Settings, job: Job) -> float:
    try:
        base = settings.workflow(job.workflow).retry_delay_seconds
    except ConfigError:
        base = 10.0
    return float(base * (2 ** max(0, job.attempts - 1)))
