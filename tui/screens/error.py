"""When the shared state cannot be opened at all, or something in the window failed: the
reason, shown literally (it quotes whatever text was being drawn), and a way out."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from core.display import clip, printable

REASON_LIMIT = 2_000


class ErrorScreen(Screen[None]):
    """Why the window cannot start, in one line, and what to do about it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "app.quit", "Quit")]

    TITLE_TEXT = "flowtui cannot start"

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__()
        self.reason = reason
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-screen"):
            yield Label(self.TITLE_TEXT, classes="title")
            yield Static(Text(clip(self.reason, REASON_LIMIT)), classes="error")
            yield Static(Text(printable(self.hint)), classes="hint")
        yield Footer()


class FailureScreen(ErrorScreen):
    """An unhandled error in the window, which lives on with the engine's jobs running:
    what failed, and back to the queue (or quit)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Back to the queue"),
        Binding("q", "app.quit", "Quit"),
    ]
    TITLE_TEXT = "Something in the window failed"

    def action_close(self) -> None:
        self.dismiss(None)
