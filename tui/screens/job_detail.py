"""One job in full, kept current while the screen is open: its facts, the tool question it
waits on (answered here with y / N / A, as on the dashboard), its whole prompt, the answer (as
Markdown, or as the raw text), the error, every attempt's transcript and its events.

The screen never reads the ledger on the window's thread: a thread worker reads the job and its
events whenever the dashboard's newest snapshot shows the job changed, one read at a time, and
posts what it read back. A closed screen's timer stops with it.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Markdown, Static, TabbedContent, TabPane

from core.claude.tool_preview import ToolPreview, preview
from core.display import one_line, printable
from core.errors import log_failure
from core.jobs import Job, JobEvent, JobState
from core.paths import Paths
from core.summary import format_cost
from tui.operations import VIA, OperationDone, Operations, person
from tui.review import Review
from tui.shared import Door, Snapshot
from tui.widgets.output_pane import OutputPane
from tui.widgets.question_box import QuestionBox
from tui.widgets.rows_table import literal

log = logging.getLogger(__name__)

FACT_LIMIT = 500
"""The facts are a few lines: a longer error or trigger ends in … (the Answer tab has it all)."""
PROMPT_LIMIT = 200_000
"""A burst's prompt can be ~600 KB: the screen shows this much, ``flowtui show`` the rest."""
MARKDOWN_LIMIT = 100_000
"""A longer answer is shown as raw text first: laying out that much Markdown stalls the window."""
TICK_SECONDS = 0.25
"""How often the transcript is pulled and the snapshot looked at (both cost no ledger read)."""

TABS = ("answer", "transcript", "events")


def resume_command(job: Job) -> str | None:
    """The command that continues this job's session by hand."""
    if not job.session_id:
        return None
    return f"cd {shlex.quote(job.cwd)} && claude --resume {shlex.quote(job.session_id)}"


@dataclass(frozen=True)
class JobRead:
    """What one read of the ledger found: the job as it is now (None if it is gone), its events,
    and what the tool it asks to use would run or change (None while it asks nothing)."""

    job: Job | None
    events: list[JobEvent]
    preview: ToolPreview | None = None


def read_job(door: Door, job_id: int) -> JobRead:
    """Blocks on the ledger (Redis may be slow) and on a file an edit question changes: call
    it from a thread worker."""
    ledger = door.control.ledger
    job = ledger.get(job_id)
    return JobRead(job, ledger.events(job_id), question_preview(job) if job is not None else None)


def question_preview(job: Job) -> ToolPreview | None:
    """The preview of the tool question ``job`` waits on (a file edit's diff reads the file)."""
    question = job.question if job.needs_you else None
    if question is None:
        return None
    tool_input = question.get("input")
    return preview(
        str(question.get("tool") or "the tool"),
        tool_input if isinstance(tool_input, dict) else {},
        job.run_directory,
    )


def facts(job: Job) -> Text:
    """The job's facts; every value that came from outside is literal text."""
    trigger = f" · {job.trigger}" if job.trigger else ""
    text = Text.assemble(
        (f"job #{job.id}", "bold"),
        " · " + one_line(f"{job.state} · {job.workflow} · {job.source}{trigger}", FACT_LIMIT),
        "\n",
        f"attempts {job.attempts}/{job.max_attempts} · cost {format_cost(job.cost_usd)} · "
        f"tokens {job.input_tokens or 0:,} in / {job.output_tokens or 0:,} out · "
        f"turns {job.turns or '-'}\n",
        one_line(f"session {job.session_id or '-'} · cwd {job.cwd}", FACT_LIMIT),
    )
    if job.error:
        text.append("\nerror: ", style="bold")
        text.append(one_line(job.error, FACT_LIMIT))
    command = resume_command(job)
    if command:
        copies = "" if job.needs_you else "  (y copies it)"  # y answers the question first
        text.append("\n" + one_line(f"resume: {command}", FACT_LIMIT) + copies)
    return text


