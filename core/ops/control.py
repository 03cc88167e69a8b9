"""Operations on the shared state, the same from the CLI, the TUI and the engine itself.

Each operation commits to the ledger first, then tells the engine (directly when it is
in this process, through its named pipe when it is another one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from enum import Enum
from pathlib import Path

from core.clock import parse_time
from core.config.prompts import base_values, render_prompt
from core.config.settings import ConfigError, Settings
from core.jobs import Job, JobSource, JobState
from core.ledger.sqlite import LedgerError, NewJob
from core.ledger.store import LedgerStore
from core.queue.transport import JobQueue

PAUSED_FLAG = "paused"
PAUSED_UNTIL_FLAG = "paused_until"


class Change(Enum):
    """What an operation changed, so an engine in this process re-reads only that."""

    JOBS = "jobs"
    PAUSE = "pause"
    CANCEL = "cancel"


EngineNotifier = Callable[[Change], object]


class InputError(Exception):
    """A bad id or argument, phrased as the one line the user sees."""


@dataclass(frozen=True)
class PauseState:
    paused: bool
    reason: str | None
    until: str | None = None
    """When the engine resumes by itself (a limit's reset, the budget's new day), UTC ISO."""

    zone: tzinfo = UTC
    """The zone ``until`` is told in (the ledger clock's)."""

    def describe(self) -> str:
        if not self.paused:
            return "running"
        if self.until:
            local = parse_time(self.until).astimezone(self.zone)
            return f"paused: {self.reason} (resumes by itself at {local:%H:%M})"
        return f"paused: {self.reason}"


class Control:
    def __init__(
        self,
        settings: Settings,
        ledger: LedgerStore,
        queue: JobQueue,
        notify_engine: EngineNotifier,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.queue = queue
        self._notify_engine = notify_engine

    def add(
        self,
        prompt: str,
        workflow: str = "default",
        cwd: str | Path | None = None,
        priority: int | None = None,
        source: JobSource = JobSource.CLI,
        parent_id: int | None = None,
        trigger: str | None = None,
        template_values: Mapping[str, str] | None = None,
    ) -> Job:
        """Record and queue a job; the workflow's prompt template gets ``{prompt}`` and the
        trigger's ``template_values``. Jobs of workflows that need approval wait for it."""
        try:
            workflow_settings = self.settings.workflow(workflow)
        except ConfigError as error:
            raise InputError(str(error)) from None
        values = {**base_values(prompt, self.ledger.clock.local()), **(template_values or {})}
        final_prompt = render_prompt(workflow_settings.prompt, values)
        if not final_prompt.strip():
            raise InputError("the prompt is empty: give the text Claude should work on")
        directory = Path(cwd or workflow_settings.cwd or Path.cwd()).expanduser()
        if not directory.is_dir():
            raise InputError(f"working directory {directory} does not exist: create it or pass another --cwd")
        job = self.ledger.create(
            NewJob(
                prompt=final_prompt,
                workflow=workflow,
                source=str(source),
                cwd=str(directory.resolve()),
                max_attempts=workflow_settings.max_attempts,
                priority=workflow_settings.priority if priority is None else priority,
                parent_id=parent_id,
                trigger=trigger,
                awaiting_approval=workflow_settings.approval,
            ),
            reason=f"added by {source}" + (" (waits for approval)" if workflow_settings.approval else ""),
        )
        if job.state is JobState.QUEUED:
            self.queue.submit(job.id, job.priority)
        self._notify_engine(Change.JOBS)
        return job

    def followup(self, job_id: int, prompt: str, source: JobSource = JobSource.CLI) -> Job:
        """A new job that continues job ``job_id``'s Claude session in the same directory."""
        parent = self.get(job_id)
        if not parent.session_id:
            raise InputError(
                f"job #{job_id} has no Claude session to continue (it never started one): "
                "use `flowtui retry` or add a new job"
            )
        if not prompt.strip():
            raise InputError("the follow-up prompt is empty: say what Claude should do next")
        if not Path(parent.cwd).is_dir():
            raise InputError(f"job #{job_id}'s working directory {parent.cwd} is gone: recreate it")
        try:
            workflow_settings = self.settings.workflow(parent.workflow)
        except ConfigError as error:
            raise InputError(str(error)) from None
        job = self.ledger.create(
            NewJob(
                prompt=prompt,
                workflow=parent.workflow,
                source=str(source),
                cwd=parent.cwd,
                max_attempts=workflow_settings.max_attempts,
                priority=parent.priority,
                parent_id=parent.id,
                trigger=f"follow-up of #{parent.id}",
                resume_session_id=parent.session_id,
            ),
            reason=f"follow-up of #{parent.id} (session {parent.session_id})",
        )
        self.queue.submit(job.id, job.priority)
        self._notify_engine(Change.JOBS)
        return job

    def approve(self, job_id: int, by: str = "the user") -> Job:
        job = self.get(job_id)
        if not self.ledger.approve(job_id, f"approved by {by}"):
            raise InputError(f"job #{job_id} is {job.state}: only a job awaiting approval can be approved")
        self.queue.submit(job_id, job.priority)
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def deny(self, job_id: int, by: str = "the user") -> Job:
        job = self.get(job_id)
        if job.state is not JobState.AWAITING_APPROVAL or not self.ledger.cancel_queued(
            job_id, f"denied by {by}"
        ):
            raise InputError(f"job #{job_id} is {job.state}: only a job awaiting approval can be denied")
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def get(self, job_id: int) -> Job:
        try:
            return self.ledger.require(job_id)
        except LedgerError as error:
            raise InputError(str(error)) from None

    def retry(self, job_id: int) -> Job:
        """Queue a finished job again as a new job (source ``retry``) linked to it."""
        original = self.get(job_id)
        if not original.state.is_final:
            raise InputError(
                f"job #{job_id} is {original.state}: only a finished job can be retried (cancel it first)"
            )
        cwd = original.cwd if Path(original.cwd).is_dir() else None
        if cwd is None:
            raise InputError(f"job #{job_id}'s working directory {original.cwd} is gone: recreate it")
        return self._add_verbatim(original, JobSource.RETRY, cwd)

    def _add_verbatim(self, original: Job, source: JobSource, cwd: str) -> Job:
        """A new job with exactly the original's final prompt (no template applied again)."""
        try:
            workflow_settings = self.settings.workflow(original.workflow)
        except ConfigError as error:
            raise InputError(str(error)) from None
        job = self.ledger.create(
            NewJob(
                prompt=original.prompt,
                workflow=original.workflow,
                source=str(source),
                cwd=cwd,
                max_attempts=workflow_settings.max_attempts,
                priority=original.priority,
                parent_id=original.id,
                trigger=f"retry of #{original.id}",
            ),
            reason=f"retry of #{original.id}",
        )
        self.queue.submit(job.id, job.priority)
        self._notify_engine(Change.JOBS)
        return job

    def cancel(self, job_id: int, reason: str = "cancelled by the user") -> JobState:
        """Cancel a queued job at once, or ask the engine to end a running one.

        Returns the state the job is in afterwards (``running`` while it is being ended).
        """
        job = self.get(job_id)
        waiting = (JobState.QUEUED, JobState.AWAITING_APPROVAL)
        if job.state in waiting and self.ledger.cancel_queued(job_id, reason):
            self._notify_engine(Change.JOBS)
            return JobState.CANCELLED
        if job.state in (JobState.QUEUED, JobState.RUNNING) and self.ledger.request_cancel(job_id, reason):
            self._notify_engine(Change.CANCEL)
            return JobState.RUNNING
        latest = self.get(job_id)
        if latest.state.is_final:
            raise InputError(f"job #{job_id} already {latest.state}: nothing to cancel")
        raise InputError(f"job #{job_id} changed state while cancelling: try again")

    def pause(self, reason: str = "by hand", until: str | None = None) -> None:
        """Stop taking jobs; with ``until`` (UTC ISO) the engine resumes by itself then."""
        self.ledger.set_flag(PAUSED_UNTIL_FLAG, until)
        self.ledger.set_flag(PAUSED_FLAG, reason)
        self._notify_engine(Change.PAUSE)

    def resume(self) -> None:
        self.ledger.set_flag(PAUSED_FLAG, None)
        self.ledger.set_flag(PAUSED_UNTIL_FLAG, None)
        self._notify_engine(Change.PAUSE)

    def pause_state(self) -> PauseState:
        reason = self.ledger.get_flag(PAUSED_FLAG)
        until = self.ledger.get_flag(PAUSED_UNTIL_FLAG) if reason is not None else None
        return PauseState(paused=reason is not None, reason=reason, until=until, zone=self.ledger.clock.zone)

    def resubmit_all_queued(self) -> int:
        """Put every queued job of the ledger into the (empty) queue, delays kept."""
        jobs = self.ledger.queued()
        for job in jobs:
            self.queue.submit(job.id, job.priority, job.eta)
        return len(jobs)

    def release(self, job: Job) -> None:
        """Hand Huey a job the ledger has queued but Huey does not (a watch held it back)."""
        self.queue.submit(job.id, job.priority, job.eta)
        self._notify_engine(Change.JOBS)

    def merge_into_queued(self, job_id: int, prompt: str, trigger: str | None, reason: str) -> Job | None:
        """Give a still-waiting job a new prompt (a watch's later changes join it); None when
        a worker took it first, so the caller treats it as running."""
        job = self.ledger.rewrite_waiting(job_id, prompt, trigger, reason)
        if job is not None:
            self._notify_engine(Change.JOBS)
        return job
