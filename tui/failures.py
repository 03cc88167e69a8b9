"""An unhandled error in the window must not take the engine inside it down.

Textual ends the app on any unhandled error. Here the screen that failed (its message loop
stops after an error) is taken off the stack, a fresh dashboard takes the old one's place
if that was it, and the failure screen says what failed, while the engine's jobs run on. A
storm of errors (a screen failing on every refresh) ends the app as Textual would; the
engine then stops on unmount, so running jobs go back to the queue. Either way the process
exits non-zero (see ``tui.app.run_app``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from textual._context import active_message_pump  # Textual sets it around every handler
from textual.app import App
from textual.dom import NoScreen
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget

from core.display import one_line

log = logging.getLogger(__name__)

MAX_FAILURES = 10
"""More unhandled errors than this within ``STORM_SECONDS`` end the app."""
STORM_SECONDS = 10.0
FAILURE_HINT = (
    "The engine keeps running its jobs. The traceback is in the data dir's logs/flowtui.log. "
    "Esc goes back to the queue; q quits (it asks first while jobs run). "
    "flowtui exits with status 1 after an error like this."
)


class Failures:
    """Every unhandled error the window survived, one line each (the exit status and the
    last words on the terminal say so)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._times: deque[float] = deque(maxlen=MAX_FAILURES + 1)

    def record(self, error: BaseException) -> bool:
        """Note ``error``; True while the window should live on, False in a storm."""
        self.lines.append(one_line(f"{type(error).__name__}: {error}", 500))
        now = time.monotonic()
        self._times.append(now)
        return not (len(self._times) > MAX_FAILURES and now - self._times[0] < STORM_SECONDS)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def summary(self) -> str:
        count = len(self.lines)
        more = f" and {count - 1} more" if count > 1 else ""
        return f"the window had an unhandled error ({self.lines[0]}){more}; see logs/flowtui.log"


def failing_screen() -> Screen[Any] | None:
    """The screen whose message loop (its own, or one of its widgets') raised, if any."""
    pump = active_message_pump.get(None)
    if isinstance(pump, Screen):
        return pump
    if isinstance(pump, Widget):
        try:
            return pump.screen
        except NoScreen:  # a widget not (or no longer) on a screen: no screen to take away
            return None
    return None  # the app's own loop, which survives (see FlowtuiApp._dispatch_message)


def show_failure(
    app: App[Any], failed: Screen[Any] | None, reason: str, fresh_dashboard: Callable[[], Screen[Any]]
) -> None:
    """Take the failed screen (and what is above it) off the stack and say what failed; a
    failed dashboard is replaced by ``fresh_dashboard()``."""
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.error import FailureScreen

    if any(isinstance(screen, FailureScreen) for screen in app.screen_stack):
        return  # the first failure is on screen; the log has every one
    stack = app.screen_stack
    if failed is not None and failed in stack[1:]:
        while len(app.screen_stack) > stack.index(failed):
            app.pop_screen()
        if isinstance(failed, DashboardScreen):
            app.push_screen(fresh_dashboard())
    app.push_screen(FailureScreen(reason, FAILURE_HINT))


class SurvivesFailures(App[int]):
    """An app that reports an unhandled error instead of ending (the window's engine runs on)."""

    failures: Failures

    def _new_dashboard(self) -> Screen[Any]:
        raise NotImplementedError

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
        reason = f"{type(error).__name__}: {error}"
        self.call_later(show_failure, self, failing_screen(), reason, self._new_dashboard)
