"""One job in full: every attempt's transcript, its events with times, error, cost and session."""

from __future__ import annotations

import shlex
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from core.jobs import Job, JobEvent
from core.paths import Paths
from core.render import format_cost
from tui.widgets.output_pane import OutputPane


def resume_command(job: Job) -> str | None:
    """The command that continues this job's session by hand."""
    if not job.session_id:
        return None
    return f"cd {shlex.quote(job.cwd)} && claude --resume {shlex.quote(job.session_id)}"


class JobDetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("y", "copy_resume", "Copy claude --resume"),
        Binding("f", "follow", "Follow"),
    ]

    def __init__(self, job: Job, events: list[JobEvent], paths: Paths) -> None:
        super().__init__()
        self.job = job
        self.events = events
        self.paths = paths

    def compose(self) -> ComposeResult:
        job = self.job
        facts = [
            f"[b]job #{job.id}[/b] · {job.state} · {job.workflow} · {job.source}"
            + (f" · {job.trigger}" if job.trigger else ""),
            f"attempts {job.attempts}/{job.max_attempts} · cost {format_cost(job.cost_usd)} · "
            f"tokens {job.input_tokens or 0:,} in / {job.output_tokens or 0:,} out · "
            f"turns {job.turns or '-'}",
            f"session {job.session_id or '-'} · cwd {job.cwd}",
        ]
        if job.error:
            facts.append(f"[b]error:[/b] {job.error}")
        command = resume_command(job)
        if command:
            facts.append(f"resume: {command}  (y copies it)")
        with Vertical(id="detail"):
            yield Static("\n".join(facts), id="facts", markup=True)
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
        for event in self.events:
            table.add_row(event.at[11:23], event.state, event.reason)
        output = self.query_one(OutputPane)
        attempts = range(1, max(self.job.attempts, 1) + 1)
        output.show_job(self.job.id, [self.paths.transcript_for(self.job.id, n) for n in attempts])
        output.focus()
        self.set_interval(0.25, output.pull)  # a running job keeps streaming here too

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
