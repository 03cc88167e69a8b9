"""The Diff view: what one job changed, kept current while it is open. On the left the files
with their added and removed line counts; on the right the coloured unified diff, which
scrolls to a file as it is picked. K keeps the job's worktree, X discards it (asking first).

Nothing here reads git or the ledger on the window's thread: a thread worker asks the door
for the job, its files and its diff, whenever the dashboard's newest snapshot shows the job
changed (and after keep or discard), one read at a time, and posts what it found back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from core.changes.record import FileChange, describe_changes
from core.display import one_line
from core.errors import InputError, log_failure
from core.jobs import REVIEW_DISCARDED, REVIEW_KEPT, Job
from core.ops.review import JobChanges
from tui.actions import DIFF_ACTIONS, bindings
from tui.widgets.diff_log import DiffLog, resolve
from tui.widgets.rows_table import literal, measure_now

if TYPE_CHECKING:
    from tui.review import Review
    from tui.shared import Door

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
"""How often the dashboard's newest snapshot is looked at (a look costs no read)."""
FACT_LIMIT = 300


@dataclass(frozen=True)
class DiffRead:
    """What one read found: the job, its files and its diff, or the door's line why not."""

    job: Job
    changes: JobChanges | None
    diff: str
    problem: str | None = None


def read_diff(door: Door, job_id: int) -> DiffRead:
    """Blocks on the ledger and on git: call it from a thread worker."""
    control = door.control
    job = control.get(job_id)
    try:
        changes = control.changes(job_id)
        diff = control.diff(job_id) if changes.in_git else ""
    except InputError as error:
        return DiffRead(job, None, "", str(error))
    return DiffRead(job, changes, diff)


def review_line(job: Job) -> Text:
    """Where the job's changes are, and what can become of them."""
    if job.changes_to_review:
        text = Text("± changes to review", style="bold")
        text.append(" · K keeps them, X discards them")
    elif job.worktree is not None and job.review == REVIEW_KEPT:
        text = Text(f"kept: merged into {job.base_branch}")
    elif job.worktree is not None and job.review == REVIEW_DISCARDED:
        text = Text("discarded: its worktree and branch were removed")
    elif job.worktree is not None:
        text = Text("works in its own worktree: K and X once it has ended")
    elif job.git_root is not None:
        text = Text("no worktree of its own: its changes are in the repository already")
    else:
        text = Text("ran outside git: the files its edits named")
    if job.branch is not None:
        text.append(" · " + one_line(f"{job.branch} → {job.base_branch or 'a detached HEAD'}", FACT_LIMIT))
    return text


def facts(job: Job, read: DiffRead | None) -> Text:
    """The job, its review state and a summary of its changes; outside text is literal."""
    text = Text.assemble(
        (f"job #{job.id}", "bold"),
        " · " + one_line(f"{job.state} · {job.workflow} · {job.prompt}", FACT_LIMIT),
        "\n",
    )
    text.append_text(review_line(job))
    text.append("\n")
    if read is None:
        text.append("reading its changes…", style="italic")
    elif read.problem is not None:
        text.append(one_line(read.problem, FACT_LIMIT))
    elif read.changes is not None and read.changes.in_git:
        text.append(describe_changes(read.changes.files))
    elif read.changes is not None:
        count = len(read.changes.files)
        text.append(f"{count} file{'s' if count != 1 else ''} named by its edits (no diff outside git)")
    return text


