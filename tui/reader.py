"""Reading the shared state off the app's thread: one read at a time, answered as snapshots.

Any number of changes while a read is on its way cost one more read. A thread cannot be
cancelled, so a stalled store (Redis stopped, a locked ledger) never piles reads up: the
window keeps answering keys and says the state is unreachable until a read answers again.
"""

from __future__ import annotations

import logging
import time

from textual.dom import DOMNode

from core.errors import log_failure
from tui.shared import Door, Snapshot, SnapshotFailed, SnapshotRead, read_snapshot

log = logging.getLogger(__name__)

READ_WORKER = "read the shared state"
STALL_SECONDS = 2.0
"""A read unanswered this long shows the state as unreachable (Redis may wait far longer
before its client gives up)."""


class StateReader:
    """Starts the reads on its node (the app), which posts their answers to itself and hands
    them to :meth:`answered` or :meth:`failed`; it keeps the newest snapshot until shown."""

    def __init__(self, node: DOMNode) -> None:
        self._node = node
        self.wanted = True
        """Something may have changed since the last read started: read again."""
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

    def start(self, door: Door) -> None:
        """Read the shared state through ``door`` in a thread, unless a read is on its way."""
        if self._reading_since is not None:
            return
        self.wanted = False
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