def prompt_text(job: Job) -> Text:
    """The whole prompt as typed (control characters shown, not obeyed), up to PROMPT_LIMIT."""
    shown = printable(job.prompt[:PROMPT_LIMIT])
    text = Text(shown)
    hidden = len(job.prompt) - PROMPT_LIMIT
    if hidden > 0:
        text.append(f"\n… {hidden:,} more characters: flowtui show {job.id}", style="italic")
    return text


def prompt_title(job: Job) -> str:
    lines = job.prompt.count("\n") + 1
    return f"Prompt · {lines:,} line{'s' if lines != 1 else ''}" if lines > 1 else "Prompt"


def no_answer(job: Job) -> str:
    """What the answer box says while there is no answer."""
    if job.state is JobState.RUNNING:
        return "no answer yet: Claude is working (2 shows the transcript)"
    if job.state in (JobState.QUEUED, JobState.AWAITING_APPROVAL):
        return "no answer yet: the job has not run"
    return "the job gave no answer"


class JobDetailScreen(Screen[None]):
    """One job in full: its fields, its prompt and answer, its transcript and its history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("1", "show_tab('answer')", "Answer"),
        Binding("2", "show_tab('transcript')", "Transcript"),
        Binding("3", "show_tab('events')", "Events"),
        Binding("m", "toggle_markdown", "Markdown/raw"),
        # y answers a waiting question; while none waits, it copies the resume command.
        Binding("y", "allow", "Allow once"),
        Binding("N", "deny", "Deny"),
        Binding("A", "allow_always", "Allow always"),
        Binding("y", "copy_resume", "Copy claude --resume"),
        Binding("f", "follow", "Follow"),
        Binding("D", "diff", "Diff"),
    ]

    class Read(Message, bubble=False):
        """A read of the job answered (``error`` says why there is nothing new)."""

        def __init__(self, read: JobRead | None, error: str | None = None) -> None:
            super().__init__()
            self.read = read
            self.error = error

    def __init__(
        self,
        job: Job,
        door: Door,
        latest: Callable[[], Snapshot | None],
        read: Callable[[Door, int], JobRead] = read_job,
        review: Review | None = None,
    ) -> None:
        super().__init__()
        self.job = job
        self.door = door
        self._latest = latest
        """The dashboard's newest snapshot: a change of the job there starts a read."""
        self._read = read
        self._review = review
        """Opens the Diff view (D), whose keep and discard run in the dashboard's operations."""
        self._events: list[JobEvent] | None = None
        self._seen: object = self._change_token()
        self._reading = False
        self._read_again = False
        self._error_said = False
        self.raw = len(job.answer or "") > MARKDOWN_LIMIT
        """The answer is shown as its raw text, not as Markdown."""
        self.operations = Operations(self, self._start_read)
        """The answers given here, in thread workers; each is followed by a read."""

    @property
    def paths(self) -> Paths:
        return self.door.paths

    # -- building -------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A read or an answer is on its way: what is drawn may be about to change (the
        screenshots wait)."""
        return self._reading or self.operations.busy

    def compose(self) -> ComposeResult:
        job = self.job
        with Vertical(id="detail"):
            yield Static(facts(job), id="facts")
            yield QuestionBox(id="detail-question")
            with TabbedContent(initial="answer" if job.state.is_final else "transcript", id="detail-tabs"):
                with TabPane("Answer", id="answer"):
                    prompt_box = VerticalScroll(Static(prompt_text(job), id="prompt"), id="prompt-box")
                    prompt_box.border_title = prompt_title(job)
                    yield prompt_box
                    error_box = VerticalScroll(Static(self._error_text(job), id="error"), id="error-box")
                    error_box.border_title = "Error"
                    error_box.display = bool(job.error)
                    yield error_box
                    with VerticalScroll(id="answer-box") as answer_box:
                        answer_box.set_class(self.raw, "-raw")
                        yield Markdown(self._markdown_source(job), id="answer-markdown", open_links=False)
                        yield Static(self._raw_text(job), id="answer-raw")
                with TabPane("Transcript", id="transcript"):
                    output = OutputPane(id="detail-output")
                    output.border_title = "Transcript"
                    yield output
                with TabPane("Events", id="events-tab"):
                    events = DataTable[str](id="events", cursor_type="row", zebra_stripes=True)
                    events.border_title = "Events"
                    yield events
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#events", DataTable).add_columns("time", "state", "reason")
        self._title_answer()
        self._show_transcripts()
        self._start_read()
        self.set_interval(TICK_SECONDS, self._tick)
        self._focus_tab(self.query_one(TabbedContent).active)

    # -- following the job -------------------------------------------------------

    def _change_token(self) -> object:
        """What changes when the job may have: the job's row in the newest snapshot (a lease
        renewal, a state, a cost), or the snapshot itself once the job is not among its rows."""
        snapshot = self._latest()
        if snapshot is None:
            return None
        return snapshot.job(self.job.id) or snapshot.generation

    def _tick(self) -> None:
        self.query_one(OutputPane).pull()  # a running job keeps streaming here too
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
        door, job_id, read = self.door, self.job.id, self._read
        self.run_worker(lambda: self._read_in_thread(read, door, job_id), thread=True, exit_on_error=False)

    def _read_in_thread(self, read: Callable[[Door, int], JobRead], door: Door, job_id: int) -> None:
        """In a worker thread: what was read goes back as a message, never as a widget change."""
        try:
            found = read(door, job_id)
        except Exception as error:  # Redis away, a locked ledger: what is shown stays
            line = log_failure(log, "reading the job failed", error)
            self.post_message(self.Read(None, line or f"{type(error).__name__}: {error}"))
        else:
            self.post_message(self.Read(found))

    def on_job_detail_screen_read(self, message: JobDetailScreen.Read) -> None:
        self._reading = False
        if message.error is not None:
            if not self._error_said:  # once: the screen keeps what it showed
                self._error_said = True
                self.notify(f"the job cannot be read: {message.error}", severity="error")
        elif message.read is not None:
            self._error_said = False
            self._show(message.read)
        if self._read_again:
            self._start_read()

    def _show(self, read: JobRead) -> None:
        if read.job is not None:
            self._show_question(read.job, read.preview)
        events = read.events
        if events != self._events:
            self._events = events
            table = self.query_one("#events", DataTable)
            row = table.cursor_row
            table.clear()
            table.add_rows(
                [literal(cell) for cell in (event.at[11:23], event.state, event.reason)] for event in events
            )
            if events:
                table.move_cursor(row=min(row, len(events) - 1))
        job = read.job
        if job is None or job == self.job:
            return
        before, self.job = self.job, job
        self.query_one("#facts", Static).update(facts(job))
        if job.prompt != before.prompt:
            self.query_one("#prompt", Static).update(prompt_text(job))
            self.query_one("#prompt-box").border_title = prompt_title(job)
        if job.error != before.error:
            self.query_one("#error", Static).update(self._error_text(job))
            self.query_one("#error-box").display = bool(job.error)
        if job.answer != before.answer or job.state != before.state:
            self.query_one("#answer-markdown", Markdown).update(self._markdown_source(job))
            self.query_one("#answer-raw", Static).update(self._raw_text(job))
            self._title_answer()
        if job.attempts != before.attempts:
            self._show_transcripts()  # a new attempt writes a new file

    def _show_question(self, job: Job, shown: ToolPreview | None) -> None:
        asked_before = self.job.needs_you
        self.query_one(QuestionBox).show_question(job if job.needs_you else None, shown)
        if job.needs_you != asked_before:
            self.job = job  # what the keys act on, before the footer asks which apply
            self.refresh_bindings()

    def _show_transcripts(self) -> None:
        job = self.job
        attempts = range(1, max(job.attempts, 1) + 1)
        self.query_one(OutputPane).show_job(job.id, [self.paths.transcript_for(job.id, n) for n in attempts])

    # -- the answer ----------------------------------------------------------------

    @staticmethod
    def _error_text(job: Job) -> Text:
        return Text(printable(job.error or ""))

    @staticmethod
    def _markdown_source(job: Job) -> str:
        """Claude's answer is Markdown: rendered as such (never as Rich markup), with its
        control characters shown; the placeholder is flowtui's own text, in italics."""
        if job.answer:
            return printable(job.answer[:MARKDOWN_LIMIT])  # an escape shows, never acts
        return f"*{no_answer(job)}*"

    @staticmethod
    def _raw_text(job: Job) -> Text:
        if job.answer:
            return Text(printable(job.answer))
        return Text(no_answer(job), style="italic")

    def _title_answer(self) -> None:
        box = self.query_one("#answer-box")
        box.set_class(self.raw, "-raw")
        box.border_title = "Answer · raw text" if self.raw else "Answer · Markdown"
        box.border_subtitle = "m: as Markdown" if self.raw else "m: raw text"

    # -- answering the question ----------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """y / N / A act (and show) while the job waits on a question; y copies otherwise."""
        if action in ("allow", "deny", "allow_always"):
            return self.job.needs_you
        if action == "copy_resume":
            return not self.job.needs_you
        return True

    def on_operation_done(self, message: OperationDone) -> None:
        self.operations.finish(message)

    def _asked(self) -> tuple[int, str, str]:
        """The job, the request id and the tool of the question shown (the door refuses an
        answer once that question is no longer the one waiting)."""
        question = self.job.question or {}
        tool = one_line(str(question.get("tool") or "the tool"), 60)
        return self.job.id, str(question.get("request_id", "")), tool

    def action_allow(self) -> None:
        self._allow(always=False)

    def action_allow_always(self) -> None:
        self._allow(always=True)

    def _allow(self, always: bool) -> None:
        job_id, request_id, tool = self._asked()
        door, by = self.door, person(self.door.session.environ)
        self.operations.add(
            lambda: door.control.approve(job_id, by=by, always=always, via=VIA, question=request_id),
            f"allowed {tool}{' always' if always else ''} for #{job_id}",
        )

    def action_deny(self) -> None:
        from tui.screens.answer import DenyScreen

        job_id, request_id, tool = self._asked()
        door, by = self.door, person(self.door.session.environ)
        summary = self.query_one(QuestionBox).summary

        def submit(reason: str, done: Callable[[Job], None], failed: Callable[[str], None]) -> None:
            self.operations.add(
                lambda: door.control.deny(job_id, by=by, reason=reason or None, via=VIA, question=request_id),
                f"denied {tool} for #{job_id}" + (f": {one_line(reason, 80)}" if reason else ""),
                then=done,
                failed=failed,
            )

        self.app.push_screen(DenyScreen(job_id, tool, summary, submit))

    # -- keys ---------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.query_one(TabbedContent).active = tab if tab != "events" else "events-tab"
            self._focus_tab(self.query_one(TabbedContent).active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "")

    def _focus_tab(self, pane_id: str) -> None:
        target = {"answer": "#answer-box", "transcript": "#detail-output", "events-tab": "#events"}.get(
            pane_id
        )
        if target is not None:
            self.query_one(target).focus()

    def action_toggle_markdown(self) -> None:
        self.raw = not self.raw
        self._title_answer()
        self.action_show_tab("answer")

    def action_follow(self) -> None:
        self.query_one(OutputPane).follow()

    def action_diff(self) -> None:
        if self._review is None:
            self.notify("no Diff view here: open the job from the Jobs pane", severity="warning")
            return
        self._review.open_diff(self.job)

    def action_copy_resume(self) -> None:
        command = resume_command(self.job)
        if command is None:
            self.notify("this job has no Claude session yet", severity="warning")
            return
        self.app.copy_to_clipboard(command)
        self.notify(f"copied: {command}")