class DiffScreen(Screen[None]):
    """One job's changes: the files and the diff, with keep and discard."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(DIFF_ACTIONS)

    class Read(Message, bubble=False):
        """A read of the job's changes answered (``error``: why there is nothing new)."""

        def __init__(self, read: DiffRead | None, error: str | None = None) -> None:
            super().__init__()
            self.read = read
            self.error = error

    def __init__(self, job: Job, review: Review) -> None:
        super().__init__()
        self.job = job
        self.review = review
        self.read: DiffRead | None = None
        """The last read that answered (None until the first does)."""
        self._files: list[FileChange] | None = None
        self._seen: object = self._change_token()
        self._reading = False
        self._read_again = False
        self._open = True

    @property
    def busy(self) -> bool:
        """A read is on its way: what is drawn may be about to change (the screenshots wait)."""
        return self._reading

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-view"):
            yield Static(facts(self.job, None), id="diff-facts")
            yield Static(id="diff-said")
            with Horizontal(id="diff-body"):
                files = DataTable[object](id="diff-files", cursor_type="row", zebra_stripes=True)
                files.border_title = "Files"
                yield files
                diff = DiffLog(id="diff-text")
                diff.border_title = "Diff"
                yield diff
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-files", DataTable).add_columns("+", "-", "File")
        self.query_one("#diff-files").focus()
        self._start_read()
        self.set_interval(TICK_SECONDS, self._tick)

    # -- following the job ------------------------------------------------------------

    def _change_token(self) -> object:
        snapshot = self.review.latest()
        if snapshot is None:
            return None
        return snapshot.job(self.job.id) or snapshot.generation

    def _tick(self) -> None:
        token = self._change_token()
        if token != self._seen:
            self._seen = token
            self._start_read()

    def _start_read(self) -> None:
        """One read at a time; a change while it is on its way costs one more read."""
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        self._read_again = False
        door, job_id = self.review.door, self.job.id
        self.run_worker(lambda: self._read_in_thread(door, job_id), thread=True, exit_on_error=False)

    def _read_in_thread(self, door: Door, job_id: int) -> None:
        """In a worker thread: what was read goes back as a message, never as a widget change."""
        try:
            found = read_diff(door, job_id)
        except InputError as error:  # the job is gone
            self.post_message(self.Read(None, str(error)))
        except Exception as error:  # Redis away, a locked ledger: what is shown stays
            line = log_failure(log, "reading the job's changes failed", error)
            self.post_message(self.Read(None, line or f"{type(error).__name__}: {error}"))
        else:
            self.post_message(self.Read(found))

    def on_diff_screen_read(self, message: DiffScreen.Read) -> None:
        self._reading = False
        if message.error is not None:
            self._say(f"the job's changes cannot be read: {message.error}", error=True)
        elif message.read is not None:
            self._show(message.read)
        if self._read_again:
            self._start_read()

    def _show(self, read: DiffRead) -> None:
        self.read, self.job = read, read.job
        self.query_one("#diff-facts", Static).update(facts(read.job, read))
        files = read.changes.files if read.changes is not None else []
        if files != self._files:
            self._files = files
            self._show_files(files, read.changes is not None and read.changes.in_git)
        if read.problem is not None:
            empty = one_line(read.problem, FACT_LIMIT)
        elif read.changes is not None and not read.changes.in_git:
            empty = "no diff: the job ran outside git (the list names the files its edits touched)"
        else:
            empty = "the job changed nothing"
        self.query_one(DiffLog).show_diff(read.diff, empty, more=f"flowtui diff {read.job.id}")

    def _show_files(self, files: list[FileChange], in_git: bool) -> None:
        table = self.query_one("#diff-files", DataTable)
        row = table.cursor_row
        table.clear()
        variables = self.app.theme_variables
        added_style, removed_style = resolve("$text-success", variables), resolve("$text-error", variables)
        for index, change in enumerate(files):
            if change.added is None:
                counts = (Text("bin" if in_git else "", style="dim"), Text(""))  # outside git: no counts
            else:
                counts = (
                    Text(f"+{change.added}", style=added_style, justify="right"),
                    Text(f"-{change.removed}", style=removed_style, justify="right"),
                )
            table.add_row(*counts, literal(change.path), key=str(index))
        measure_now(table)  # before any frame: DataTable measures at idle, after it may draw
        table.border_title = f"Files ({len(files)})"
        if files:
            table.move_cursor(row=min(max(row, 0), len(files) - 1), scroll=False)

    # -- picking a file -----------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "diff-files":
            self.query_one(DiffLog).jump_to_file(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "diff-files":
            diff = self.query_one(DiffLog)
            diff.jump_to_file(event.cursor_row)
            diff.focus()

    def action_next_file(self) -> None:
        self._step_file(1)

    def action_previous_file(self) -> None:
        self._step_file(-1)

    def _step_file(self, step: int) -> None:
        table = self.query_one("#diff-files", DataTable)
        if table.row_count:
            row = min(max(table.cursor_row + step, 0), table.row_count - 1)
            table.move_cursor(row=row)
            self.query_one(DiffLog).jump_to_file(row)  # the same row again still jumps back to it

    def action_switch_pane(self) -> None:
        files = self.query_one("#diff-files")
        (self.query_one(DiffLog) if self.focused is files else files).focus()

    # -- keep and discard --------------------------------------------------------------

    def action_keep(self) -> None:
        self._say("keeping…")
        self.review.keep(self.job.id, done=self._reviewed, failed=self._refused)

    def action_discard(self) -> None:
        self.review.discard(self.job, done=self._reviewed, failed=self._refused)

    def _reviewed(self, job: Job) -> None:
        if not self._open:
            return
        self.job = job
        if job.review == REVIEW_DISCARDED:
            self._say(f"discarded #{job.id}: its worktree and branch {job.branch} were removed")
        else:
            self._say(f"kept #{job.id}: {job.branch} merged into {job.base_branch}")
        self._start_read()

    def _refused(self, line: str) -> None:
        """The door's one line: nothing changed on either side."""
        if self._open:
            self._say(line, error=True)
        self.app.notify(line, severity="error")

    def _say(self, line: str, error: bool = False) -> None:
        said = self.query_one("#diff-said", Static)
        said.update(Text(one_line(line, 1_000)))  # it names files and branches
        said.set_class(error, "-error")
        said.display = True

    def action_close(self) -> None:
        self._open = False
        self.dismiss(None)
