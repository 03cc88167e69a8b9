"""What a settled burst of changes does: a new job, joining a waiting one, or waiting itself.

One :class:`Dispatcher` per watch keeps the watch's latest job. While that job waits in
the queue, new changes are merged into its prompt (no twin is queued). While it runs,
the watch's busy policy decides: ``queue`` holds the changes for one more run after it,
``skip`` drops them, ``restart`` cancels the run and holds its changes together with
the new ones for the next run.

With ``eager`` (the default), a burst's first change on an idle watch queues its job at
once, so Claude starts without waiting for the settle time. When more of the same burst
arrives before Claude answers, that run is superseded: the engine ends it and puts the job
back in the ledger's queue (no attempt spent) but not in Huey's, the later changes join
it, and it is released to Huey when the burst settles. A burst is still one job with every
path; a save is still answered at once. The dispatcher's methods are called one at a time
(the watcher serialises them) from a worker thread, since they write to the ledger.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from core.clock import SYSTEM_CLOCK
from core.config.settings import WatchSettings
from core.engine.service import Supersede
from core.errors import ConfigError, InputError
from core.events import EventBus, JobChanged
from core.jobs import Job, JobSource, JobState
from core.ops.control import Control
from core.watch.prompt import final_prompt, inner_prompt, template_values, trigger_text
from core.watch.snapshot import ADDED, DELETED, MODIFIED

log = logging.getLogger(__name__)

WAITING_STATES = (JobState.QUEUED, JobState.AWAITING_APPROVAL)
SUPERSEDED_REASON = "started again with the rest of its burst of changes"


def merge_kind(first: str, second: str) -> str | None:
    """One path's change after two in a row (None: it came and went)."""
    if first == ADDED:
        return None if second == DELETED else ADDED
    if first == DELETED:
        return DELETED if second == DELETED else MODIFIED
    return DELETED if second == DELETED else MODIFIED


def merge_changes(older: Mapping[str, str], newer: Mapping[str, str]) -> dict[str, str]:
    """Two change sets as one, first-seen order kept."""
    merged = dict(older)
    for rel, kind in newer.items():
        if rel in merged:
            combined = merge_kind(merged[rel], kind)
            if combined is None:
                del merged[rel]
            else:
                merged[rel] = combined
        else:
            merged[rel] = kind
    return merged


