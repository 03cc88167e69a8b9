"""The quit question: asked by every way to quit while this window's engine runs jobs, so
quitting never ends work the user did not mean to end."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class QuitChoice(Enum):
    """What the user chose to do with the running jobs."""

    BACKGROUND = "background"
    """Hand the engine to a ``flowtui serve`` process; the window exits."""
    STOP = "stop"
    """Stop the jobs (they run again on the next start) and exit."""
    STAY = "stay"


def running_sentence(running: int | None) -> str:
    """How many jobs run, or that nobody can tell (the shared state did not answer)."""
    if running is None:
        return "The shared state cannot be read: jobs may be running."
    return f"{running} job{'s are' if running != 1 else ' is'} running."


class QuitScreen(ModalScreen[QuitChoice]):
    """Three ways out when jobs run: keep them going in the background, stop them, or stay."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "choose('background')", "Background"),
        Binding("s", "choose('stop')", "Stop them"),
        Binding("escape", "choose('stay')", "Stay"),
    ]

    def __init__(self, running: int | None) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        them = "it" if self.running == 1 else "them"
        with Vertical(classes="dialog quit"):
            yield Label(Text(running_sentence(self.running)), classes="title")
            yield Button(f"Keep {them} running in the background (b)", variant="primary", id="background")
            yield Label(
                "A background engine (flowtui serve) takes over and this window closes; the "
                "current runs start again there at once, without counting as an attempt. "
                "Run flowtui again to watch.",
                classes="hint",
            )
            yield Button(f"Stop {them} and quit (s)", variant="error", id="stop")
            again = "it runs" if self.running == 1 else "they run"
            yield Label(f"Interrupted now, {again} again on the next start.", classes="hint")
            yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#background", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(QuitChoice(event.button.id))

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice))
