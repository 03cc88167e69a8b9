"""Every key, in one place (its rows come from the table of actions in tui/actions.py)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.actions import help_rows


class HelpScreen(ModalScreen[None]):
    """Every key the dashboard answers, one row each."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label("flowtui keys", classes="title")
            for key, meaning in help_rows():
                yield Static(f"[b]{key:>16}[/b]  {meaning}", classes="key-row")

    def action_close(self) -> None:
        self.dismiss(None)
