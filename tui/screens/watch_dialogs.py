"""Adding a watch (path completion, inline validation) and testing a path against the rules."""

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
from textual.suggester import Suggester
from textual.widgets import Input, Label, Select, Static

from core.display import clip, one_line
from tui.screens.new_job import workflow_options

VERDICT_LIMIT = 20_000
"""A 10,000-file prompt is cut here; `flowtui watch test` prints it all."""


class PathSuggester(Suggester):
    """Completes the last part of a path from the directories on disk (→ accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        parent, prefix = os.path.split(expanded)
        try:
            names = sorted(entry.name for entry in os.scandir(parent or ".") if entry.is_dir())
        except (OSError, ValueError):  # unreadable, missing, or a NUL in what was typed
            return None
        for name in names:
            if name.startswith(prefix) and name != prefix and not name.startswith("."):
                return value[: len(value) - len(prefix)] + name + "/"
        return None


@dataclass(frozen=True)
class WatchRequest:
    """What the add-watch dialog hands back to the door."""

    path: str
    workflow: str
    include: list[str]
    exclude: list[str]


def split_globs(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", " ").split() if part.strip()]


def path_problem(text: str) -> tuple[str | None, str | None]:
    """(error, note) for a watch path as typed: an error blocks, a note only informs."""
    if not text.strip():
        return "give a directory (or a file) to watch", None
    path = Path(os.path.expanduser(text.strip()))
    if os.path.exists(path):  # False, never an error, for a name too long or with a NUL
        if not os.access(path, os.R_OK):
            return f"{path} cannot be read: fix its permissions", None
        return None, None
    return None, f"{path} does not exist yet: it is watched once it appears"


class AddWatchScreen(ModalScreen[WatchRequest | None]):
    """The add-watch dialog: a path, a workflow and include/exclude globs, checked as typed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, workflows: list[str]) -> None:
        super().__init__()
        self.workflows = workflows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a watch path", classes="title")
            yield Input(placeholder="~/notes (→ completes)", suggester=PathSuggester(), id="path")
            yield Label("", id="path-note", classes="hint")
            yield Select(
                workflow_options(self.workflows), value=self.workflows[0], allow_blank=False, id="workflow"
            )
            yield Input(placeholder="include globs, e.g. *.md docs/**", id="include")
            yield Input(placeholder="exclude globs, e.g. drafts/", id="exclude")
            yield Label("", id="error", classes="error")
            yield Label("enter adds · esc closes", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "path":
            error, note = path_problem(event.value)
            self.query_one("#path-note", Label).update(Text(one_line(note or "", 500)))
            self.query_one("#error", Label).update(Text(one_line(error or "" if event.value else "", 500)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = self.query_one("#path", Input).value.strip()
        include = split_globs(self.query_one("#include", Input).value)
        exclude = split_globs(self.query_one("#exclude", Input).value)
        from core.config.edit import glob_problem  # tomlkit: not before the first frame

        error, _ = path_problem(path)
        error = error or glob_problem(include) or glob_problem(exclude)
        if error:
            self.query_one("#error", Label).update(Text(one_line(error, 500)))  # it quotes the globs
            return
        workflow = str(self.query_one("#workflow", Select).value)
        self.dismiss(WatchRequest(os.path.expanduser(path), workflow, include, exclude))

    def action_close(self) -> None:
        self.dismiss(None)


class TestPathScreen(ModalScreen[None]):
    """Which watch a change to a path would trigger, and the exact prompt; nothing is queued."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, explain: object) -> None:
        super().__init__()
        self._explain = explain

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Test a path against the watch rules", classes="title")
            yield Input(placeholder="a file inside a watched path", suggester=PathSuggester(), id="path")
            yield Static("", id="verdict")
            yield Label("enter tests · esc closes · nothing is queued", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        verdicts = self._explain(event.value.strip())  # type: ignore[operator]
        if not verdicts:
            text = "outside every watched path"
        else:
            parts = []
            for verdict in verdicts:
                word = "counts" if verdict["counts"] else "ignored"
                parts.append(f"watch {verdict['watch']} ({verdict['workflow']}): {word}: {verdict['reason']}")
                if verdict["counts"]:
                    parts.append(
                        f"would queue: {verdict['trigger']} in {verdict['cwd']}\n\n{verdict['prompt']}"
                    )
            text = "\n".join(parts)
        self.query_one("#verdict", Static).update(Text(clip(text, VERDICT_LIMIT)))

    def action_close(self) -> None:
        self.dismiss(None)
