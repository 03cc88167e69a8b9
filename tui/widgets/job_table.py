"""The queue pane: one row per job, newest first, keyed by job id."""

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
    _ticking: tuple[Job, ...] = ()
    """The unfinished jobs last shown, whose Time cells tick between reads."""

    @staticmethod
    def sort_key(cell: Any) -> Any:
        return int(str(getattr(cell, "plain", cell)))

    @property
    def selected_job_id(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None else None

    def show_jobs(self, jobs: list[Job], now: datetime) -> None:
        self.set_rows([(str(job.id), self._cells(job, now)) for job in jobs])
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
        state = Text(f"{STATE_SYMBOLS[job.state]} {job.state}", style=self._state_style(job.state))
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

    def _state_style(self, state: JobState) -> str:
        style = STATE_STYLES[state]
        for name, value in self.app.theme_variables.items():
            style = style.replace(f"${name}", value)
        return style
