"""The dashboard: queue, output, watched paths and notifications, and every key that acts on them.

Attributes down, messages up: the app hands it a :class:`~tui.shared.Door` and snapshots of
the shared state (``show``); it tells the app with its own messages when a fresh read is
wanted or the output pane is behind. Every operation runs in a thread worker, one after the
other in the order the keys were pressed, and reports as a toast: the screen never waits on
the ledger, the outbox or Redis (see :mod:`tui.operations`).
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from core.display import one_line
from core.jobs import Job, JobState
from tui.actions import bindings
from tui.job_filter import JobFilter
from tui.operations import OperationDone, Operations, running_jobs, toggle_pause
from tui.shared import Door, Snapshot
from tui.widgets.job_table import JobTable
from tui.widgets.output_pane import OutputPane
from tui.widgets.side_lists import NotificationList, WatchList
from tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from tui.screens.new_job import NewJobRequest
    from tui.screens.watch_dialogs import WatchRequest

NOTHING_SHOWN = (0, 0)


class DashboardScreen(Screen[None]):
    """The main screen: draws the snapshots it is shown, acts through its door."""

    BINDINGS: ClassVar[list[BindingType]] = bindings()

    class RefreshWanted(Message):
        """Read the shared state again: an operation changed it."""

    class OutputBehind(Message):
        """The output pane is behind this job's transcript: pull again on the next tick."""

        def __init__(self, job_id: int) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, door: Door, snapshot: Snapshot | None = None) -> None:
        super().__init__()
        self.door = door
        self.snapshot = snapshot
        """The state drawn now (None until the first read answers)."""
        self.job_filter = JobFilter()
        self.composed = False
        """Its panes exist (from its mount on), so the app can show the state in them."""
        self._shown_job: tuple[int, int] | None = None  # (job id, attempts) in the output pane
        self.operations = Operations(self, lambda: self.post_message(self.RefreshWanted()))

    @property
    def busy(self) -> bool:
        """An operation is running or waiting for the one before it."""
        return self.operations.busy

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        jobs = JobTable(id="jobs")
        jobs.border_title = "Jobs"
        yield jobs
        with Horizontal(id="lower"):
            output = OutputPane(id="output")
            output.border_title = "Output"
            yield output
            with Vertical(id="side"):
                watches = WatchList(id="watches")
                watches.border_title = "Watched paths"
                yield watches
                notifications = NotificationList(id="notifications")
                notifications.border_title = "Notifications"
                yield notifications
        yield Input(placeholder="filter: words, state:failed, source:telegram, workflow:NAME", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.composed = True
        self.query_one(JobTable).focus()
        self._draw()  # a dashboard put back after a failure shows the last state at once

    # -- rendering the shared state -------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        # A snapshot read before the window closed (or before a failure replaced this screen)
        # can arrive after the panes were taken down: there is nothing left to draw on. Before
        # compose, ``composed`` keeps _draw from querying at all.
        with suppress(NoMatches):
            self._draw()

    def show_unreachable(self, reason: str) -> None:
        """The shared state cannot be read now: say so; the panes keep the last state read."""
        engine = self.snapshot.session if self.snapshot is not None else self.door.session.describe()
        with suppress(NoMatches):  # as in show: a screen being taken down has no status line
            self.query_one(StatusLine).show_unreachable(engine, reason)

    def _draw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.composed:
            return
        overview = snapshot.overview
        leader = snapshot.leader
        self.query_one(StatusLine).show(
            snapshot.session + (f" · leader: {leader}" if leader else ""),
            overview.pause,
            overview.counts,
            overview.spent_today_usd,
            snapshot.telegram,
        )
        self._draw_jobs()
        self.query_one(WatchList).show_watches(list(snapshot.watches))
        self.query_one(NotificationList).show_notifications(list(snapshot.notifications))
        self._sync_output()

    def _draw_jobs(self) -> None:
        if self.snapshot is None:
            return
        jobs = [job for job in self.snapshot.overview.jobs if self.job_filter.matches(job)]
        table = self.query_one(JobTable)
        table.show_jobs(jobs, self.snapshot.taken_at)
        typed = self.query_one("#filter", Input).value
        filtered = f" · filter: {one_line(typed, 60)}" if self.job_filter.active else ""
        table.border_title = Text(f"Jobs ({len(jobs)}){filtered}")  # a border title str is markup

    def _sync_output(self) -> None:
        job_id = self.query_one(JobTable).selected_job_id
        output = self.query_one(OutputPane)
        if job_id is None:
            if self._shown_job != NOTHING_SHOWN:
                self._shown_job = NOTHING_SHOWN
                output.show_job(None, [])
            return
        job = self.snapshot.job(job_id) if self.snapshot is not None else None
        if job is None:
            return
        key = (job.id, job.attempts)
        if key != self._shown_job:
            self._shown_job = key
            paths = self.door.paths
            output.show_job(
                job.id, [paths.transcript_for(job.id, n) for n in range(1, max(job.attempts, 1) + 1)]
            )
            output.border_title = f"Output · #{job.id}"
        else:
            output.pull()
        if output.behind:
            self.post_message(self.OutputBehind(job.id))

    def pull_output(self, job_id: int) -> bool:
        """New output for ``job_id`` was published: read it if that job is shown; True
        while the pane is still behind the transcript."""
        output = self.query_one(OutputPane)
        if output.job_id != job_id:
            return False
        output.pull()
        return output.behind

    def on_data_table_row_highlighted(self, event: JobTable.RowHighlighted) -> None:
        if event.data_table.id == "jobs" and self.composed:
            self._sync_output()

    def on_data_table_row_selected(self, event: JobTable.RowSelected) -> None:
        if event.data_table.id == "jobs":
            self.action_open_job()

    # -- operations, in thread workers (tui.operations) --------------------------

    def on_operation_done(self, message: OperationDone) -> None:
        self.operations.finish(message)  # a fresh read follows: what a key changed shows at once

    # -- actions --------------------------------------------------------------

    def _selected_job_id(self) -> int | None:
        job_id = self.query_one(JobTable).selected_job_id
        if job_id is None:
            self.notify("no job selected", severity="warning")
        return job_id

    def _selected_job(self) -> Job | None:
        job_id = self._selected_job_id()
        if job_id is None or self.snapshot is None:
            return None
        return self.snapshot.job(job_id)

    def action_toggle_pause(self) -> None:
        door = self.door
        self.operations.add(lambda: toggle_pause(door.control), str)  # control: read in the thread

    def action_new_job(self) -> None:
        from tui.screens.new_job import NewJobScreen

        def submitted(request: NewJobRequest | None) -> None:
            if request is not None:
                door = self.door
                self.operations.add(
                    lambda: door.control.add(request.prompt, workflow=request.workflow, cwd=request.cwd),
                    lambda job: f"queued #{job.id}",
                )

        workflows = self.door.control.settings.workflow_names()
        self.app.push_screen(NewJobScreen(workflows, str(self.door.default_cwd)), submitted)

    def action_retry(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            door = self.door
            self.operations.add(
                lambda: door.control.retry(job_id), lambda job: f"queued #{job.id} (retry of #{job_id})"
            )

    def action_cancel(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        job = self._selected_job()
        if job is None:
            return
        job_id = job.id

        def confirmed(yes: bool | None) -> None:
            if yes:
                door = self.door
                self.operations.add(lambda: door.control.cancel(job_id), lambda state: f"#{job_id}: {state}")

        if job.state is JobState.RUNNING:
            self.app.push_screen(
                ConfirmScreen(f"Job #{job_id} is running. Cancel it?", yes="Cancel it"), confirmed
            )
        else:
            confirmed(True)

    def action_follow_up(self) -> None:
        from tui.screens.new_job import FollowUpScreen

        job = self._selected_job()
        if job is None:
            return
        job_id = job.id
        if not job.session_id:
            self.notify(f"job #{job_id} has no Claude session to continue yet", severity="warning")
            return

        def submitted(prompt: str | None) -> None:
            if prompt:
                door = self.door
                self.operations.add(
                    lambda: door.control.followup(job_id, prompt), lambda new: f"queued #{new.id} (follow-up)"
                )

        self.app.push_screen(FollowUpScreen(job_id, job.session_id), submitted)

    def action_open_job(self) -> None:
        from tui.screens.job_detail import JobDetailScreen

        job = self._selected_job()
        if job is not None:
            job_id = job.id
            door = self.door
            self.app.push_screen(JobDetailScreen(job, lambda: door.control.ledger.events(job_id), door.paths))

    def action_approve(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            door = self.door
            self.operations.add(lambda: door.control.approve(job_id, by="the TUI"), f"approved #{job_id}")

    def action_deny(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            door = self.door
            self.operations.add(lambda: door.control.deny(job_id, by="the TUI"), f"denied #{job_id}")

    def action_add_watch(self) -> None:
        from tui.screens.watch_dialogs import AddWatchScreen

        sources = self.door.sources

        def submitted(request: WatchRequest | None) -> None:
            if request is not None:
                self.operations.add(
                    lambda: sources.add_watch(
                        request.path, request.workflow, request.include, request.exclude
                    ),
                    lambda path: f"watching {path}",
                )

        if self.snapshot is not None:
            workflows = list(self.snapshot.watch_workflows)
        else:
            workflows = self.door.control.settings.workflow_names()
        self.app.push_screen(AddWatchScreen(workflows), submitted)

    def action_remove_watch(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        path = self.query_one(WatchList).selected_key
        if path is None:
            self.notify("no watch selected: tab to the watched paths pane first", severity="warning")
            return
        sources = self.door.sources

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.operations.add(lambda: sources.remove_watch(path), f"stopped watching {path}")

        self.app.push_screen(ConfirmScreen(f"Stop watching {path}?", yes="Remove"), confirmed)

    def action_test_path(self) -> None:
        from tui.screens.watch_dialogs import TestPathScreen

        self.app.push_screen(TestPathScreen(self.door.sources.explain))

    def action_resend(self) -> None:
        note_id = self.query_one(NotificationList).selected_notification_id
        if note_id is None:
            self.notify("no notification selected: tab to the notifications pane first", severity="warning")
            return
        sources = self.door.sources
        self.operations.add(lambda: sources.resend_notification(note_id), lambda new: f"queued #{new}")

    def action_follow(self) -> None:
        self.query_one(OutputPane).follow()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.job_filter = JobFilter.parse(event.value)
            self._draw_jobs()
            self._sync_output()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(JobTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.job_filter = JobFilter()
        self.query_one(JobTable).focus()
        self._draw_jobs()
        self._sync_output()

    def action_cursor_down(self) -> None:
        if isinstance(self.focused, DataTable):
            self.focused.action_cursor_down()
        elif isinstance(self.focused, OutputPane):
            self.focused.scroll_down()

    def action_cursor_up(self) -> None:
        if isinstance(self.focused, DataTable):
            self.focused.action_cursor_up()
        elif isinstance(self.focused, OutputPane):
            self.focused.scroll_up()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        if not self.door.session.owns_engine:
            self.app.exit(0)  # an attached window leaves the engine and its jobs alone
            return
        door = self.door
        self.operations.add(lambda: running_jobs(door.control), then=self._confirm_quit)

    def _confirm_quit(self, running: int | None) -> None:
        from tui.screens.confirm import ConfirmScreen

        if running == 0:
            self.app.exit(0)
            return
        if running is None:
            jobs = "The shared state cannot be read: jobs may be running."
        else:
            jobs = f"{running} job{'s are' if running > 1 else ' is'} running."
        question = f"{jobs} Quit? They are stopped now and run again on the next start."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.exit(0)

        self.app.push_screen(ConfirmScreen(question, yes="Quit"), confirmed)
