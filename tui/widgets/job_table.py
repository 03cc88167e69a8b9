"""The queue pane: one row per job, keyed by job id, updated in place."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from core.jobs import Job, JobState
from core.render import STATE_SYMBOLS, excerpt, format_cost, job_timing

COLUMNS = ("ID", "State", "Workflow", "Source", "Try", "Time", "Cost", "Prompt")

STATE_STYLES = {
    JobState.AWAITING_APPROVAL: "bold $warning",
    JobState.QUEUED: "dim",
    JobState.RUNNING: "bold $accent",
    JobState.SUCCEEDED: "$success",
    JobState.FAILED: "bold $error",
    JobState.CANCELLED: "$warning",
}


class JobTable(DataTable[object]):
    """Jobs newest first; live updates keep the selected job selected."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column, key=column.lower())

    @property
    def selected_job_id(self) -> int | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def show_jobs(self, jobs: list[Job], now: datetime) -> None:
        selected = self.selected_job_id
        wanted = {str(job.id) for job in jobs}
        for row_key in list(self.rows):
            if row_key.value not in wanted:
                self.remove_row(row_key)
        changed_order = False
        for job in jobs:
            cells = self._cells(job, now)
            key = str(job.id)
            if key in self.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    if self.get_cell(key, column.lower()) != value:
                        self.update_cell(key, column.lower(), value, update_width=True)
            else:
                self.add_row(*cells, key=key)
                changed_order = True
        if changed_order:
            self.sort("id", key=lambda cell: int(str(cell)), reverse=True)
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)))

    def _cells(self, job: Job, now: datetime) -> tuple[object, ...]:
        state = Text(f"{STATE_SYMBOLS[job.state]} {job.state}", style=self._state_style(job.state))
        return (
            Text(str(job.id), justify="right"),
            state,
            excerpt(job.workflow, 14),
            job.source,
            f"{job.attempts}/{job.max_attempts}",
            job_timing(job, now),
            format_cost(job.cost_usd),
            excerpt(job.prompt, 60),
        )

    def _state_style(self, state: JobState) -> str:
        variables = self.app.theme_variables
        style = STATE_STYLES[state]
        for name, value in variables.items():
            style = style.replace(f"${name}", value)
        return style
