"""The header line: engine state (with the pause reason) and job counts."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from core.control import PauseState
from core.jobs import JobState


class StatusLine(Static):
    """Shows whether the queue runs, why it is paused, and how many jobs are where."""

    paused: reactive[bool] = reactive(False)

    def show(self, engine: str, pause: PauseState, counts: dict[JobState, int]) -> None:
        self.paused = pause.paused
        state = f"⏸ {pause.describe()}" if pause.paused else "▶ running"
        parts = [
            f"flowtui · {engine}",
            state,
            f"{counts.get(JobState.QUEUED, 0)} queued",
            f"{counts.get(JobState.RUNNING, 0)} running",
            f"{counts.get(JobState.FAILED, 0)} failed",
        ]
        self.update("  ·  ".join(parts))

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")
