"""Adding a watch (path completion, inline validation) and testing a path against the rules."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Checkbox, Input, Label, Select, Static

from core.display import clip, one_line
from core.errors import describe_failure
from tui.screens.dialog import Submit, SubmitDialog
from tui.screens.new_job import workflow_options

log = logging.getLogger(__name__)

VERDICT_LIMIT = 20_000
"""A 10,000-file prompt is cut here; `flowtui watch test` prints it all."""

Explain = Callable[[str], list[dict[str, object]]]
"""For each watch containing a path: whether a change there counts, why, and the job (it
reads the config file and the disk, so it blocks)."""


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
    poll: bool = False
    """Scan for changes instead of asking the kernel (a network or 9p mount)."""


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


class AddWatchScreen(SubmitDialog[WatchRequest, str]):
    """The add-watch dialog: a path, a workflow, whether to poll, and include/exclude globs, checked as typed;
    it closes with the path once the config file holds the watch."""

    def __init__(self, workflows: list[str], submit: Submit[WatchRequest, str]) -> None:
        super().__init__(submit)
        self.workflows = workflows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a watch path", classes="title")
            yield Input(placeholder="~/notes (→ completes)", suggester=PathSuggester(), id="path")
            yield Label("", id="path-note", classes="hint")
            with Horizontal(classes="fields"):
                yield Select(
                    workflow_options(self.workflows),
                    value=self.workflows[0],
                    allow_blank=False,
                    id="workflow",
                )
                yield Checkbox("poll (network mount)", id="poll")
            with Horizontal(classes="fields"):  # side by side: the dialog fits 80x24
                yield Input(placeholder="include globs: *.md docs/**", id="include")
                yield Input(placeholder="exclude globs: drafts/", id="exclude")
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
            self.show_error(error)
            return
        workflow = str(self.query_one("#workflow", Select).value)
        poll = self.query_one("#poll", Checkbox).value
        self.send(WatchRequest(os.path.expanduser(path), workflow, include, exclude, poll))


class TestPathScreen(ModalScreen[None]):
    """Which watch a change to a path would trigger, and the exact prompt; nothing is queued.

    The test reads the config and the disk, so it runs in a thread worker and its verdict
    comes back as a message: a slow file system never freezes the window."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    class Tested(Message, bubble=False):
        """A path's test ended (posted from its thread): the verdict to show."""

        def __init__(self, number: int, text: str) -> None:
            super().__init__()
            self.number = number
            self.text = text

    def __init__(self, explain: Explain) -> None:
        super().__init__()
        self._explain = explain
        self._tests = 0
        """Counts the tests submitted: only the newest one's verdict is shown."""

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
        path = event.value.strip()
        self._tests += 1
        number = self._tests
        self.query_one("#verdict", Static).update(Text(f"testing {one_line(path, 500)} …"))
        self.run_worker(lambda: self._test(path, number), thread=True, group="test path")

    def _test(self, path: str, number: int) -> None:
        """In a worker thread: the verdict goes back as a message, never as a widget change."""
        try:
            verdicts = self._explain(path)
        except Exception as error:
            line = describe_failure(error)
            if line is None:
                raise  # a bug: the window's failure screen says so, as for any handler
            log.warning("testing a path failed: %s", line)
            self.post_message(self.Tested(number, f"the path cannot be tested: {line}"))
        else:
            self.post_message(self.Tested(number, verdict_text(verdicts)))

    def on_test_path_screen_tested(self, message: TestPathScreen.Tested) -> None:
        if message.number == self._tests:  # an older test answering late is moot
            self.query_one("#verdict", Static).update(Text(clip(message.text, VERDICT_LIMIT)))

    def action_close(self) -> None:
        self.dismiss(None)


def verdict_text(verdicts: list[dict[str, object]]) -> str:
    """What the dialog says about a path: each watch's verdict, and the job a change would queue."""
    if not verdicts:
        return "outside every watched path"
    parts = []
    for verdict in verdicts:
        word = "counts" if verdict["counts"] else "ignored"
        parts.append(f"watch {verdict['watch']} ({verdict['workflow']}): {word}: {verdict['reason']}")
        if verdict["counts"]:
            parts.append(f"would queue: {verdict['trigger']} in {verdict['cwd']}\n\n{verdict['prompt']}")
    return "\n".join(parts)
