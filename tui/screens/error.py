"""When the shared state cannot be opened at all: the reason in one line, and a way out."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static


class ErrorScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,escape", "app.quit", "Quit")]

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__()
        self.reason = reason
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-screen"):
            yield Label("flowtui cannot start", classes="title")
            yield Static(self.reason, classes="error", markup=False)
            yield Static(self.hint, classes="hint", markup=False)
        yield Footer()
