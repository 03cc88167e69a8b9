"""Every key, in one place."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS: list[tuple[str, str]] = [
    ("p", "pause / resume the queue"),
    ("n", "new job"),
    ("r", "retry the selected job"),
    ("c", "cancel the selected job (asks first when it is running)"),
    ("u", "follow up on the selected job's Claude session"),
    ("enter", "the selected job's details: transcript, events, cost, session"),
    ("f", "follow the output again after scrolling up"),
    ("/", "filter jobs: text, state:failed, source:telegram, workflow:NAME"),
    ("esc", "clear the filter / close a dialog"),
    ("a", "add a watch path"),
    ("d", "remove the selected watch (asks first)"),
    ("t", "test a path against the watch rules"),
    ("R", "resend the selected failed notification"),
    ("y / N", "approve / deny the selected job waiting for approval"),
    ("tab / shift+tab", "move between panes"),
    ("j / k, arrows", "move in a list"),
    ("ctrl+p", "command palette (every action, and the theme)"),
    ("?", "this help"),
    ("q", "quit (asks when jobs are running; they run again on the next start)"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label("flowtui keys", classes="title")
            for key, meaning in KEYS:
                yield Static(f"[b]{key:>16}[/b]  {meaning}", classes="key-row")

    def action_close(self) -> None:
        self.dismiss(None)
