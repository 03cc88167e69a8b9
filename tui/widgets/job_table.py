"""The queue pane: one row per job, newest first, keyed by job id; jobs that need a person's
answer come first, in a state of their own ("? needs you"); finished jobs whose changes wait
to be kept or discarded say so after their state ("± review")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text

from core.jobs import Job, JobState
from core.summary import STATE_SYMBOLS, excerpt, format_cost, job_timing
from tui.widgets.rows_table import RowsTable, literal

STATE_STYLES = {
    JobState.AWAITING_APPROVAL: "bold $warning",
    JobState.QUEUED: "dim",
    JobState.RUNNING: "bold $accent",
    JobState.SUCCEEDED: "$success",
    JobState.FAILED: "bold $error",
    JobState.CANCELLED: "$warning",
}
NEEDS_YOU = "? needs you"
"""The state cell of a running job waiting for an answer to its tool question."""
NEEDS_YOU_STYLE = "bold $text-warning on $warning-muted"
TO_REVIEW = " ± review"
"""After the state of a finished job whose worktree waits to be kept or discarded (D shows it)."""
TO_REVIEW_STYLE = "bold $text-warning"


def needs_answer(job: Job) -> bool:
    """The job runs and waits for a person to answer its tool question."""
    return job.needs_you


class JobTable(RowsTable):
    """The job queue: one row per job, newest first, updated in place as jobs change."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "ID",
        "State",
        "Workflow",
        "Source",
        "Try",
        "Time",
        "Cost",
        "Runs on",
        "Prompt",
    )
    SORT_REVERSE: ClassVar[bool] = True
    MIN_WIDTHS: ClassVar[dict[str, int]] = {"State": len(NEEDS_YOU)}
    _ticking: tuple[Job, ...] = ()
    """The unfinished jobs last shown, whose Time cells tick between reads."""
    needing: frozenset[int] = frozenset()
    """The jobs shown that wait for an answer: they sort first."""

    def sort_key(self, cell: Any) -> Any:
        job_id = int(str(getattr(cell, "plain", cell)))
        return (job_id in self.needing, job_id)

    @property
    def selected_job_id(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None else None

    def show_jobs(self, jobs: list[Job], now: datetime) -> None:
        needing = frozenset(job.id for job in jobs if needs_answer(job))
        reorder = needing != self.needing
        self.needing = needing
        self.set_rows([(str(job.id), self._cells(job, now)) for job in jobs], reorder=reorder)
        self._ticking = tuple(job for job in jobs if not job.finished_at)

    def tick_durations(self, now: datetime) -> None:
        """Between reads, only the Time cells of unfinished jobs change (running for, queued
        for): redraw those from the jobs last shown, reading nothing."""
        for job in self._ticking:
            key = str(job.id)
            timing = literal(job_timing(job, now))
            if key in self.rows and self.get_cell(key, "time") != timing:
                self.update_cell(key, "time", timing, update_width=True)

    def _cells(self, job: Job, now: datetime) -> tuple[object, ...]:
        if job.id in self.needing:
            state = Text(NEEDS_YOU, style=self._resolve(NEEDS_YOU_STYLE))
        else:
            label = f"{STATE_SYMBOLS[job.state]} {job.state}"
            state = Text(label, style=self._resolve(STATE_STYLES[job.state]))
            if job.changes_to_review:
                state.append(TO_REVIEW, style=self._resolve(TO_REVIEW_STYLE))
        return (
            Text(str(job.id), justify="right"),
            state,
            Text(excerpt(job.workflow, 14)),
            job.source,
            f"{job.attempts}/{job.max_attempts}",
            job_timing(job, now),
            format_cost(job.cost_usd),
            f"{job.owner_host} {job.owner_pid}" if job.owner_host and job.owner_pid else "",
            Text(excerpt(job.prompt, 60)),  # user text: never read as markup
        )

    def _resolve(self, style: str) -> str:
        """A style written with theme variables, in the theme's colours (the longest names
        first: ``$warning-muted`` is not ``$warning`` followed by ``-muted``)."""
        variables = self.app.theme_variables
        for name in sorted(variables, key=len, reverse=True):
            style = style.replace(f"${name}", variables[name])
        return style
