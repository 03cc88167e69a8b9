"""The control centre: one window that shows the shared state and drives the engine inside it.

The app owns the session (its engine, or an attachment to another process's), the bridge
from core events and the reads of the shared state (:mod:`tui.reader`, in a thread worker,
one at a time); the dashboard screen draws and acts. A stalled store (Redis stopped, a
locked ledger) leaves the window answering keys, with the status line saying the state is
unreachable until a read answers again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from core.clock import SYSTEM_CLOCK, Clock
from core.config.live import Signature, config_signature
from core.config.settings import Settings
from core.display import clip
from core.errors import ConfigError, describe_os_error, log_failure
from core.events import EngineTakenOver, JobOutput, QuestionChanged, ServiceFailed
from core.host.session import Session
from core.ops.control import Control
from core.paths import Paths
from tui.actions import palette_commands
from tui.bridge import CoreEvent, connect
from tui.failures import Failures, SurvivesFailures
from tui.operations import running_jobs
from tui.reader import ProbeAnswered, StateReader
from tui.screens.dashboard import DashboardScreen
from tui.screens.error import ErrorScreen
from tui.screens.quit import QuitChoice, QuitScreen, running_sentence
from tui.shared import Door, Snapshot, SnapshotFailed, SnapshotRead
from tui.sources import Sources
from tui.widgets.job_table import JobTable

log = logging.getLogger(__name__)

STARTUP_HINT = (
    "Run `flowtui doctor` to see what is wrong (config, data dir, ledger, queue, claude); "
    "the log is in the data dir's logs/flowtui.log. Press q to quit."
)
REFRESH_SECONDS = 1.0
COALESCE_SECONDS = 0.05
ENGINE_WORKER = "engine start"
TOAST_LIMIT = 500
HANG_UP_EXIT_SECONDS = 20.0
"""After the terminal closed, how long the window may take to close before it ends itself:
Textual's output thread dies on the gone terminal and a later write can block its exit."""


@dataclass(frozen=True)
class HandOff:
    """The background engine this window handed its jobs to as it closed."""

    process: subprocess.Popen[bytes]
    running: int | None
    """How many jobs ran then (None when the shared state could not say)."""


