"""The control centre: one window that shows the shared state and drives the engine inside it.

The app owns the session (its engine, or an attachment to another process's), the bridge
from core events and the reads of the shared state (:mod:`tui.reader`, in a thread worker,
one at a time); the dashboard screen draws and acts. A stalled store (Redis stopped, a
locked ledger) leaves the window answering keys, with the status line saying the state is
unreachable until a read answers again.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from core.clock import SYSTEM_CLOCK, Clock
from core.config.settings import Settings
from core.display import clip
from core.errors import ConfigError, log_failure
from core.events import EngineTakenOver, JobOutput, ServiceFailed
from core.host.session import Session
from core.ops.control import Control
from core.paths import Paths
from tui.actions import palette_commands
from tui.bridge import CoreEvent, connect
from tui.failures import Failures, SurvivesFailures
from tui.reader import StateReader
from tui.screens.dashboard import DashboardScreen
from tui.screens.error import ErrorScreen
from tui.shared import Door, SnapshotFailed, SnapshotRead
from tui.sources import Sources

log = logging.getLogger(__name__)

STARTUP_HINT = (
    "Run `flowtui doctor` to see what is wrong (config, data dir, ledger, queue, claude); "
    "the log is in the data dir's logs/flowtui.log. Press q to quit."
)
REFRESH_SECONDS = 1.0
COALESCE_SECONDS = 0.05
ENGINE_WORKER = "engine start"
TOAST_LIMIT = 500


class FlowtuiApp(SurvivesFailures):
    """The window: opens the session, reads the shared state off its thread, hosts the screens."""

    CSS_PATH = "flowtui.tcss"
    TITLE = "flowtui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (Textual's own type)

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        open_session: Callable[[], Session],
        clock: Clock = SYSTEM_CLOCK,
        sources: Callable[[Session], Sources] | None = None,
        default_cwd: Path | None = None,
    ) -> None:
        super().__init__()
        self.default_cwd = default_cwd or Path.cwd()
        """Where new jobs run unless the user says otherwise."""
        self.settings = settings
        self.paths = paths
        self._open_session = open_session
        self.clock = clock
        """The wall clock of everything this window draws (the session reads the same one)."""
        self._make_sources = sources
        self.session: Session | None = None
        self._sources: Sources | None = None
        self._door: Door | None = None
        self._disconnect: Callable[[], None] | None = None
        self._reader = StateReader(self)
        """The reads of the shared state; the dashboard draws the newest snapshot."""
        self._output_dirty: set[int] = set()
        self._engine_waits = False
        self.failures = Failures()
        """Unhandled errors the window survived: the process exits 1 after any."""
        if settings.ui.theme and settings.ui.theme in self.available_themes:
            self.theme = settings.ui.theme

    # -- life cycle -----------------------------------------------------------

    def on_mount(self) -> None:
        try:
            self.session = self._open_session()
        except Exception as error:  # a damaged ledger, Redis away, a full disk: say so, do not crash
            self._show_startup_failure("cannot open the shared state", error)
            return
        self._sources = (self._make_sources or self._default_sources)(self.session)
        self._door = Door(self.session, self._sources, self.paths, self.default_cwd)
        self._disconnect = connect(self.session.bus, self)
        self.push_screen(self._new_dashboard())
        self.set_interval(COALESCE_SECONDS, self.apply_pending)
        # Changes arrive as events (an attached window hears them through inotify); the
        # timer makes durations tick and notices a read that does not answer.
        self.set_interval(REFRESH_SECONDS, self._tick)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        # The first frame shows the ledger; the engine and its services start behind it.
        self._engine_waits = self.session.engine_pending
        self._start_read()

    def on_unmount(self) -> None:
        if self._disconnect is not None:
            self._disconnect()
        if self._sources is not None:
            self._sources.close()
        if self.session is not None:
            self.session.close()

    def _start_engine(self) -> None:
        session = self.session
        if session is not None:
            self.run_worker(session.start_engine, name=ENGINE_WORKER, thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != ENGINE_WORKER or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if error is not None:
            self._show_startup_failure("the engine did not start", error)

    def _show_startup_failure(self, what: str, error: BaseException) -> None:
        """A known failure is its one line in the log and on screen; anything else is a bug,
        whose traceback goes to the log."""
        line = log_failure(log, what, error, logging.ERROR)
        self.push_screen(ErrorScreen(line or f"{what}: {type(error).__name__}: {error}", STARTUP_HINT))

    def _default_sources(self, session: Session) -> Sources:
        return Sources(self.settings, self.paths, session, session.environ)

    def _new_dashboard(self) -> DashboardScreen:
        """The dashboard, drawing the last state read at once (after a failure too)."""
        assert self._door is not None
        return DashboardScreen(self._door, self._reader.snapshot)

    # -- what tests and the screenshots read -------------------------------------

    @property
    def control(self) -> Control:
        assert self.session is not None
        return self.session.control

    @property
    def sources(self) -> Sources:
        assert self._sources is not None
        return self._sources

    @property
    def owns_engine(self) -> bool:
        return self.session is not None and self.session.owns_engine

    @property
    def shows_state(self) -> bool:
        """The dashboard has been given a snapshot of the shared state (the next frame shows it)."""
        return self._reader.snapshot is not None and self._reader.unshown is None

    @property
    def settled(self) -> bool:
        """No read, operation or screen's load is on its way: the screen shows what the shared
        state held a moment ago (the screenshots wait for this)."""
        if self.session is None:
            return True
        dashboard = self._dashboard()
        working = [
            worker for worker in self.workers if worker.name != ENGINE_WORKER and not worker.is_finished
        ]
        return self._reader.idle and not working and not (dashboard is not None and dashboard.busy)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Messages carry outside text (prompts, paths, `[workflows.x]` in errors): never
        markup, whatever a caller asks (``Widget.notify`` passes ``markup=True``), and never
        longer than a toast can hold."""
        super().notify(
            clip(message, TOAST_LIMIT), title=title, severity=severity, timeout=timeout, markup=False
        )

    # -- reading the shared state ---------------------------------------------------

    def refresh_soon(self) -> None:
        self._reader.wanted = True

    def _tick(self) -> None:
        self.refresh_soon()
        stalled = self._reader.stalled()
        if stalled is not None:
            self._show_unreachable(stalled)

    def _start_read(self) -> None:
        if self._door is not None:
            self._reader.start(self._door)

    def on_snapshot_read(self, message: SnapshotRead) -> None:
        if self._reader.answered(message.snapshot):
            self._show_snapshot()
        self._read_ended()

    def on_snapshot_failed(self, message: SnapshotFailed) -> None:
        first = self._reader.failed(message.reason)
        self._read_ended()
        if first:  # one toast when it starts; the status line keeps saying it
            self.notify(f"cannot read the shared state: {message.reason}", severity="error")
        self._show_unreachable(message.reason)

    def _read_ended(self) -> None:
        if self._engine_waits:
            self._engine_waits = False
            self.call_after_refresh(self._start_engine)

    def _show_unreachable(self, reason: str) -> None:
        self._reader.mark_unreachable(reason)
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.show_unreachable(reason)

    def _show_snapshot(self) -> None:
        dashboard = self._dashboard()
        snapshot = self._reader.unshown
        if dashboard is not None and snapshot is not None:
            self._reader.shown()
            dashboard.show(snapshot)

    def apply_pending(self) -> None:
        """Every 50 ms: start a read if something changed, draw what arrived, pull output."""
        dashboard = self._dashboard()
        if dashboard is None or self.session is None:
            return
        dirty, self._output_dirty = self._output_dirty, set()
        for job_id in dirty:
            if dashboard.pull_output(job_id):
                self._output_dirty.add(job_id)  # still behind: keep catching up, a time-boxed pull a tick
        self._show_snapshot()
        if self._reader.wanted:
            self._start_read()

    def _dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and screen.composed:  # a fresh one may not be yet
                return screen
        return None

    # -- messages from the dashboard and from core ---------------------------------

    def on_dashboard_screen_refresh_wanted(self, message: DashboardScreen.RefreshWanted) -> None:
        self.refresh_soon()

    def on_dashboard_screen_output_behind(self, message: DashboardScreen.OutputBehind) -> None:
        self._output_dirty.add(message.job_id)

    def on_core_event(self, message: CoreEvent) -> None:
        event = message.event
        if isinstance(event, JobOutput):
            self._output_dirty.add(event.job_id)
            return
        if isinstance(event, ServiceFailed):
            self.notify(f"{event.name}: {event.reason}", severity="error", timeout=10)
        if isinstance(event, EngineTakenOver):
            self.notify(
                f"the engine (pid {event.previous_pid}) stopped: this window runs the engine now "
                "(interrupted jobs run again)",
                severity="warning",
                timeout=15,
            )
        self.refresh_soon()

    # -- theme and command palette -------------------------------------------

    def _remember_theme(self, theme: Any) -> None:
        from core.config.edit import set_value  # tomlkit, only when the theme changes

        if theme.name == self.settings.ui.theme:
            return
        try:
            self.settings = set_value(self.paths.config_file, "ui", "theme", theme.name)
        except (ConfigError, OSError) as error:
            self.notify(f"theme not saved: {error}", severity="warning")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, DashboardScreen):
            yield from palette_commands(screen)


