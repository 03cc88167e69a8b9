"""The control centre: one window that shows the queue and drives the engine inside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer

from core.control import Control, InputError
from core.events import EngineChanged
from core.paths import Paths
from core.session import Session
from core.settings import Settings
from tui.bridge import CoreEvent, connect
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine

JOB_ROWS_SHOWN = 500
ATTACHED_REFRESH_SECONDS = 1.0


class FlowtuiApp(App[int]):
    CSS_PATH = "flowtui.tcss"
    TITLE = "flowtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause/Resume"),
        Binding("r", "retry", "Retry"),
        Binding("c", "cancel", "Cancel"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        open_session: Callable[[], Session],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.paths = paths
        self._open_session = open_session
        self._clock = clock or (lambda: datetime.now(UTC))
        self.session: Session | None = None
        self._disconnect: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        table = JobTable(id="jobs")
        table.border_title = "Jobs"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.session = self._open_session()
        self._disconnect = connect(self.session.bus, self)
        # Durations tick while jobs run; an attached window also re-reads what the engine did.
        interval = 1.0 if self.session.owns_engine else ATTACHED_REFRESH_SECONDS
        self.set_interval(interval, self.refresh_state)
        self.refresh_state()

    def on_unmount(self) -> None:
        if self._disconnect is not None:
            self._disconnect()
        if self.session is not None:
            self.session.close()

    def on_core_event(self, message: CoreEvent) -> None:
        if isinstance(message.event, EngineChanged) and message.event.reason == "error":
            self.notify(str(message.event.reason), severity="error")
        self.refresh_state()

    def refresh_state(self) -> None:
        if self.session is None:
            return
        control = self.session.control
        pause = control.pause_state()
        self.query_one(StatusLine).show(self.session.describe(), pause, control.ledger.counts())
        self.query_one(JobTable).show_jobs(control.ledger.list_jobs(limit=JOB_ROWS_SHOWN), self._clock())

    # -- actions --------------------------------------------------------------

    def _selected(self) -> int | None:
        job_id = self.query_one(JobTable).selected_job_id
        if job_id is None:
            self.notify("no job selected", severity="warning")
        return job_id

    def action_toggle_pause(self) -> None:
        assert self.session is not None
        control = self.session.control
        if control.pause_state().paused:
            control.resume()
            self.notify("queue resumed")
        else:
            control.pause()
            self.notify("queue paused: running jobs finish")
        self.refresh_state()

    def action_retry(self) -> None:
        job_id = self._selected()
        if job_id is not None:
            self._act(lambda: f"queued #{self._control().retry(job_id).id} (retry of #{job_id})")

    def action_cancel(self) -> None:
        job_id = self._selected()
        if job_id is not None:
            self._act(lambda: f"cancelling #{job_id}: {self._control().cancel(job_id)}")

    def action_cursor_down(self) -> None:
        self.query_one(JobTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(JobTable).action_cursor_up()

    def _control(self) -> Control:
        assert self.session is not None
        return self.session.control

    def _act(self, operation: Callable[[], str]) -> None:
        try:
            self.notify(operation())
        except InputError as error:
            self.notify(str(error), severity="error")
        self.refresh_state()


def build_app(
    settings: Settings,
    paths: Paths,
    open_session: Callable[[], Session] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FlowtuiApp:
    """The one factory for the CLI, the tests and the screenshot command."""
    opener = open_session or (lambda: Session.start(settings, paths))
    return FlowtuiApp(settings, paths, opener, clock)


def run_app(settings: Settings, paths: Paths) -> int:
    from core.logs import configure_logging

    paths.ensure_data_dir()
    configure_logging(paths, to_stderr=False)
    result = build_app(settings, paths).run()
    return result or 0
