"""Talking to a running job: the reason a tool question is denied with, and a message told
into the running Claude process. Both keep a refusal in place (the job ended, the question
was answered elsewhere) with what was typed."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, TextArea

from core.display import one_line
from core.jobs import Job
from tui.screens.dialog import Submit, SubmitDialog
from tui.screens.new_job import SUBMIT_KEYS, prompt_editor

DENY_HINT = "enter denies (Claude reads the reason, if any) · esc closes without answering"
TELL_HINT = "ctrl+s sends (or ctrl+enter) · enter: new line · esc closes"


class DenyScreen(SubmitDialog[str, Job]):
    """Deny the selected job's tool question, with an optional reason; closes with the job."""

    def __init__(self, job_id: int, tool: str, summary: str, submit: Submit[str, Job]) -> None:
        super().__init__(submit)
        self.job_id = job_id
        self.tool = tool
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog deny"):
            # Labels read a str as markup: the tool and its input are Claude's text.
            yield Label(Text(f"Deny {one_line(self.tool, 60)} for job #{self.job_id}"), classes="title")
            yield Label(Text(one_line(self.summary, 300)), classes="hint")
            yield Input(placeholder="why not (optional): Claude reads it", id="reason")
            yield Label("", id="error", classes="error")
            yield Label(DENY_HINT, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.send(event.value.strip())  # empty: denied without a reason


class TellScreen(SubmitDialog[str, Job]):
    """A message for the selected running job: Claude reads it at its next turn."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding(SUBMIT_KEYS, "submit", "Send"),
    ]

    def __init__(self, job_id: int, submit: Submit[str, Job]) -> None:
        super().__init__(submit)
        self.job_id = job_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tell"):
            yield Label(f"Tell job #{self.job_id}", classes="title")
            yield Label("Claude reads it at its next turn, in the same run", classes="hint")
            yield prompt_editor("What should Claude hear?")
            yield Label("", id="error", classes="error")
            yield Label(TELL_HINT, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#prompt", TextArea).focus()

    def action_submit(self) -> None:
        message = self.query_one("#prompt", TextArea).text.strip()
        if not message:
            self.show_error("the message is empty: say what Claude should hear")
            return
        self.send(message)
