"""The header line: engine state (with the pause reason), job counts, today's cost, Telegram."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from core.control import PauseState
from core.jobs import JobState


class StatusLine(Static):
    paused: reactive[bool] = reactive(False)

    def show(
        self, engine: str, pause: PauseState, counts: dict[JobState, int], spent_today: float, telegram: str
    ) -> None:
        self.paused = pause.paused
        state = f"⏸ {pause.describe()}" if pause.paused else "▶ running"
        parts = [
            engine,
            state,
            f"{counts.get(JobState.QUEUED, 0)} queued",
            f"{counts.get(JobState.RUNNING, 0)} running",
            f"{counts.get(JobState.FAILED, 0)} failed",
            f"${spent_today:.2f} today",
            telegram,
        ]
        self.update(" · ".join(parts))

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")
