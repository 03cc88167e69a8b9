"""The new-job modal: prompt, workflow, working directory; Enter submits, Esc closes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from core.display import one_line


def workflow_options(workflows: list[str]) -> list[tuple[Text, str]]:
    """Select options for workflow names as written in the config (`[workflows."[red]x"]`)."""
    return [(Text(one_line(name, 60)), name) for name in workflows]


@dataclass(frozen=True)
class NewJobRequest:
    """What the New-job dialog hands back to queue."""

    prompt: str
    workflow: str
    cwd: str


class NewJobScreen(ModalScreen[NewJobRequest | None]):
    """The New-job dialog: a prompt, a workflow and a directory."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, workflows: list[str], cwd: str, title: str = "New job") -> None:
        super().__init__()
        self.workflows = workflows
        self.cwd = cwd
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield Input(placeholder="What should Claude do?", id="prompt")
            yield Select(
                workflow_options(self.workflows), value=self.workflows[0], allow_blank=False, id="workflow"
            )
            yield Input(value=self.cwd, placeholder="working directory", id="cwd")
            yield Label("", id="error", classes="error")
            yield Label("enter submits · esc closes", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        prompt = self.query_one("#prompt", Input).value.strip()
        cwd = self.query_one("#cwd", Input).value.strip()
        error = self.query_one("#error", Label)
        if not prompt:
            error.update("the prompt is empty: say what Claude should do")
            self.query_one("#prompt", Input).focus()
            return
        if not os.path.isdir(os.path.expanduser(cwd)):  # False, never an error, for any text
            error.update(Text(one_line(f"{cwd} is not a directory: give an existing working directory", 500)))
            self.query_one("#cwd", Input).focus()
            return
        workflow = self.query_one("#workflow", Select).value
        self.dismiss(NewJobRequest(prompt=prompt, workflow=str(workflow), cwd=str(Path(cwd).expanduser())))

    def action_close(self) -> None:
        self.dismiss(None)


class FollowUpScreen(ModalScreen[str | None]):
    """A prompt that continues the selected job's Claude session."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, job_id: int, session_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Follow up on job #{self.job_id}", classes="title")
            yield Label(Text(one_line(f"continues session {self.session_id}", 200)), classes="hint")
            yield Input(placeholder="What next?", id="prompt")
            yield Label("", id="error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one("#error", Label).update("the prompt is empty: say what Claude should do next")
            return
        self.dismiss(event.value.strip())

    def action_close(self) -> None:
        self.dismiss(None)
