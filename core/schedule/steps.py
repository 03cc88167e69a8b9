"""Workflow steps: after a job of a workflow with ``steps`` succeeds, its next step is queued.

Each step is a follow-up job that continues the same Claude session (``--resume``), with
``{previous}`` filled with the answer of the step before, as the seed chained Huey tasks.
Which step a job is lives in the ledger's ``engine_state``, so a chain survives restarts;
a chain whose next step was not queued when the engine died is picked up at start.
"""

from __future__ import annotations

import logging

from core.config.prompts import base_values, render_prompt
from core.engine.service import ServiceContext
from core.errors import ConfigError, InputError
from core.events import Event, JobChanged, ServiceFailed
from core.jobs import Job, JobSource, JobState

log = logging.getLogger(__name__)

STEP_FLAG_PREFIX = "step:"
RECOVERY_SCAN = 200
"""How many recent jobs are checked at start for a chain left without its next step."""


class StepsService:
    """Queues the next step of a multi-step workflow when a step succeeds."""

    name = "steps"

    def __init__(self) -> None:
        self._context: ServiceContext | None = None
        self._unsubscribe: object = None

    def start(self, context: ServiceContext) -> None:
        self._context = context
        self._recover()
        self._unsubscribe = context.bus.subscribe(self._on_event)

    def stop(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()

    @property
    def _given(self) -> ServiceContext:
        """What the engine gave at start; steps are queued only between start and stop."""
        if self._context is None:
            raise RuntimeError("the steps service is not started")
        return self._context

    def step_of(self, job: Job) -> int:
        """How many of the workflow's ``steps`` ran before this job (0: it is the first prompt)."""
        stored = self._given.ledger.get_flag(f"{STEP_FLAG_PREFIX}{job.id}")
        return int(stored) if stored and stored.isdigit() else 0

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobChanged) and event.job.state is JobState.SUCCEEDED:
            self._advance(event.job)

    def _advance(self, job: Job) -> Job | None:
        given = self._given
        control, ledger = given.control, given.ledger
        try:
            steps = given.settings.workflow(job.workflow).steps
        except ConfigError:
            return None
        done = self.step_of(job)
        if done >= len(steps):
            return None
        prompt = render_prompt(
            steps[done], {**base_values("", given.clock.local()), "previous": job.answer or ""}
        )
        try:
            source = JobSource(job.source)
        except ValueError:
            source = JobSource.CLI
        try:
            following = control.followup(job.id, prompt, source=source)
        except InputError as error:
            reason = f"job #{job.id}: step {done + 1} of {len(steps)} not queued: {error}"
            log.warning("%s", reason)
            given.bus.publish(ServiceFailed(name=self.name, reason=reason))
            return None
        ledger.set_flag(f"{STEP_FLAG_PREFIX}{following.id}", str(done + 1))
        ledger.set_flag(f"{STEP_FLAG_PREFIX}{job.id}", None)  # its child now says where the chain is
        ledger.note(job.id, f"step {done + 1} of {len(steps)} queued as #{following.id}")
        return following

    def _recover(self) -> None:
        """Queue the next step of chains the last engine left between two steps."""
        settings = self._given.settings
        chained = {name for name in settings.workflow_names() if settings.workflow(name).steps}
        if not chained:
            return
        recent = self._given.ledger.list_jobs(limit=RECOVERY_SCAN)
        parents = {job.parent_id for job in recent if job.parent_id is not None}
        for job in reversed(recent):
            if job.state is JobState.SUCCEEDED and job.workflow in chained and job.id not in parents:
                self._advance(job)
