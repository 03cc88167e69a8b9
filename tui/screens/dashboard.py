"""The dashboard: queue, output, watched paths and notifications, and every key that acts on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from core.display import one_line
from core.jobs import JobState
from core.ops.control import Control
from core.ops.overview import Overview
from tui.job_filter import JobFilter
from tui.widgets.job_table import JobTable
from tui.widgets.output_pane import OutputPane
from tui.widgets.side_lists import NotificationList, WatchList
from tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from tui.app import FlowtuiApp
    from tui.screens.new_job import NewJobRequest
    from tui.screens.watch_dialogs import WatchRequest


NOTHING_SHOWN = (0, 0)


class DashboardScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause/Resume"),
        Binding("n", "new_job", "New job"),
        Binding("r", "retry", "Retry"),
        Binding("c", "cancel", "Cancel"),
        Binding("u", "follow_up", "Follow up"),
        Binding("enter", "open_job", "Details", show=False),
        Binding("f", "follow", "Follow", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("a", "add_watch", "Add watch"),
        Binding("d", "remove_watch", "Remove watch", show=False),
        Binding("t", "test_path", "Test path", show=False),
        Binding("R", "resend", "Resend", show=False),
        Binding("y", "approve", "Approve", show=False),
        Binding("N", "deny", "Deny", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job_filter = JobFilter()
        self.composed = False
        """Its panes exist (from its mount on), so the app can show the state in them."""
        self._shown_job: tuple[int, int] | None = None  # (job id, attempts) in the output pane

    @property
    def flowtui(self) -> FlowtuiApp:
        from tui.app import FlowtuiApp

        assert isinstance(self.app, FlowtuiApp)
        return self.app

    @property
    def control(self) -> Control:
        return self.flowtui.control

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
        self.flowtui.apply_pending()  # the first frame shows the state, not empty panes

    # -- rendering the shared state -------------------------------------------

    def show(self, overview: Overview) -> None:
        app = self.flowtui
        leader = app.sources.leader()
        self.query_one(StatusLine).show(
            app.session_description() + (f" · leader: {leader}" if leader else ""),
            overview.pause,
            overview.counts,
            overview.spent_today_usd,
            app.sources.telegram_state(),
        )
        jobs = [job for job in overview.jobs if self.job_filter.matches(job)]
        table = self.query_one(JobTable)
        table.show_jobs(jobs, app.now())
        typed = self.query_one("#filter", Input).value
        filtered = f" · filter: {one_line(typed, 60)}" if self.job_filter.active else ""
        table.border_title = Text(f"Jobs ({len(jobs)}){filtered}")  # a border title str is markup
        self.query_one(WatchList).show_watches(app.sources.watch_rows())
        self.query_one(NotificationList).show_notifications(app.sources.notification_rows())
        self._sync_output()

    def _sync_output(self) -> None:
        table = self.query_one(JobTable)
        job_id = table.selected_job_id
        output = self.query_one(OutputPane)
        if job_id is None:
            if self._shown_job != NOTHING_SHOWN:
                self._shown_job = NOTHING_SHOWN
                output.show_job(None, [])
            return
        job = self.control.ledger.get(job_id)
        if job is None:
            return
        key = (job.id, job.attempts)
        if key != self._shown_job:
            self._shown_job = key
            paths = self.flowtui.paths
            output.show_job(
                job.id, [paths.transcript_for(job.id, n) for n in range(1, max(job.attempts, 1) + 1)]
            )
            output.border_title = f"Output · #{job.id}"
        else:
            output.pull()
        if output.behind:
            self.flowtui.output_pending(job.id)

    def pull_output(self, job_id: int) -> bool:
        """New output for ``job_id`` was published: read it if that job is shown; True
        while the pane is still behind the transcript."""
        output = self.query_one(OutputPane)
        if output.job_id != job_id:
            return False
        output.pull()
        return output.behind

    def on_data_table_row_highlighted(self, event: JobTable.RowHighlighted) -> None:
        if event.data_table.id == "jobs":
            self.flowtui.refresh_soon()

    def on_data_table_row_selected(self, event: JobTable.RowSelected) -> None:
        if event.data_table.id == "jobs":
            self.action_open_job()

    # -- actions --------------------------------------------------------------

    def _selected_job_id(self) -> int | None:
        job_id = self.query_one(JobTable).selected_job_id
        if job_id is None:
            self.notify("no job selected", severity="warning")
        return job_id

    def action_toggle_pause(self) -> None:
        if self.control.pause_state().paused:
            self.flowtui.act(self.control.resume, "queue resumed")
        else:
            self.flowtui.act(self.control.pause, "queue paused: running jobs finish")

    def action_new_job(self) -> None:
        from tui.screens.new_job import NewJobScreen

        def submitted(request: NewJobRequest | None) -> None:
            if request is not None:
                self.flowtui.act(
                    lambda: self.control.add(request.prompt, workflow=request.workflow, cwd=request.cwd),
                    lambda job: f"queued #{job.id}",
                )

        self.app.push_screen(
            NewJobScreen(self.control.settings.workflow_names(), str(self.flowtui.default_cwd)), submitted
        )

    def action_retry(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            self.flowtui.act(
                lambda: self.control.retry(job_id), lambda job: f"queued #{job.id} (retry of #{job_id})"
            )

    def action_cancel(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        job_id = self._selected_job_id()
        if job_id is None:
            return
        job = self.control.get(job_id)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.flowtui.act(lambda: self.control.cancel(job_id), lambda state: f"#{job_id}: {state}")

        if job.state is JobState.RUNNING:
            self.app.push_screen(
                ConfirmScreen(f"Job #{job_id} is running. Cancel it?", yes="Cancel it"), confirmed
            )
        else:
            confirmed(True)

    def action_follow_up(self) -> None:
        from tui.screens.new_job import FollowUpScreen

        job_id = self._selected_job_id()
        if job_id is None:
            return
        job = self.control.get(job_id)
        if not job.session_id:
            self.notify(f"job #{job_id} has no Claude session to continue yet", severity="warning")
            return

        def submitted(prompt: str | None) -> None:
            if prompt:
                self.flowtui.act(
                    lambda: self.control.followup(job_id, prompt), lambda new: f"queued #{new.id} (follow-up)"
                )

        self.app.push_screen(FollowUpScreen(job_id, job.session_id), submitted)

    def action_open_job(self) -> None:
        from tui.screens.job_detail import JobDetailScreen

        job_id = self._selected_job_id()
        if job_id is not None:
            job = self.control.get(job_id)
            self.app.push_screen(JobDetailScreen(job, self.control.ledger.events(job_id), self.flowtui.paths))

    def action_approve(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            self.flowtui.act(lambda: self.control.approve(job_id, by="the TUI"), f"approved #{job_id}")

    def action_deny(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            self.flowtui.act(lambda: self.control.deny(job_id, by="the TUI"), f"denied #{job_id}")

    def action_add_watch(self) -> None:
        from tui.screens.watch_dialogs import AddWatchScreen

        def submitted(request: WatchRequest | None) -> None:
            if request is not None:
                sources = self.flowtui.sources
                self.flowtui.act(
                    lambda: sources.add_watch(
                        request.path, request.workflow, request.include, request.exclude
                    ),
                    lambda path: f"watching {path}",
                )

        workflows = self.flowtui.sources.current_settings().workflow_names()
        self.app.push_screen(AddWatchScreen(workflows), submitted)

    def action_remove_watch(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        path = self.query_one(WatchList).selected_key
        if path is None:
            self.notify("no watch selected: tab to the watched paths pane first", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.flowtui.act(lambda: self.flowtui.sources.remove_watch(path), f"stopped watching {path}")

        self.app.push_screen(ConfirmScreen(f"Stop watching {path}?", yes="Remove"), confirmed)

    def action_test_path(self) -> None:
        from tui.screens.watch_dialogs import TestPathScreen

        self.app.push_screen(TestPathScreen(self.flowtui.sources.explain))

    def action_resend(self) -> None:
        note_id = self.query_one(NotificationList).selected_notification_id
        if note_id is None:
            self.notify("no notification selected: tab to the notifications pane first", severity="warning")
            return
        self.flowtui.act(
            lambda: self.flowtui.sources.resend_notification(note_id), lambda new: f"queued #{new}"
        )

    def action_follow(self) -> None:
        self.query_one(OutputPane).follow()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.job_filter = JobFilter.parse(event.value)
            self.flowtui.refresh_soon()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(JobTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.job_filter = JobFilter()
        self.query_one(JobTable).focus()
        self.flowtui.refresh_soon()

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
        from tui.screens.confirm import ConfirmScreen

        running = self.control.ledger.counts()[JobState.RUNNING]
        if running and self.flowtui.owns_engine:
            question = (
                f"{running} job{'s are' if running > 1 else ' is'} running. Quit? "
                "They are stopped now and run again on the next start."
            )

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.app.exit(0)

            self.app.push_screen(ConfirmScreen(question, yes="Quit"), confirmed)
        else:
            self.app.exit(0)
