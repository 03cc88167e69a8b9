"""The header line: engine state (with the pause reason), a Claude CLI that cannot start, job
counts (those that need an answer and those awaiting approval too), today's cost, Telegram."""

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
    claude_broken: reactive[bool] = reactive(False)
    config_broken: reactive[bool] = reactive(False)
    line = ""
    """What the line says now."""

    def show(
        self,
        engine: str,
        pause: PauseState,
        counts: dict[JobState, int],
        spent_today: float,
        telegram: str,
        claude_problem: str | None = None,
        config_note: str | None = None,
        needs_you: int = 0,
        usage: str | None = None,
        to_review: int = 0,
    ) -> None:
        """``needs_you``: running jobs waiting for an answer to a tool question; ``usage``: the
        subscription window nearest its limit (``5h 93% · resets 17:00``); ``to_review``:
        worktrees of finished jobs waiting to be kept or discarded."""
        self.paused = pause.paused
        self.unreachable = False
        self.claude_broken = claude_problem is not None
        self.config_broken = config_note is not None and config_note.startswith("config error")
        state = f"⏸ {pause.describe()}" if pause.paused else "▶ running"
        parts = [engine, state]
        if claude_problem is not None:  # early: a narrow header still says it
            parts.append(f"⚠ {claude_problem}")
        if config_note is not None:
            parts.append(f"⚠ {config_note}")
        if needs_you:
            parts.append(f"{needs_you} {'needs' if needs_you == 1 else 'need'} you (y / N / A)")
        if to_review:
            parts.append(f"± {to_review} to review (D / K / X)")
        awaiting = counts.get(JobState.AWAITING_APPROVAL, 0)
        if awaiting:
            parts.append(f"{awaiting} awaiting approval (y / N)")
        parts += [
            f"{counts.get(JobState.QUEUED, 0)} queued",
            f"{counts.get(JobState.RUNNING, 0)} running",
            f"{counts.get(JobState.FAILED, 0)} failed",
            f"${spent_today:.2f} today",
            *([usage] if usage else []),
            telegram,
        ]
        # Pause reasons, Telegram errors and hostnames are outside text: drawn literally.
        self._say(one_line(" · ".join(parts), STATUS_LIMIT))

    def show_unreachable(self, engine: str, reason: str) -> None:
        """The last read failed or is stuck: the panes below hold the last state read."""
        self.unreachable = True
        line = f"{engine} · ⚠ shared state unreachable: {reason} · showing the last state read"
        self._say(one_line(line, STATUS_LIMIT))

    def _say(self, line: str) -> None:
        """Draw ``line`` if it is new; the line is one row whatever it says, so no layout."""
        if line != self.line:
            self.line = line
            self.update(Text(line), layout=False)

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")

    def watch_unreachable(self, unreachable: bool) -> None:
        self.set_class(unreachable, "-unreachable")

    def watch_claude_broken(self, broken: bool) -> None:
        self.set_class(broken, "-claude-broken")

    def watch_config_broken(self, broken: bool) -> None:
        self.set_class(broken, "-config-broken")
