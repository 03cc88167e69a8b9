"""The new-job and follow-up dialogs: a multi-line prompt (enter adds a line, ctrl+s
submits), and for a new job the workflow and working directory; Esc closes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, TextArea

from core.display import one_line
from core.jobs import Job
from tui.screens.dialog import Submit, SubmitDialog

SUBMIT_KEYS = "ctrl+s,ctrl+enter"
"""ctrl+enter reaches the window only from terminals that report it (kitty's keyboard
protocol: kitty, foot, WezTerm, Ghostty); elsewhere it is enter, so ctrl+s is always there."""

EDITOR_HINT = "ctrl+s queues (or ctrl+enter) · enter: new line · esc closes"
"""Fits the narrowest dialog (80 columns): tab moves on, as everywhere."""


def workflow_options(workflows: list[str]) -> list[tuple[Text, str]]:
    """Select options for workflow names as written in the config (`[workflows."[red]x"]`)."""
    return [(Text(one_line(name, 60)), name) for name in workflows]


def prompt_editor(placeholder: str) -> TextArea:
    """The prompt box of both dialogs: plain text, soft-wrapped, tab moves on."""
    return TextArea(
        id="prompt",
        soft_wrap=True,
        tab_behavior="focus",
        show_line_numbers=False,
        highlight_cursor_line=False,
        placeholder=placeholder,
    )


@dataclass(frozen=True)
class NewJobRequest:
    """What the New-job dialog hands over to queue."""

    prompt: str
    workflow: str
    cwd: str


class NewJobScreen(SubmitDialog[NewJobRequest, Job]):
    """The New-job dialog: a prompt, a workflow and a directory; it closes with the queued job."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding(SUBMIT_KEYS, "submit", "Queue"),  # after the keys typed before it
    ]

    def __init__(
        self, workflows: list[str], cwd: str, submit: Submit[NewJobRequest, Job], title: str = "New job"
    ) -> None:
        super().__init__(submit)
        self.workflows = workflows
        self.cwd = cwd
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog new-job"):
            yield Label(self.title_text, classes="title")
            yield prompt_editor("What should Claude do?")
            with Horizontal(classes="fields"):
                yield Select(
                    workflow_options(self.workflows),
                    value=self.workflows[0],
                    allow_blank=False,
                    id="workflow",
                )
                yield Input(value=self.cwd, placeholder="working directory", id="cwd")
            yield Label("", id="error", classes="error")
            yield Label(EDITOR_HINT, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#prompt", TextArea).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # enter in the directory box submits, as ctrl+s does anywhere
        self.action_submit()

    def action_submit(self) -> None:
        prompt = self.query_one("#prompt", TextArea).text.strip()
        cwd = self.query_one("#cwd", Input).value.strip()
        if not prompt:
            self.show_error("the prompt is empty: say what Claude should do")
            self.query_one("#prompt", TextArea).focus()
            return
        if not os.path.isdir(os.path.expanduser(cwd)):  # False, never an error, for any text
            self.show_error(f"{cwd} is not a directory: give an existing working directory")
            self.query_one("#cwd", Input).focus()
            return
        workflow = self.query_one("#workflow", Select).value
        self.send(NewJobRequest(prompt=prompt, workflow=str(workflow), cwd=str(Path(cwd).expanduser())))


class FollowUpScreen(SubmitDialog[str, Job]):
    """A prompt that continues the selected job's Claude session; it closes with the new job."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding(SUBMIT_KEYS, "submit", "Queue"),  # after the keys typed before it
    ]

    def __init__(self, job_id: int, session_id: str, submit: Submit[str, Job]) -> None:
        super().__init__(submit)
        self.job_id = job_id
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog follow-up"):
            yield Label(f"Follow up on job #{self.job_id}", classes="title")
            yield Label(Text(one_line(f"continues session {self.session_id}", 200)), classes="hint")
            yield prompt_editor("What next?")
            yield Label("", id="error", classes="error")
            yield Label(EDITOR_HINT, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#prompt", TextArea).focus()

    def action_submit(self) -> None:
        prompt = self.query_one("#prompt", TextArea).text.strip()
        if not prompt:
            self.show_error("the prompt is empty: say what Claude should do next")
            return
        self.send(prompt)
