"""The search box of an output pane: it finds as you type, enter keeps the search, esc drops it.

A small modal at the bottom of the screen, so it serves the dashboard's output and the details
screen's transcript alike and no key typed into it reaches the screen below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class OutputSearchScreen(ModalScreen[str | None]):
    """Dismissed with the query to keep (enter) or None (esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "drop", "Close search")]

    def __init__(self, find: Callable[[str], str], query: str = "") -> None:
        super().__init__()
        self._find = find
        """Searches the pane for a query; returns what to say ("3 of 7", "no match for 'x'")."""
        self._query = query

    def compose(self) -> ComposeResult:
        with Vertical(id="output-search"):
            yield Input(self._query, placeholder="search the output", id="output-search-input")
            yield Static(self._verdict(self._query), id="output-search-verdict")

    def _verdict(self, query: str) -> Text:
        if not query:
            return Text("type to search · enter keeps it (n / N next / previous) · esc closes")
        return Text(f"{self._find(query)} · enter keeps it · esc closes")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#output-search-verdict", Static).update(self._verdict(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value or None)

    def action_drop(self) -> None:
        self.dismiss(None)
