"""The dashboard's actions, listed once: its key bindings, the command palette's entries and
the help screen's rows are all read from ``ACTIONS``, so the three cannot disagree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textual.app import SystemCommand
from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    """One row of the table: a key bound to the dashboard's ``action_<name>``, or (without a
    name) a key Textual itself handles, which only the help screen mentions."""

    keys: str
    """The binding's key names (Textual's spelling); empty for a row only the help shows."""
    help: str | None
    """The help screen's sentence; None when a neighbouring row speaks for this key too."""
    label: str
    """How the help screen writes the key(s)."""
    name: str | None = None
    """The dashboard's ``action_<name>``; None for a key Textual handles (tab, ctrl+p)."""
    footer: str = ""
    """The binding's short description (the footer shows it when ``shown``)."""
    shown: bool = False
    palette: tuple[str, str] | None = None
    """(title, help) of its command palette entry; None keeps it out of the palette."""


ACTIONS: tuple[Action, ...] = (
    Action(
        "p",
        "pause / resume the queue",
        "p",
        "toggle_pause",
        "Pause/Resume",
        shown=True,
        palette=("Pause / resume the queue", "Stop or restart taking jobs"),
    ),
    Action(
        "n",
        "new job",
        "n",
        "new_job",
        "New job",
        shown=True,
        palette=("New job", "Queue a prompt for Claude"),
    ),
    Action(
        "r",
        "retry the selected job",
        "r",
        "retry",
        "Retry",
        shown=True,
        palette=("Retry job", "Queue the selected finished job again"),
    ),
    Action(
        "c",
        "cancel the selected job (asks first when it is running)",
        "c",
        "cancel",
        "Cancel",
        shown=True,
        palette=("Cancel job", "Cancel the selected job"),
    ),
    Action(
        "u",
        "follow up on the selected job's Claude session",
        "u",
        "follow_up",
        "Follow up",
        shown=True,
        palette=("Follow up", "Continue the selected job's Claude session"),
    ),
    Action(
        "enter",
        "the selected job's details: transcript, events, cost, session",
        "enter",
        "open_job",
        "Details",
        palette=("Job details", "Transcript, events, cost and session of the selected job"),
    ),
    Action("f", "follow the output again after scrolling up", "f", "follow", "Follow"),
    Action(
        "slash",
        "filter jobs: text, state:failed, source:telegram, workflow:NAME",
        "/",
        "filter",
        "Filter",
        shown=True,
        palette=("Filter jobs", "By text, state:, source:, workflow:"),
    ),
    Action("escape", "clear the filter / close a dialog", "esc", "clear_filter", "Clear filter"),
    Action(
        "a",
        "add a watch path",
        "a",
        "add_watch",
        "Add watch",
        shown=True,
        palette=("Add watch path", "Watch a directory; changes there become jobs"),
    ),
    Action(
        "d",
        "remove the selected watch (asks first)",
        "d",
        "remove_watch",
        "Remove watch",
        palette=("Remove watch path", "Stop watching the selected path"),
    ),
    Action(
        "t",
        "test a path against the watch rules",
        "t",
        "test_path",
        "Test path",
        palette=("Test a path", "Which watch a change there triggers, and its prompt"),
    ),
    Action(
        "R",
        "resend the selected failed notification",
        "R",
        "resend",
        "Resend",
        palette=("Resend notification", "Send the selected failed notification again"),
    ),
    Action(
        "y",
        "approve / deny the selected job waiting for approval",
        "y / N",
        "approve",
        "Approve",
        palette=("Approve job", "Let the selected job waiting for approval run"),
    ),
    Action(
        "N", None, "N", "deny", "Deny", palette=("Deny job", "Refuse the selected job waiting for approval")
    ),
    Action("", "move between panes", "tab / shift+tab"),
    Action("j", "move in a list", "j / k, arrows", "cursor_down", "Down"),
    Action("k", None, "k", "cursor_up", "Up"),
    Action("", "command palette (every action, and the theme)", "ctrl+p"),
    Action("question_mark", "this help", "?", "help", "Help", shown=True, palette=("Help", "Every key")),
    Action(
        "q",
        "quit (asks when jobs are running; they run again on the next start)",
        "q",
        "request_quit",
        "Quit",
        shown=True,
    ),
)


def bindings(actions: tuple[Action, ...] = ACTIONS) -> list[BindingType]:
    """The dashboard's ``BINDINGS``."""
    return [
        Binding(action.keys, action.name, action.footer, show=action.shown)
        for action in actions
        if action.name is not None and action.keys
    ]


def help_rows(actions: tuple[Action, ...] = ACTIONS) -> list[tuple[str, str]]:
    """(key, meaning) for each row of the help screen."""
    return [(action.label, action.help) for action in actions if action.help is not None]


def palette_commands(screen: object, actions: tuple[Action, ...] = ACTIONS) -> Iterator[SystemCommand]:
    """The command palette's entries for ``screen``'s actions."""
    for action in actions:
        if action.palette is not None and action.name is not None:
            title, help_text = action.palette
            yield SystemCommand(title, help_text, getattr(screen, f"action_{action.name}"))
