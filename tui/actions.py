"""The dashboard's actions, listed once: its key bindings, the footer's contexts, the command
palette's entries and the help screen's rows are all read from ``ACTIONS``, so they cannot
disagree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

ALWAYS = "always"
JOBS = "jobs"
"""The Jobs pane is focused."""
JOB_RETRYABLE = "job-retryable"
"""The selected job has finished (a retry queues it again)."""
JOB_CANCELLABLE = "job-cancellable"
JOB_SESSION = "job-session"
"""The selected job has a Claude session to continue."""
JOB_APPROVAL = "job-approval"
"""The selected job waits for a yes or no: its approval, or its tool question."""
JOB_QUESTION = "job-question"
"""The selected job runs and waits for the answer to a tool question."""
JOB_RUNNING = "job-running"
"""The selected job runs (a message told to it reaches Claude's next turn)."""
JOB_CHANGES = "job-changes"
"""The selected job ran in git: it has a diff to look at."""
JOB_REVIEW = "job-review"
"""The selected job's worktree waits to be kept or discarded (changes to review)."""
WATCHES = "watches"
"""The Watched-paths pane is focused (and shown)."""
NOTIFICATIONS = "notifications"
"""The Notifications pane is focused (and shown)."""
OUTPUT = "output"
"""The Output pane is focused."""
NARROW = "narrow"
"""The terminal is narrow: the lower area shows one pane at a time."""
FILTERED = "filtered"
"""The Jobs pane is focused and a `/` filter is active (the keys for every job shown apply)."""
CONTEXTS = frozenset(
    {ALWAYS, JOBS, JOB_RETRYABLE, JOB_CANCELLABLE, JOB_SESSION, JOB_APPROVAL, JOB_QUESTION, JOB_RUNNING}
    | {JOB_CHANGES, JOB_REVIEW, WATCHES, NOTIFICATIONS, OUTPUT, NARROW, FILTERED}
)

KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc"}
"""How the palette writes a binding's first key."""


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
    """The binding's short description (the footer shows it when ``shown`` and in ``when``)."""
    shown: bool = False
    palette: tuple[str, str] | None = None
    """(title, help) of its command palette entry; None keeps it out of the palette."""
    when: str = ALWAYS
    """The context in which the footer shows it (one of ``CONTEXTS``): the dashboard names the
    contexts true now (the focused pane, the selected row's kind, the terminal's width)."""
    hidden_when: frozenset[str] = frozenset()
    """Contexts in which the footer leaves it out for room: a narrow terminal, or a tool
    question, whose y / N / A come first (the key still acts)."""
    priority: bool = False
    """Checked before the focused widget's own bindings (home/end over DataTable's scrolling);
    the dashboard's ``check_action`` lets the key through where it does not apply."""


ACTIONS: tuple[Action, ...] = (
    Action(
        "n",
        "new job",
        "n",
        "new_job",
        "New",
        shown=True,
        palette=("New job", "Queue a prompt for Claude"),
    ),
    Action(
        "p",
        "pause / resume the queue",
        "p",
        "toggle_pause",
        "Pause",
        shown=True,
        hidden_when=frozenset({JOB_QUESTION}),
        palette=("Pause / resume the queue", "Stop or restart taking jobs"),
    ),
    Action(
        "r",
        "retry the selected job",
        "r",
        "retry",
        "Retry",
        shown=True,
        when=JOB_RETRYABLE,
        palette=("Retry job", "Queue the selected finished job again"),
    ),
    Action(
        "c",
        "cancel the selected job (asks first when it is running)",
        "c",
        "cancel",
        "Cancel",
        shown=True,
        when=JOB_CANCELLABLE,
        palette=("Cancel job", "Cancel the selected job"),
    ),
    Action(
        "u",
        "follow up on the selected job's Claude session",
        "u",
        "follow_up",
        "Follow up",
        shown=True,
        when=JOB_SESSION,
        hidden_when=frozenset({JOB_QUESTION}),
        palette=("Follow up", "Continue the selected job's Claude session"),
    ),
    Action(
        "y",
        "approve / deny the selected job waiting for approval",
        "y / N",
        "approve",
        "Approve",
        shown=True,
        when=JOB_APPROVAL,
        palette=("Approve job", "Let the selected job run, or allow its tool question once"),
    ),
    Action(
        "N",
        None,
        "N",
        "deny",
        "Deny",
        shown=True,
        when=JOB_APPROVAL,
        palette=("Deny job", "Refuse the selected job waiting for approval, or deny its tool question"),
    ),
    Action(
        "A",
        "a job that asks to use a tool (? needs you): y allows it once, N denies it (with a reason, "
        "if you like), A allows that tool always for this job",
        "y / N / A",
        "allow_always",
        "Always",
        shown=True,
        when=JOB_QUESTION,
        palette=("Allow always", "Allow the tool the selected job asks for, for the rest of the job"),
    ),
    Action(
        "T",
        "tell the selected running job something: Claude reads it at its next turn, in the same run",
        "T",
        "tell",
        "Tell",
        shown=True,
        when=JOB_RUNNING,
        hidden_when=frozenset({JOB_QUESTION, NARROW}),
        palette=("Tell job", "Send a message into the selected running job"),
    ),
    Action(
        "enter",
        "the selected job's details, kept current: prompt, answer, error, transcript, events, cost",
        "enter",
        "open_job",
        "Details",
        palette=("Job details", "Prompt, answer, transcript, events and cost of the selected job"),
    ),
    Action(
        "D",
        "the selected job's changes (also from its details): the files with +/- counts and the "
        "coloured diff, which jumps to each file as you move through them (n / N too)",
        "D",
        "diff",
        "Diff",
        shown=True,
        when=JOB_CHANGES,
        hidden_when=frozenset({JOB_QUESTION, NARROW}),
        palette=("Job diff", "The files the selected job changed, and its unified diff"),
    ),
    Action(
        "K",
        "keep the selected job's changes (± review): commit them on its branch and merge it into the "
        "branch it started from; X discards its worktree and branch (asks first)",
        "K / X",
        "keep",
        "Keep",
        shown=True,
        when=JOB_REVIEW,
        palette=("Keep changes", "Merge the selected job's worktree into the branch it started from"),
    ),
    Action(
        "X",
        None,
        "X",
        "discard",
        "Discard",
        shown=True,
        when=JOB_REVIEW,
        palette=("Discard changes", "Remove the selected job's worktree and branch (asks first)"),
    ),
    Action("", "in the details: 1 answer, 2 transcript, 3 events; m the answer raw / as Markdown", "1 2 3 m"),
    Action(
        "f",
        "follow the output again after scrolling up",
        "f",
        "follow",
        "Follow",
        shown=True,
        when=OUTPUT,
    ),
    Action(
        "o",
        "the selected job's transcript in $PAGER (less), as `flowtui logs` prints it",
        "o / e",
        "open_pager",
        "Pager",
        palette=("Open the transcript in $PAGER", "Page through the selected job's readable transcript"),
    ),
    Action(
        "e",
        None,
        "e",
        "open_editor",
        "Editor",
        palette=("Open the transcript in $EDITOR", "The selected job's readable transcript in an editor"),
    ),
    Action(
        "slash",
        "filter jobs: text, state:failed, source:telegram, workflow:NAME",
        "/",
        "filter",
        "Filter",
        shown=True,
        when=JOBS,
        hidden_when=frozenset({JOB_QUESTION}),
        palette=("Filter jobs", "By text, state:, source:, workflow:"),
    ),
    Action("escape", "clear the filter / close a dialog", "esc", "clear_filter", "Clear filter"),
    Action(
        "F",
        "with a filter: retry every failed job it shows (asks first, saying how many)",
        "F",
        "retry_shown",
        "Retry failed",
        shown=True,
        when=FILTERED,
        hidden_when=frozenset({JOB_QUESTION, NARROW}),
        palette=("Retry every failed job shown", "With a / filter: queue each failed job it shows again"),
    ),
    Action(
        "C",
        "with a filter: cancel every queued or running job it shows (asks first, saying how many)",
        "C",
        "cancel_shown",
        "Cancel shown",
        shown=True,
        when=FILTERED,
        hidden_when=frozenset({JOB_QUESTION, NARROW}),
        palette=("Cancel every job shown", "With a / filter: cancel each queued or running job it shows"),
    ),
    Action(
        "a",
        "add a watch path",
        "a",
        "add_watch",
        "Add",
        shown=True,
        when=WATCHES,
        palette=("Add watch path", "Watch a directory; changes there become jobs"),
    ),
    Action(
        "d",
        "remove the selected watch (asks first; the Watched paths pane must be focused)",
        "d",
        "remove_watch",
        "Remove",
        shown=True,
        when=WATCHES,
        palette=("Remove watch path", "Stop watching the selected path"),
    ),
    Action(
        "t",
        "test a path against the watch rules",
        "t",
        "test_path",
        "Test",
        shown=True,
        when=WATCHES,
        palette=("Test a path", "Which watch a change there triggers, and its prompt"),
    ),
    Action(
        "R",
        "resend the selected failed notification (the Notifications pane must be focused)",
        "R",
        "resend",
        "Resend",
        shown=True,
        when=NOTIFICATIONS,
        palette=("Resend notification", "Send the selected failed notification again"),
    ),
    Action(
        "S",
        "the schedules: next and last run, paused, missed runs; r runs one now, p pauses / resumes it",
        "S",
        "schedules",
        "Schedules",
        palette=("Schedules", "Each schedule's next and last run; run one now, pause or resume it"),
    ),
    Action(
        "s",
        "narrow terminal: show the output, the watched paths or the notifications below the jobs",
        "s",
        "switch_side",
        "Side",
        shown=True,
        when=NARROW,
        palette=("Switch the lower pane", "Output, watched paths or notifications (narrow terminals)"),
    ),
    Action("", "move between panes", "tab / shift+tab"),
    Action("j", "move in a list", "j / k, arrows", "cursor_down", "Down"),
    Action("k", None, "k", "cursor_up", "Up"),
    Action(
        "g,home",
        "first / last row of the focused list (the start / end of the output)",
        "g / G, home / end",
        "cursor_first",
        "First",
        priority=True,
    ),
    Action("G,end", None, "G", "cursor_last", "Last", priority=True),
    Action("", "command palette (every action, and the theme)", "ctrl+p"),
    Action("question_mark", "this help", "?", "help", "Help", shown=True, palette=("Help", "Every key")),
    Action(
        "q",
        "quit (also ctrl+q, ctrl+c): with jobs running, asks whether to keep them running in the background",
        "q",
        "request_quit",
        "Quit",
        shown=True,
    ),
)


OUTPUT_ACTIONS: tuple[Action, ...] = (
    Action(
        "w", "wrap long lines in the output / transcript on and off", "w", "toggle_wrap", "Wrap", shown=True
    ),
    Action(
        "slash",
        "search the output or transcript while it has focus (elsewhere / filters the jobs)",
        "/ (output)",
        "search",
        "Search",
        shown=True,
    ),
    Action(
        "n",
        "next / previous match while an output search is kept; esc closes it",
        "n / N (search)",
        "next_match",
        "Next",
        shown=True,
    ),
    Action("N", None, "N", "previous_match", "Previous", shown=True),
    Action("escape", None, "esc", "close_search", "Close search", shown=True),
    Action("o", None, "o", "open_pager", "Pager", shown=True),
    Action("e", None, "e", "open_editor", "Editor"),
)
"""The output pane's own keys (``OutputPane`` binds them, so the details screen's transcript
has them too): focused, they come before the screen's, and n / N / esc pass through to the
screen's keys while no search is kept."""


DIFF_ACTIONS: tuple[Action, ...] = (
    Action("escape,q", None, "esc", "close", "Back", shown=True),
    Action("K", None, "K", "keep", "Keep", shown=True),
    Action("X", None, "X", "discard", "Discard", shown=True),
    Action("tab", None, "tab", "switch_pane", "Files / diff", shown=True),
    Action("n", None, "n", "next_file", "Next file", shown=True),
    Action("N", None, "N", "previous_file", "Previous file", shown=True),
)
"""The Diff view's own keys (the dashboard's D opens it; K and X mean there what they mean on
the Jobs pane)."""


def key_label(action: Action) -> str:
    """The key as the palette writes it: the binding's first key."""
    first = action.keys.split(",")[0]
    return KEY_NAMES.get(first, first)


def bindings(actions: tuple[Action, ...] = ACTIONS) -> list[BindingType]:
    """The dashboard's ``BINDINGS``."""
    return [
        Binding(action.keys, action.name, action.footer, show=action.shown, priority=action.priority)
        for action in actions
        if action.name is not None and action.keys
    ]


def help_rows(actions: tuple[Action, ...] = ACTIONS + OUTPUT_ACTIONS) -> list[tuple[str, str]]:
    """(key, meaning) for each row of the help screen."""
    return [(action.label, action.help) for action in actions if action.help is not None]


def footer_actions(actions: tuple[Action, ...] = ACTIONS) -> dict[str, tuple[str, frozenset[str]]]:
    """action name -> the context in which the footer shows it, and those in which it leaves
    it out (shown actions only)."""
    return {
        action.name: (action.when, action.hidden_when)
        for action in actions
        if action.name is not None and action.shown
    }


def palette_commands(screen: object, actions: tuple[Action, ...] = ACTIONS) -> Iterator[SystemCommand]:
    """The command palette's entries for ``screen``'s actions, each with its key."""
    for action in actions:
        if action.palette is not None and action.name is not None:
            title, help_text = action.palette
            label = f"{title}  ({key_label(action)})" if action.keys else title
            yield SystemCommand(label, help_text, getattr(screen, f"action_{action.name}"))
