"""Reading the shared state off the app's thread: one read at a time, answered as snapshots.

Any number of changes while a read is on its way cost one more read. A thread cannot be
cancelled, so a stalled store (Redis stopped, a locked ledger) never piles reads up: the
window keeps answering keys and says the state is unreachable until a read answers again.

Reads follow changes (events), not a clock: an idle window reads again only after
``SAFETY_READ_TICKS`` ticks, to heal a wake-up that went missing. A remote store (Redis) can
stall while nothing changes, so there a one-key probe every ``PROBE_TICKS`` ticks keeps the
unreachable warning honest without reading the whole state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from textual.dom import DOMNode
from textual.message import Message

from core.errors import log_failure
from tui.shared import Door, Snapshot, SnapshotFailed, SnapshotRead, read_snapshot

log = logging.getLogger(__name__)

READ_WORKER = "read the shared state"
PROBE_WORKER = "probe the shared state"
SAFETY_READ_TICKS = 30
"""Ticks (seconds) without a read after which an idle window reads anyway."""
PROBE_TICKS = 3
"""Ticks between the probes of a remote store while no read is on its way."""
PROBE_FLAG = "window.probe"
"""The ledger flag a probe reads: any one-key round trip proves the store answers."""
STALL_SECONDS = 2.0
"""A read unanswered this long shows the state as unreachable (Redis may wait far longer
before its client gives up)."""


class ProbeAnswered(Message, bubble=False):
    """A probe of the shared state answered: the store is reachable (posted from its thread)."""


class StateReader:
    """Starts the reads on its node (the app), which posts their answers to itself and hands
    them to :meth:`answered` or :meth:`failed`; it keeps the newest snapshot until shown."""

    def __init__(self, node: DOMNode) -> None:
        self._node = node
        self.wanted = True
        """Something may have changed since the last read started: read again."""
        self.remote = False
        """The store is another machine's (Redis), which can stall while nothing changes."""
        self.reads = 0
        """Whole reads started so far (the idle tests and the bench count them)."""
        self._ticks_since_read = 0
        self.snapshot: Snapshot | None = None
        """The newest state read."""
        self._shown = True
        self.unreachable: str | None = None
        """Why the shared state cannot be read now; None while reads answer."""
        self._generation = 0
        self._reading_since: float | None = None
        """When the read on its way started (monotonic seconds); None when none is."""

    @property
    def idle(self) -> bool:
        """No read is wanted or on its way, and the newest snapshot has been handed on."""
        return not self.wanted and self._reading_since is None and self._shown

    @property
    def unshown(self) -> Snapshot | None:
        """The newest snapshot if it has not been handed on yet."""
        return None if self._shown else self.snapshot

    def shown(self) -> None:
        """The newest snapshot has been handed on (drawn, or will be in the next frame)."""
        self._shown = True

    def stalled(self) -> str | None:
        """Why the state counts as unreachable while the read on its way waits too long."""
        if self._reading_since is None:
            return None
        waited = time.monotonic() - self._reading_since
        return f"no answer for {waited:.0f} s" if waited >= STALL_SECONDS else None

    def tick(self, door: Door) -> None:
        """A second passed: want a safety read when none started for long, and probe a
        remote store that nothing made us read lately."""
        self._ticks_since_read += 1
        if self._ticks_since_read >= SAFETY_READ_TICKS or self.unreachable is not None:
            self.wanted = True  # while unreachable, every tick tries again, as a person would
        elif self.remote and self._ticks_since_read % PROBE_TICKS == 0 and not self.wanted:
            self._probe(door)

    def start(self, door: Door) -> None:
        """Read the shared state through ``door`` in a thread, unless a read is on its way."""
        if self._reading_since is not None:
            return
        self.wanted = False
        self.reads += 1
        self._ticks_since_read = 0
        self._generation += 1
        self._reading_since = time.monotonic()
        generation = self._generation
        self._node.run_worker(lambda: self._read(door, generation), name=READ_WORKER, thread=True)

    def _read(self, door: Door, generation: int) -> None:
        """In the read's thread: the snapshot, or why there is none, goes back as a message."""
        try:
            snapshot = read_snapshot(door, generation)
        except Exception as error:  # Redis away or stalled, a locked or damaged ledger
            line = log_failure(log, "refresh failed", error)
            self._node.post_message(SnapshotFailed(generation, line or f"{type(error).__name__}: {error}"))
        else:
            self._node.post_message(SnapshotRead(snapshot))

    def _probe(self, door: Door) -> None:
        if self._reading_since is not None:
            return
        self._reading_since = time.monotonic()
        generation = self._generation
        self._node.run_worker(lambda: self._ask(door, generation), name=PROBE_WORKER, thread=True)

    def _ask(self, door: Door, generation: int) -> None:
        """In the probe's thread: one key's round trip, answered as a message."""
        try:
            door.control.ledger.get_flag(PROBE_FLAG)
        except Exception as error:  # as in _read: Redis away or stalled
            line = log_failure(log, "probe failed", error)
            self._node.post_message(SnapshotFailed(generation, line or f"{type(error).__name__}: {error}"))
        else:
            self._node.post_message(ProbeAnswered())

    def probe_answered(self) -> None:
        """The store answers: a window that said it was unreachable reads it all again."""
        self._reading_since = None
        if self.unreachable is not None:
            self.wanted = True

    def patch(self, change: Callable[[Snapshot, int], Snapshot | None]) -> Snapshot | None:
        """Change the newest snapshot by what the engine just said (a question asked), without
        a read; None if it could not (the change needs a read). The caller draws what changed
        at once; a snapshot not yet handed on stays so, to be drawn whole. The patched state
        counts as the newest read started, so a read already on its way (it may predate the
        change) cannot undo it; the next one can."""
        if self.snapshot is None:
            return None
        patched = change(self.snapshot, self._generation)
        if patched is not None:
            self.snapshot = patched
        return patched

    def answered(self, snapshot: Snapshot) -> bool:
        """A read answered; True if its snapshot is the newest (a late answer is not)."""
        self._reading_since = None
        if self.snapshot is not None and snapshot.generation <= self.snapshot.generation:
            return False
        self.snapshot, self._shown = snapshot, False
        self.unreachable = None
        return True

    def failed(self, reason: str) -> bool:
        """A read failed; True if the state was reachable until now (say so once)."""
        self._reading_since = None
        return self.mark_unreachable(reason)

    def mark_unreachable(self, reason: str) -> bool:
        """The state cannot be read now, for ``reason``; True if it could until now."""
        first = self.unreachable is None
        self.unreachable = reason
        return first
