"""What the Jobs pane says when it has no row to show: how to start, or why the filter left nothing."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

START_KEYS = (
    ("n", "queue a prompt for Claude"),
    ("a", "watch a folder: a change there becomes a job"),
    ("?", "every key · ctrl+p every action"),
)
TELEGRAM_HINT = (
    "Telegram: add a [telegram] section to config.toml (bot token, api id and hash, allowed users; "
    "see the README), then run `flowtui telegram check`"
)
NO_MATCH = "no jobs match · esc clears"


def start_hint(telegram_configured: bool) -> Text:
    """The first window's words: the keys that make the first job, and how Telegram joins."""
    hint = Text("No jobs yet. To start:\n", style="bold")
    for key, meaning in START_KEYS:
        hint.append(f"  {key:<3}", style="bold")
        hint.append(f"{meaning}\n", style="not bold")
    if not telegram_configured:
        hint.append(TELEGRAM_HINT, style="not bold")
    return hint


def no_match_hint(problem: str | None) -> Text:
    """An empty filtered table: why, and how to get the jobs back."""
    if problem is None:
        return Text(NO_MATCH)
    return Text(f"{problem} · esc clears")


class JobsHint(Static):
    """Drawn over the empty Jobs pane; hidden while it has rows."""

    def show_hint(self, hint: Text | None) -> None:
        self.set_class(hint is not None, "-shown")
        if hint is not None:
            self.update(hint)
