"""Whether this engine takes jobs: the pause it last read or decided, and the timer that ends a
pause with an end. Apart from the engine so the one lock that keeps a stale read from undoing a
newer pause guards every way a pause arrives (a poke, a worker's limit, the auto-resume)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.clock import Clock, parse_time
from core.events import EngineChanged
from core.ops.control import Control, PauseState

log = logging.getLogger(__name__)

PauseAdopted = Callable[[EngineChanged], None]
"""Told each time this engine's pause changes, in order, once per change (the bus's publish)."""

PauseWritten = Callable[[], None]
"""Told after this engine wrote a pause or a resume itself, so its workers, the other machines
and the window hear of it without anyone reading the flags back."""


class PauseKeeper:
    """This engine's pause, taken from the ledger's flags or decided here (a limit, a budget),
    and ended by itself when it has an end."""

    def __init__(
        self, control: Control, clock: Clock, on_adopted: PauseAdopted, on_written: PauseWritten
    ) -> None:
        self._control = control
        self._clock = clock
        self._on_adopted = on_adopted
        self._on_written = on_written
        self._paused = False
        self._paused_until: str | None = None
        self._lock = threading.RLock()
        self._resume_timer: threading.Timer | None = None
        self._stopping = False

    @property
    def paused(self) -> bool:
        return self._paused

    def refresh(self) -> None:
        """Take the pause the ledger's flags hold now (another process may have changed them)."""
        with self._lock:  # read and taken as one, so a stale read never undoes a newer pause
            self._adopt(self._control.pause_state())

    def pause_self(self, reason: str, until: str | None) -> None:
        """A limit or a budget pauses the queue: the flags are written, this engine takes the
        pause at once, and only the others are told; nothing re-reads what was just written."""
        with self._lock:
            self._control.write_pause(reason, until)
            self._adopt(PauseState(paused=True, reason=reason, until=until))
        self._on_written()

    def stop(self) -> None:
        """No pause ends by itself any more: the engine is going away."""
        self._stopping = True
        if self._resume_timer is not None:
            self._resume_timer.cancel()

    def _adopt(self, state: PauseState) -> None:
        """Take ``state`` as this engine's pause; said once, whichever thread (a worker's
        limit, the auto-resume, a poke) gets here first."""
        with self._lock:
            if state.paused == self._paused and state.until == self._paused_until:
                return
            self._paused = state.paused
            self._paused_until = state.until
            self._arm_auto_resume(state.until)
            self._on_adopted(EngineChanged(paused=state.paused, reason=state.reason))  # in order

    def _arm_auto_resume(self, until: str | None) -> None:
        """A pause with an end (a limit's reset, the next budget day) ends by itself."""
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        if until is None or self._stopping:
            return
        delay = max(0.0, (parse_time(until) - self._clock.now()).total_seconds())
        self._resume_timer = threading.Timer(delay, self._auto_resume, args=(until,))
        self._resume_timer.daemon = True
        self._resume_timer.start()

    def _auto_resume(self, until: str) -> None:
        with self._lock:
            state = self._control.pause_state()  # another process may have changed the pause meanwhile
            if not state.paused or state.until != until:
                return
            log.info("resuming by itself after: %s", state.reason)
            self._control.write_resume()
            self._adopt(PauseState(paused=False, reason=None))
        self._on_written()
