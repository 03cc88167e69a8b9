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
    """The dashboard's first line; it says so when the shared state cannot be read."""

    paused: reactive[bool] = reactive(False)
    unreachable: reactive[bool] = reactive(False)

    def show(
        self, engine: str, pause: PauseState, counts: dict[JobState, int], spent_today: float, telegram: str
    ) -> None:
        self.paused = pause.paused
        self.unreachable = False
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

    def show_unreachable(self, engine: str, reason: str) -> None:
        """The last read failed or is stuck: the panes below hold the last state read."""
        self.unreachable = True
        line = f"{engine} · ⚠ shared state unreachable: {reason} · showing the last state read"
        self.update(Text(one_line(line, STATUS_LIMIT)))

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")

    def watch_unreachable(self, unreachable: bool) -> None:
        self.set_class(unreachable, "-unreachable")
