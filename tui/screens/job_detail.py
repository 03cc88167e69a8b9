"""One job in full: every attempt's transcript, its events with times, error, cost and session."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from core.display import one_line
from core.errors import log_failure
from core.jobs import Job, JobEvent
from core.paths import Paths
from core.summary import format_cost
from tui.widgets.output_pane import OutputPane
from tui.widgets.rows_table import literal

log = logging.getLogger(__name__)

FACT_LIMIT = 500
"""The facts are a few lines: a longer error or trigger ends in … (the events have it all)."""


def resume_command(job: Job) -> str | None:
    """The command that continues this job's session by hand."""
    if not job.session_id:
        return None
    return f"cd {shlex.quote(job.cwd)} && claude --resume {shlex.quote(job.session_id)}"


class JobDetailScreen(Screen[None]):
    """One job in full: its fields, its history and its transcript."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("y", "copy_resume", "Copy claude --resume"),
        Binding("f", "follow", "Follow"),
    ]

    class EventsRead(Message, bubble=False):
        """The job's events, read off the app's thread (``error`` says why there are none)."""

        def __init__(self, events: list[JobEvent], error: str | None = None) -> None:
            super().__init__()
            self.events = events
            self.error = error

    def __init__(self, job: Job, read_events: Callable[[], list[JobEvent]], paths: Paths) -> None:
        super().__init__()
        self.job = job
        self._read_events = read_events
        """Blocks on the ledger (Redis may be slow): called from a thread worker."""
        self.paths = paths

    def facts(self) -> Text:
        """The job's facts; every value that came from outside is literal text."""
        job = self.job
        trigger = f" · {job.trigger}" if job.trigger else ""
        facts = Text.assemble(
            (f"job #{job.id}", "bold"),
            " · " + one_line(f"{job.state} · {job.workflow} · {job.source}{trigger}", FACT_LIMIT),
            "\n",
            f"attempts {job.attempts}/{job.max_attempts} · cost {format_cost(job.cost_usd)} · "
            f"tokens {job.input_tokens or 0:,} in / {job.output_tokens or 0:,} out · "
            f"turns {job.turns or '-'}\n",
            one_line(f"session {job.session_id or '-'} · cwd {job.cwd}", FACT_LIMIT),
        )
        if job.error:
            facts.append("\nerror: ", style="bold")
            facts.append(one_line(job.error, FACT_LIMIT))
        command = resume_command(job)
        if command:
            facts.append("\n" + one_line(f"resume: {command}", FACT_LIMIT) + "  (y copies it)")
        return facts

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Static(self.facts(), id="facts")
            with Horizontal(id="detail-panes"):
                output = OutputPane(id="detail-output")
                output.border_title = "Transcript"
                yield output
                events = DataTable[str](id="events", cursor_type="row", zebra_stripes=True)
                events.border_title = "Events"
                yield events
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_columns("time", "state", "reason")
        self.run_worker(self._load_events, thread=True, exit_on_error=False)
        output = self.query_one(OutputPane)
        attempts = range(1, max(self.job.attempts, 1) + 1)
        output.show_job(self.job.id, [self.paths.transcript_for(self.job.id, n) for n in attempts])
        output.focus()
        self.set_interval(0.25, output.pull)  # a running job keeps streaming here too

    def _load_events(self) -> None:
        try:
            events = self._read_events()
        except Exception as error:  # Redis away, a locked ledger: the facts and transcript still show
            line = log_failure(log, "reading the job's events failed", error)
            self.post_message(self.EventsRead([], line or f"{type(error).__name__}: {error}"))
        else:
            self.post_message(self.EventsRead(events))

    def on_job_detail_screen_events_read(self, message: JobDetailScreen.EventsRead) -> None:
        table = self.query_one("#events", DataTable)
        for event in message.events:
            table.add_row(*(literal(cell) for cell in (event.at[11:23], event.state, event.reason)))
        if message.error:
            self.notify(f"the events cannot be read: {message.error}", severity="error")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_follow(self) -> None:
        self.query_one(OutputPane).follow()

    def action_copy_resume(self) -> None:
        command = resume_command(self.job)
        if command is None:
            self.notify("this job has no Claude session yet", severity="warning")
            return
        self.app.copy_to_clipboard(command)
        self.notify(f"copied: {command}")