def build_app(
    settings: Settings,
    paths: Paths,
    open_session: Callable[[], Session] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    sources: Callable[[Session], Sources] | None = None,
    default_cwd: Path | None = None,
) -> FlowtuiApp:
    """The one factory for the CLI, the tests and the screenshot command. Without
    ``open_session`` the window opens the shared state and starts the engine after its
    first frame (see :meth:`Session.open`)."""
    opener = open_session or (lambda: Session.open(settings, paths, clock=clock))
    return FlowtuiApp(settings, paths, opener, clock, sources, default_cwd)


def run_app(settings: Settings, paths: Paths) -> int:
    from core.host.logs import configure_logging

    paths.ensure_data_dir()
    configure_logging(paths, to_stderr=False)
    app = build_app(settings, paths)
    result = app.run()
    if app.failures:  # the window lived on after an unhandled error: say so on the terminal
        print(f"flowtui: {app.failures.summary()}", file=sys.stderr)
    return exit_status(app, result)


def exit_status(app: FlowtuiApp, result: int | None) -> int:
    """The process's exit status: the app's result after a clean quit, and never 0 after an
    unhandled error, whether the window lived on after it or ended (Textual's code 1)."""
    if app.failures:
        return max(app.return_code or 0, 1)
    return app.return_code or result or 0
