"""Retrying or cancelling every job a filter picks, one job at a time through the door.

After a usage-limit night or a network outage dozens of jobs failed together: a filter
(states, workflow, source, age, or the rows a window shows) picks them, and each is retried
or cancelled exactly as one would be by hand, its refusal (if any) said on its own line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from core.clock import parse_time
from core.errors import InputError
from core.jobs import FINAL_STATES, Job, JobState

if TYPE_CHECKING:
    from core.ledger.store import LedgerStore


class BulkVerb(StrEnum):
    RETRY = "retry"
    CANCEL = "cancel"

    @property
    def states(self) -> frozenset[JobState]:
        """The states a job must be in for the verb to act on it."""
        if self is BulkVerb.RETRY:
            return FINAL_STATES
        return frozenset({JobState.AWAITING_APPROVAL, JobState.QUEUED, JobState.RUNNING})

    @property
    def default_states(self) -> frozenset[JobState]:
        """What the verb picks when no state is named: failed jobs are the ones to run again."""
        return frozenset({JobState.FAILED}) if self is BulkVerb.RETRY else self.states


@dataclass(frozen=True)
class JobSelection:
    """Which jobs a bulk verb acts on; every given part must match (an empty filter matches all)."""

    states: frozenset[JobState] = frozenset()
    workflow: str | None = None
    source: str | None = None
    since: datetime | None = None
    """Only jobs created at or after this moment (aware, any zone)."""
    job_ids: frozenset[int] | None = None
    """Only these jobs (the rows a window shows under its `/` filter)."""

    @property
    def empty(self) -> bool:
        return (
            not self.states
            and self.workflow is None
            and self.source is None
            and self.since is None
            and self.job_ids is None
        )

    def matches(self, job: Job) -> bool:
        if self.states and job.state not in self.states:
            return False
        if self.workflow is not None and job.workflow != self.workflow:
            return False
        if self.source is not None and job.source != self.source:
            return False
        if self.since is not None and parse_time(job.created_at) < self.since:
            return False
        return self.job_ids is None or job.id in self.job_ids


@dataclass(frozen=True)
class BulkLine:
    """What became of one job: done (a retry queued, a cancel made or asked for) or refused."""

    job_id: int
    done: bool
    text: str
    new_job: Job | None = None
    """The retry queued for it."""
    state: JobState | None = None
    """The state a cancelled job is in afterwards (``running`` while it is being ended)."""


@dataclass(frozen=True)
class BulkReport:
    """One line per job the filter picked, and the count that was done."""

    verb: BulkVerb
    lines: list[BulkLine] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(line.done for line in self.lines)

    @property
    def new_jobs(self) -> list[Job]:
        return [line.new_job for line in self.lines if line.new_job is not None]

    def summary(self) -> str:
        """``retried 12 jobs``, ``cancelled 3 jobs (1 being ended)``, with the refusals counted."""
        done = self.done
        past = "retried" if self.verb is BulkVerb.RETRY else "cancelled"
        text = f"{past} {done} job{'' if done == 1 else 's'}"
        ending = sum(1 for line in self.lines if line.done and line.state is JobState.RUNNING)
        if ending:
            text += f" ({ending} being ended)"
        refused = len(self.lines) - done
        if refused:
            text += f"; {refused} left as they were"
        return text


def check_selection(verb: BulkVerb, selection: JobSelection) -> JobSelection:
    """The filter the verb applies: refused when empty, its states defaulted and checked."""
    if selection.empty:
        raise InputError(
            f"{verb}: give a job id, or filters (state, workflow, source, since) "
            f"to {verb} every job they match"
        )
    wrong = sorted(str(state) for state in selection.states - verb.states)
    if wrong:
        allowed = ", ".join(sorted(str(state) for state in verb.states))
        raise InputError(f"cannot {verb} {', '.join(wrong)} jobs: {verb} acts on {allowed} jobs")
    if not selection.states:
        return JobSelection(
            states=verb.default_states,
            workflow=selection.workflow,
            source=selection.source,
            since=selection.since,
            job_ids=selection.job_ids,
        )
    return selection


def select_jobs(ledger: LedgerStore, verb: BulkVerb, selection: JobSelection) -> list[Job]:
    """The jobs the verb would act on, oldest first. A retry leaves out a job that was retried
    already, so running the same bulk retry twice queues nothing twice."""
    checked = check_selection(verb, selection)
    picked = [job for job in ledger.list_jobs(states=sorted(checked.states)) if checked.matches(job)]
    if verb is BulkVerb.RETRY and picked:
        retried = {job.parent_id for job in ledger.list_jobs() if job.source == "retry"}
        picked = [job for job in picked if job.id not in retried]
    return sorted(picked, key=lambda job: job.id)


def apply_each(
    verb: BulkVerb,
    jobs: list[Job],
    retry: Callable[[int], Job],
    cancel: Callable[[int], JobState],
) -> BulkReport:
    """Retry or cancel each job through the door's own one-job operations."""
    lines: list[BulkLine] = []
    for job in jobs:
        try:
            if verb is BulkVerb.RETRY:
                new = retry(job.id)
                lines.append(BulkLine(job.id, True, f"queued #{new.id} (retry of #{job.id})", new_job=new))
                continue
            state = cancel(job.id)
        except InputError as refusal:
            lines.append(BulkLine(job.id, False, f"#{job.id} left as it was: {refusal}"))
            continue
        if state is JobState.CANCELLED:
            lines.append(BulkLine(job.id, True, f"cancelled #{job.id}", state=state))
        else:
            text = f"cancelling #{job.id}: the engine is ending its claude process group"
            lines.append(BulkLine(job.id, True, text, state=state))
    return BulkReport(verb, lines)
