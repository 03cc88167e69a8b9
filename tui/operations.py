"""The dashboard's operations: blocking work on the shared state, run in thread workers one
after the other in the order the keys were pressed, each reported as a toast.

The screen never waits on the ledger, the outbox or Redis: a worker does, and its outcome
comes back as a message to the screen that asked, never as a widget change from its thread.
"""

from __future__ import annotations

import logging
import os
import pwd
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from textual.message import Message
from textual.widget import Widget

from core.errors import ConfigError, InputError, log_failure
from core.jobs import JobState
from core.ops.control import Control

log = logging.getLogger(__name__)

Operation = tuple[
    Callable[[], Any],
    str | Callable[[Any], str] | None,
    Callable[[Any], None] | None,
    Callable[[str], None] | None,
]
"""Blocking work on the shared state, the toast that says what it did (from its result), what
to do next with the result on the app's thread, and who takes the one-line error instead of
a toast (a dialog shows it in place)."""


class OperationDone(Message, bubble=False):
    """An operation ended (posted from its thread): what to say about it, what comes next."""

    def __init__(self, toast: str | None, failed: bool, then: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.toast = toast
        self.failed = failed
        self.then = then


class Operations:
    """One screen's operations: its node runs their workers and hands each
    :class:`OperationDone` back to :meth:`finish`; ``changed`` runs after each one (what a
    key changed should show at once)."""

    def __init__(self, node: Widget, changed: Callable[[], object]) -> None:
        self._node = node
        self._changed = changed
        self._waiting: deque[Operation] = deque()
        self._running = False

    @property
    def busy(self) -> bool:
        """An operation is running or waiting for the one before it."""
        return self._running or bool(self._waiting)

    def add(
        self,
        work: Callable[[], Any],
        toast: str | Callable[[Any], str] | None = None,
        then: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
    ) -> None:
        """Run ``work`` in a thread after the operations before it; ``toast`` (or the one-line
        error) follows, and ``then(result)`` runs on the app's thread; with ``failed``, the
        error goes to ``failed(line)`` on the app's thread instead of a toast."""
        self._waiting.append((work, toast, then, failed))
        self._start_next()

    def finish(self, message: OperationDone) -> None:
        """On the app's thread, when the node receives ``message``: say it, go on."""
        if message.toast is not None:
            self._node.notify(message.toast, severity="error" if message.failed else "information")
        self._running = False
        if message.then is not None:
            message.then()
        self._changed()
        self._start_next()

    def _start_next(self) -> None:
        if self._running or not self._waiting:
            return
        self._running = True
        operation = self._waiting.popleft()
        self._node.run_worker(lambda: self._operate(operation), thread=True, group="operations")

    def _operate(self, operation: Operation) -> None:
        """In a worker thread: the outcome goes back as a message, never as a widget change."""
        work, say, then, failed = operation
        node = self._node
        try:
            result = work()
            toast = say(result) if callable(say) else say
        except (InputError, ConfigError) as error:
            node.post_message(_failure(str(error), failed))
        except Exception as error:
            line = log_failure(log, "operation failed", error)
            toast = line or f"the operation failed: {type(error).__name__}: {error} (see the log)"
            node.post_message(_failure(toast, failed))
        else:
            node.post_message(OperationDone(toast, False, partial(then, result) if then else None))


def _failure(line: str, failed: Callable[[str], None] | None) -> OperationDone:
    """An error said as a toast, or handed to whoever asked to show it (on the app's thread)."""
    if failed is None:
        return OperationDone(line, failed=True)
    return OperationDone(None, failed=True, then=partial(failed, line))


WINDOW = "the TUI"
"""Who answers from the window when the login name is unknown (as the approval gate always said)."""
VIA = "tui"
"""Where an answer or a message came from, in the job's history and transcript."""


def person(environ: Mapping[str, str]) -> str:
    """Who answers from this window, for the job's history: the login name (the CLI says the
    same), else the window."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if environ.get(name):
            return environ[name]
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return WINDOW


def toggle_pause(control: Control) -> str:
    """Pause a running queue or resume a paused one (blocks: an operation's work)."""
    if control.pause_state().paused:  # read here: an earlier key may have just paused
        control.resume()
        return "queue resumed"
    control.pause()
    return "queue paused: running jobs finish"


def running_jobs(control: Control) -> int | None:
    """How many jobs run now, or None when the shared state cannot say (blocks)."""
    try:
        return control.ledger.counts()[JobState.RUNNING]
    except Exception as error:  # the state is unreachable: ask as if jobs were running
        log_failure(log, "counting the running jobs failed", error)
        return None
