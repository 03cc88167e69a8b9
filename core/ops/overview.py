"""Everything a surface shows at a glance, read from the shared state in one place."""

from __future__ import annotations

from dataclasses import dataclass

from core.claude.limits import UsageReading
from core.clock import to_iso
from core.jobs import Job, JobState
from core.ops.control import Control, PauseState

JOB_ROWS = 500


@dataclass(frozen=True)
class Overview:
    """The jobs, counts, pause and today's spend a surface shows at a glance, read together."""

    jobs: list[Job]
    counts: dict[JobState, int]
    pause: PauseState
    spent_today_usd: float
    usage: tuple[UsageReading, ...] = ()
    """The subscription windows' latest readings (the header shows the nearest its limit)."""

    @property
    def to_review(self) -> list[Job]:
        """The jobs read whose worktree waits to be kept or discarded, newest first (a
        follow-up in the same worktree is a row of its own)."""
        return [job for job in self.jobs if job.changes_to_review]

    @property
    def worktrees_to_review(self) -> int:
        """How many worktrees among the jobs read wait to be kept or discarded: a job and its
        follow-ups share one, and one key keeps or discards them together."""
        return len({job.branch or job.id for job in self.to_review})


def read_overview(control: Control, limit: int = JOB_ROWS) -> Overview:
    ledger = control.ledger
    return Overview(
        jobs=ledger.list_jobs(limit=limit),
        counts=ledger.counts(),
        pause=control.pause_state(),
        spent_today_usd=ledger.spent_since(to_iso(ledger.clock.day_start())),
        usage=tuple(control.usage()),
    )