class Dispatcher:
    """Turns one watch's settled changes into jobs according to its busy policy."""

    def __init__(
        self,
        watch: WatchSettings,
        watch_path: str,
        directory: Path,
        control: Control,
        bus: EventBus,
        now: Callable[[], datetime] | None = None,
        supersede: Supersede | None = None,
    ) -> None:
        self.watch = watch
        self.watch_path = watch_path
        self.directory = directory
        self._control = control
        self._bus = bus
        self._now = now or SYSTEM_CLOCK.local
        self.job_id: int | None = None
        self._job_changes: dict[str, str] = {}
        self._held: dict[str, str] = {}
        self._restart_requested = False
        self._supersede = supersede
        self._early_job: int | None = None
        """The job the current burst queued on its first change, until the burst settles."""
        self._parked = False
        """Its run was superseded: the ledger has it queued, Huey will once the burst settles."""
        self.problem: str | None = None
        """Why the last job could not be queued or joined (an unknown workflow, a missing cwd)."""

    @property
    def held_paths(self) -> set[str]:
        """Changes waiting for the running job to end (not in any job yet)."""
        return set(self._held)

    def idle(self) -> bool:
        """Nothing of this watch waits, runs or is held: new changes may start a job at once
        (also within a burst whose early job has already ended: it cannot be one job now)."""
        if self._held:
            return False
        job = self._current_job()
        return job is None or job.state.is_final

    def start_early(self, changes: Mapping[str, str]) -> Job | None:
        """A burst's first changes on an idle watch: its job is queued now, not once it settles."""
        job = self._create(changes)
        if job is not None:
            self._early_job, self._parked = job.id, False
        return job

    def hold_back(self) -> None:
        """More of the burst arrived: supersede the early job's run unless Claude answers already."""
        if self._early_job is None or self._parked or self._supersede is None:
            return
        job = self._current_job()
        if job is None or job.id != self._early_job or job.state is not JobState.RUNNING:
            return
        if self._supersede(job.id, SUPERSEDED_REASON):
            self._parked = True

    def burst_settled(self) -> Job | None:
        """The burst is over: a superseded early job goes to Huey with all it gathered."""
        early, parked = self._early_job, self._parked
        self._early_job, self._parked = None, False
        job = self._current_job() if parked else None
        if job is None or job.id != early or job.state not in WAITING_STATES:
            return None
        self._control.release(job)
        return job

    def settled(self, changes: Mapping[str, str]) -> Job | None:
        """A burst settled: join the waiting job, apply the busy policy, or queue a job.

        Returns the job the changes went into, if any.
        """
        if not changes:
            return None
        self.hold_back()  # the early job may have been claimed after the last hold-back
        job = self._current_job()
        if job is not None and job.state in WAITING_STATES:
            joined = self._join(job, changes)
            if joined is not None:
                return joined
            job = self._current_job()  # a worker claimed it meanwhile
        if job is not None and job.state is JobState.RUNNING:
            return self._while_running(job, changes)
        return self._create(merge_changes(self._held, changes))

    def job_changed(self, job: Job) -> Job | None:
        """The watch's job changed state: held changes go into the next run."""
        if job.id != self.job_id or not self._held:
            return None
        if job.state in WAITING_STATES and not self._restart_requested:
            held, self._held = self._held, {}
            joined = self._join(job, held)
            if joined is not None:
                return joined
            self._held = merge_changes(held, self._held)
            return None
        if job.state.is_final:
            return self._create(self._held)
        return None

    def _current_job(self) -> Job | None:
        if self.job_id is None:
            return None
        return self._control.ledger.get(self.job_id)

    def _while_running(self, job: Job, changes: Mapping[str, str]) -> Job | None:
        policy = self.watch.busy
        if policy == "skip":
            log.info("watch %s: %d change(s) skipped: job #%s runs", self.watch_path, len(changes), job.id)
            return None
        self._held = merge_changes(self._held, changes)
        if policy == "restart" and not self._restart_requested:
            self._held = merge_changes(self._job_changes, self._held)
            self._restart_requested = True
            # If it ended by itself meanwhile, its end hands the changes on all the same.
            with contextlib.suppress(InputError):
                self._control.cancel(job.id, f"restarted: {trigger_text(changes)} changed")
        return None

    def _join(self, job: Job, changes: Mapping[str, str]) -> Job | None:
        merged = merge_changes(self._job_changes, changes)
        if not merged:
            merged = dict(changes)  # everything came and went: say so rather than an empty list
        try:
            workflow = self._control.settings.workflow(job.workflow)
        except ConfigError as error:
            self.problem = str(error)
            return None
        values = template_values(self.watch_path, self.directory, merged, self._now())
        updated = self._control.merge_into_queued(
            job.id,
            final_prompt(workflow, values),
            trigger_text(merged),
            f"changes joined while waiting: {trigger_text(changes)}",
        )
        if updated is None:
            return None
        self._job_changes = merged
        self.problem = None
        self._bus.publish(JobChanged(job=updated, reason=f"changes joined: {trigger_text(changes)}"))
        return updated

    def _create(self, changes: Mapping[str, str]) -> Job | None:
        self._held = {}
        self._restart_requested = False
        if not changes:
            return None
        try:
            workflow = self._control.settings.workflow(self.watch.workflow)
        except ConfigError as error:
            self.problem = str(error)
            return None
        values = template_values(self.watch_path, self.directory, changes, self._now())
        cwd = workflow.cwd or str(_nearest_existing(self.directory))
        try:
            job = self._control.add(
                inner_prompt(workflow, values),
                workflow=self.watch.workflow,
                cwd=cwd,
                source=JobSource.WATCH,
                trigger=trigger_text(changes),
                template_values=values,
            )
        except InputError as error:
            self.problem = str(error)
            return None
        self.job_id = job.id
        self._job_changes = dict(changes)
        self.problem = None
        return job


def _nearest_existing(directory: Path) -> Path:
    """The watched directory, or its nearest existing parent once it was deleted."""
    for candidate in (directory, *directory.parents):
        if candidate.is_dir():
            return candidate
    return directory


__all__ = ["ADDED", "DELETED", "MODIFIED", "Dispatcher", "merge_changes", "merge_kind"]