class FlowtuiApp(SurvivesFailures):
    """The window: opens the session, reads the shared state off its thread, hosts the screens."""

    CSS_PATH = "flowtui.tcss"
    TITLE = "flowtui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (Textual's own type)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        # Not a priority: with text selected, ctrl+c copies it (the screen's and inputs' binding).
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]

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
        self._read_started_at = 0.0
        """When the last read was started (monotonic s): a change sooner waits for the beat."""
        self._read_timer: Timer | None = None
        self._pending_timer: Timer | None = None
        """Applies what arrived every 50 ms while anything is pending; paused when idle."""
        self._config_seen: Signature = None
        self._question_frame = False
        """A question was drawn from the engine's event and its frame is not out yet."""
        self._engine_waits = False
        self.failures = Failures()
        """Unhandled errors the window survived: the process exits 1 after any."""
        self.handed_off: HandOff | None = None
        """Set when the user chose to keep the jobs running in the background."""
        self.owns_terminal = False
        """This process's terminal is the window's (``run_app``): after a hang-up its output
        goes to /dev/null and the process ends itself if closing hangs."""
        self.hang_up_deadline: threading.Timer | None = None
        self._quit_asked = False
        self._froze_memory = False
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
        self._pending_timer = self.set_interval(COALESCE_SECONDS, self.apply_pending)
        # Changes arrive as events (an attached window hears them through inotify): the
        # second's tick reads nothing, it makes durations tick and notices a stalled read.
        self.set_interval(REFRESH_SECONDS, self._tick)
        self._reader.remote = self.session.settings.queue_url(self.session.environ) is not None
        self._config_seen = config_signature(self.paths.config_file)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not on the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._terminal_closed)
        # The first frame shows the ledger; the engine and its services start behind it.
        self._engine_waits = self.session.engine_pending
        self._start_read()

    def on_unmount(self) -> None:
        if self._froze_memory:
            gc.unfreeze()  # a process that goes on (the tests) collects it again
        with suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._disconnect is not None:
            self._disconnect()
        if self._sources is not None:
            self._sources.close()
        if self.session is not None:
            self.session.close(handed_to=self.handed_off.process.pid if self.handed_off else None)

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

    def _freeze_memory(self) -> None:
        """What the window and the engine built to start lives as long as they do: out of the
        collector's way, a full collection no longer walks it (a 60-90 ms pause in the middle
        of a frame, with the window and the engine in one process)."""
        if not self._froze_memory:
            self._froze_memory = True
            gc.collect()
            gc.freeze()

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
        working = [
            worker for worker in self.workers if worker.name != ENGINE_WORKER and not worker.is_finished
        ]
        screens_busy = any(getattr(screen, "busy", False) for screen in self.screen_stack)
        return self._reader.idle and not working and not screens_busy

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
        """Read again: at once when the last read started 50 ms ago or more (a question waits
        on nobody's timer), else 50 ms after it (a burst of changes costs one read a beat)."""
        self._reader.wanted = True
        due = self._read_started_at + COALESCE_SECONDS - time.monotonic()
        if self._question_frame:
            pass  # started once the question's frame is drawn (apply_pending)
        elif due <= 0:
            self._start_read()
        elif self._read_timer is None:
            self._read_timer = self.set_timer(due, self._read_when_due)
        self._wake()

    def _read_when_due(self) -> None:
        self._read_timer = None
        if self._reader.wanted:
            self._start_read()

    def _wake(self) -> None:
        """Something is pending: apply it on the next 50 ms beat."""
        if self._pending_timer is not None:
            self._pending_timer.resume()

    def _tick(self) -> None:
        """Every second, without reading the shared state: running durations tick from the
        snapshot held, an edited config file (watches, workflows) asks for a read, and a
        read that does not answer is said (the reader also asks for a slow safety read)."""
        if self._door is not None:
            self._reader.tick(self._door)
        if self._reader.wanted:
            self._wake()
        signature = config_signature(self.paths.config_file)
        if signature != self._config_seen:
            self._config_seen = signature
            self.refresh_soon()
        stalled = self._reader.stalled()
        if stalled is not None:
            self._show_unreachable(stalled)
        dashboard = self._dashboard()
        if dashboard is not None:
            with suppress(NoMatches):  # a dashboard being taken down has no table
                dashboard.query_one(JobTable).tick_durations(self.clock.now())

    def _start_read(self) -> None:
        if self._door is not None:
            reads = self._reader.reads
            self._reader.start(self._door)  # nothing when a read is on its way
            if self._reader.reads != reads:
                self._read_started_at = time.monotonic()

    def on_snapshot_read(self, message: SnapshotRead) -> None:
        if self._reader.answered(message.snapshot) and not self._question_frame:
            self._show_snapshot()
        self._read_ended()

    def on_probe_answered(self, message: ProbeAnswered) -> None:
        self._reader.probe_answered()
        self._read_ended()

    def on_snapshot_failed(self, message: SnapshotFailed) -> None:
        first = self._reader.failed(message.reason)
        self._read_ended()
        if first:  # one toast when it starts; the status line keeps saying it
            self.notify(f"cannot read the shared state: {message.reason}", severity="error")
        self._show_unreachable(message.reason)

    def _read_ended(self) -> None:
        if self._reader.wanted or self._reader.unshown is not None:  # came while it was on its way
            self._wake()
        if self._engine_waits:
            self._engine_waits = False
            self.call_after_refresh(self._start_engine)
        elif self.session is not None and not self.session.engine_pending and not self._froze_memory:
            # The engine runs (or this window attached): what lasts is built. After the frame
            # that shows this read: a collection takes tens of ms.
            self.call_after_refresh(self._freeze_memory)

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
        """Every 50 ms: start a read if something changed, draw what arrived, pull output
        (after a question's frame: :meth:`_question_changed`)."""
        dashboard = self._dashboard()
        if dashboard is None or self.session is None or self._question_frame:
            return
        self._pull_output(dashboard)
        self._show_snapshot()
        if self._reader.wanted:
            self._start_read()
        idle = not self._output_dirty and not self._reader.wanted and self._reader.unshown is None
        if idle and self._pending_timer is not None:
            # Woken again by a change, an answered read or the second's tick (see _wake).
            self._pending_timer.pause()

    def _pull_output(self, dashboard: DashboardScreen) -> None:
        dirty, self._output_dirty = self._output_dirty, set()
        for job_id in dirty:
            if dashboard.pull_output(job_id):
                self._output_dirty.add(job_id)  # still behind: keep catching up, a time-boxed pull a tick

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
        self._wake()

    def on_core_event(self, message: CoreEvent) -> None:
        event = message.event
        if isinstance(event, JobOutput):
            self._output_dirty.add(event.job_id)
            self._wake()
            return
        if isinstance(event, QuestionChanged):
            self._question_changed(event)
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

    def _question_changed(self, event: QuestionChanged) -> None:
        """A question asked or ended in this process's engine: drawn now, from the snapshot
        held (the read that the change also asks for confirms it)."""

        def change(snapshot: Snapshot, generation: int) -> Snapshot | None:
            return snapshot.with_question(event.job_id, event.question, event.preview, generation)

        dashboard = self._dashboard()
        patched = self._reader.patch(change) if dashboard is not None else None
        if dashboard is None or patched is None:
            return
        dashboard.show_question_change(patched)
        # That frame goes first, small: reads, their drawing and new output (which scrolls the
        # whole output pane) wait until it is drawn.
        self._question_frame = True
        self.call_after_refresh(self._question_drawn)

    def _question_drawn(self) -> None:
        self._question_frame = False
        self._wake()

    # -- quitting -------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Every way to quit (q, ctrl+q, ctrl+c, the palette's Quit) asks first while this
        window's engine runs jobs; an attached window leaves the engine alone and quits at once."""
        self.request_quit(self._ask_to_quit)

    def on_dashboard_screen_quit_wanted(self, message: DashboardScreen.QuitWanted) -> None:
        self.request_quit(self._ask_to_quit)

    def request_quit(self, then: Callable[[int | None], None]) -> None:
        """Count the running jobs off the UI thread, then ``then(count)``; quit at once when
        this window runs no engine."""
        dashboard = self._dashboard()
        if not self.owns_engine or dashboard is None:
            self.exit(0)
            return
        if self._quit_asked:
            return  # a second ctrl+q while the count or the question is on its way
        self._quit_asked = True
        control = self.control
        dashboard.operations.add(lambda: running_jobs(control), then=then)

    def _ask_to_quit(self, running: int | None) -> None:
        if running == 0:
            self.exit(0)
            return

        def chosen(choice: QuitChoice | None) -> None:
            self._quit_asked = False
            if choice is QuitChoice.STOP:
                self.exit(0)
            elif choice is QuitChoice.BACKGROUND:
                self._hand_off(running)

        self.push_screen(QuitScreen(running), chosen)

    def _terminal_closed(self) -> None:
        """SIGHUP: nobody is left to ask, so running jobs go on in a background engine (the
        safe default); the log says so."""
        log.warning("the terminal closed (SIGHUP)")
        if self.owns_terminal:
            with suppress(OSError):  # the screen's writes go nowhere instead of failing on the gone terminal
                sink = os.open(os.devnull, os.O_WRONLY)
                os.dup2(sink, 1)
                os.dup2(sink, 2)
                os.close(sink)
            self.hang_up_deadline = threading.Timer(HANG_UP_EXIT_SECONDS, self._end_after_hang_up)
            self.hang_up_deadline.daemon = True
            self.hang_up_deadline.start()
        self._quit_asked = False  # a question on screen has nobody to answer it
        self.request_quit(self._hung_up)

    def _hung_up(self, running: int | None) -> None:
        if running == 0:
            log.info("no jobs were running: the engine stops with the window")
            self.exit(0)
            return
        log.warning("%s Keeping them running in a background engine.", running_sentence(running))
        if not self._hand_off(running):
            self.exit(0)  # said in the log: they run again on the next start

    def _end_after_hang_up(self) -> None:
        """The window did not close after its terminal did: hand over and end the process
        (in a timer thread; closing the session twice is harmless)."""
        log.warning("the window did not close within %ss of its terminal: ending it", HANG_UP_EXIT_SECONDS)
        if self.session is not None:
            self.session.close(handed_to=self.handed_off.process.pid if self.handed_off else None)
        logging.shutdown()
        os._exit(0)

    def _hand_off(self, running: int | None) -> bool:
        """Start the background engine, then quit: closing the session stops this engine,
        whose lock the background one waits for."""
        from core.host.serve import start_background_engine  # the engine's imports, only now

        assert self.session is not None
        try:
            process = start_background_engine(self.paths, self.session.environ)
        except OSError as error:
            line = f"the background engine did not start: {describe_os_error(error)}"
            log.error("%s", line)
            self.notify(line, severity="error", timeout=15)
            return False
        log.info("handing the engine to a background engine (pid %s)", process.pid)
        self.handed_off = HandOff(process, running)
        self.exit(0)
        return True

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
    app.owns_terminal = True
    result = app.run()
    if app.hang_up_deadline is not None:
        app.hang_up_deadline.cancel()  # closed in time
    if app.failures:  # the window lived on after an unhandled error: say so on the terminal
        print(f"flowtui: {app.failures.summary()}", file=sys.stderr)
    if app.handed_off is not None:
        from core.host.serve import handoff_report

        report = handoff_report(paths, app.handed_off.process, app.handed_off.running)
        log.info("%s", report)
        with suppress(OSError):  # the terminal may be gone (it closed): the log has the line
            print(f"flowtui: {report}", flush=True)
    return exit_status(app, result)


def exit_status(app: FlowtuiApp, result: int | None) -> int:
    """The process's exit status: the app's result after a clean quit, and never 0 after an
    unhandled error, whether the window lived on after it or ended (Textual's code 1)."""
    if app.failures:
        return max(app.return_code or 0, 1)
    return app.return_code or result or 0
