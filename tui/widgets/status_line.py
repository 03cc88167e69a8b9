"""The header line: engine state (with the pause reason), job counts, today's cost, Telegram."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from core.display import one_line
from core.jobs import JobState
from core.ops.control import PauseState

STATUS_LIMIT = 400


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
        # Pause reasons, Telegram errors and hostnames are outside text: drawn literally.
        self.update(Text(one_line(" · ".join(parts), STATUS_LIMIT)))

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")
