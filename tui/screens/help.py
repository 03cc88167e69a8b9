"""Every key, in one place (its rows come from the table of actions in tui/actions.py)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.actions import help_rows


class HelpScreen(ModalScreen[None]):
    """Every key the dashboard answers, one row each; a meaning wraps, the list scrolls."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label("flowtui keys", classes="title")
            for key, meaning in help_rows():
                with Horizontal(classes="key-row"):
                    yield Static(Text(key), classes="key")
                    yield Static(Text(meaning), classes="meaning")
            yield Label("↑ ↓ pgup pgdn scroll · esc closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
