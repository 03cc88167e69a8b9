"""The control centre: one window that shows the shared state and drives the engine inside it.

The app owns the session (its engine, or an attachment to another process's) and the
bridge from core events; the dashboard screen renders and acts. Refreshes are coalesced:
any number of events within 50 ms cost one re-read of the ledger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from core.clock import SYSTEM_CLOCK, Clock
from core.config.settings import ConfigError, Settings
from core.display import clip
from core.errors import log_failure
from core.events import EngineTakenOver, JobOutput, ServiceFailed
from core.host.session import Session
from core.ops.control import Control, InputError
from core.ops.overview import read_overview
from core.paths import Paths
from tui.bridge import CoreEvent, connect
from tui.failures import Failures, failing_screen, show_failure
from tui.screens.dashboard import DashboardScreen
from tui.screens.error import ErrorScreen
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


class FlowtuiApp(App[int]):
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
        self._disconnect: Callable[[], None] | None = None
        self._dirty = True
        self._output_dirty: set[int] = set()
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
        self._disconnect = connect(self.session.bus, self)
        self.push_screen(DashboardScreen())
        self.set_interval(COALESCE_SECONDS, self.apply_pending)
        # Changes arrive as events (an attached window hears them through inotify); the
        # timer only makes durations tick.
        self.set_interval(REFRESH_SECONDS, self.refresh_soon)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.refresh_soon()
        if self.session.engine_pending:
            # The first frame shows the ledger; the engine and its services start behind it.
            self.call_after_refresh(self._start_engine)

    def on_unmount(self) -> None:
        if self._disconnect is not None:
            self._disconnect()
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

    # -- what screens use ------------------------------------------------------

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

    def session_description(self) -> str:
        return self.session.describe() if self.session is not None else "starting"

    def now(self) -> datetime:
        return self.clock.now()

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

    def output_pending(self, job_id: int) -> None:
        """The output pane is behind this job's transcript: pull again on the next tick."""
        self._output_dirty.add(job_id)

    def refresh_soon(self) -> None:
        self._dirty = True

    def act(self, operation: Callable[[], Any], message: str | Callable[[Any], str]) -> None:
        """Run an operation on core; its one-line error becomes a notification, never a crash."""
        try:
            result = operation()
        except (InputError, ConfigError) as error:
            self.notify(str(error), severity="error")
        except Exception as error:
            line = log_failure(log, "operation failed", error)
            self.notify(
                line or f"the operation failed: {type(error).__name__}: {error} (see the log)",
                severity="error",
            )
        else:
            self.notify(message(result) if callable(message) else message)
        self.refresh_soon()
        self.apply_pending()  # what a key changed shows at once, not on the next tick

    # -- events from core -------------------------------------------------------

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

    def apply_pending(self) -> None:
        """Apply what core changed since the last call (called every 50 ms)."""
        dashboard = self._dashboard()
        if dashboard is None or self.session is None:
            return
        dirty, self._output_dirty = self._output_dirty, set()
        for job_id in dirty:
            if dashboard.pull_output(job_id):
                self._output_dirty.add(job_id)  # still behind: keep catching up, a time-boxed pull a tick
        if self._dirty:
            self._dirty = False
            try:
                dashboard.show(read_overview(self.control))
            except Exception as error:  # a locked or damaged ledger: say so, keep running
                line = log_failure(log, "refresh failed", error)
                self.notify(line or f"cannot read the ledger: {error}", severity="error")

    def _dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and screen.composed:  # a fresh one may not be yet
                return screen
        return None

    # -- unhandled errors (see tui/failures.py) ---------------------------------

    async def _dispatch_message(self, message: Message) -> None:
        """Textual's message loop stops for good after an error in a handler; the app's own
        loop (keys and their actions, core events) must outlive one, so it reports instead."""
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            self._handle_exception(error)

    def _handle_exception(self, error: Exception) -> None:
        """Textual's hook for every unhandled error, which would end the app (and the engine
        in it): the failure screen says what failed and the engine's jobs run on."""
        log.error("unhandled error in the window", exc_info=error)
        if self._exit or not self.failures.record(error):
            super()._handle_exception(error)  # a storm: end as Textual does; unmount stops the engine
            return
        if self._exception is None:
            self._exception = error  # a pilot test still fails on it: run_test re-raises this one
        self.call_later(show_failure, self, failing_screen(), f"{type(error).__name__}: {error}")

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
        if not isinstance(screen, DashboardScreen):
            return
        for title, help_text, action in (
            ("Pause / resume the queue", "Stop or restart taking jobs", screen.action_toggle_pause),
            ("New job", "Queue a prompt for Claude", screen.action_new_job),
            ("Retry job", "Queue the selected finished job again", screen.action_retry),
            ("Cancel job", "Cancel the selected job", screen.action_cancel),
            ("Follow up", "Continue the selected job's Claude session", screen.action_follow_up),
            (
                "Job details",
                "Transcript, events, cost and session of the selected job",
                screen.action_open_job,
            ),
            ("Filter jobs", "By text, state:, source:, workflow:", screen.action_filter),
            ("Approve job", "Let the selected job waiting for approval run", screen.action_approve),
            ("Deny job", "Refuse the selected job waiting for approval", screen.action_deny),
            ("Add watch path", "Watch a directory; changes there become jobs", screen.action_add_watch),
            ("Remove watch path", "Stop watching the selected path", screen.action_remove_watch),
            ("Test a path", "Which watch a change there triggers, and its prompt", screen.action_test_path),
            ("Resend notification", "Send the selected failed notification again", screen.action_resend),
            ("Help", "Every key", screen.action_help),
        ):
            yield SystemCommand(title, help_text, action)


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
