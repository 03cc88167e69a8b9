"""How long a watch holds changes back: watchfiles' grouping plus our settle wait."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.watch.activity import DELIVERY_MARGIN


@dataclass(frozen=True)
class Timing:
    """watchfiles' grouping, chosen so a burst is held back no longer than ``settle_ms``."""

    step_ms: int
    debounce_ms: int
    wait_seconds: float
    """Quiet still needed after watchfiles delivers (it already waited ``step_ms``)."""

    @property
    def holding_seconds(self) -> float:
        """The longest watchfiles holds a change back during a burst: a step before it looks,
        the debounce, and a step more before it notices the debounce is over."""
        return (self.debounce_ms + 2 * self.step_ms) / 1000

    @property
    def delivery_seconds(self) -> float:
        """How long after it was made a change may reach the watcher."""
        return self.holding_seconds + DELIVERY_MARGIN


HOLDING_MARGIN_SECONDS = 0.03
"""Thread hand-offs and intake between two deliveries of one burst, on a loaded machine."""

SHARED_STEP_MS = 50
"""The step of the watchers every watch shares (see :mod:`core.watch.hub`). watchfiles' Rust
loop wakes once a step whether anything changed or not, so this is an idle engine's main
cost (20 wake-ups a second) and the delay before a change is seen (one to two steps)."""


def timing_for(settle_ms: int, step_ms: int = SHARED_STEP_MS) -> Timing:
    """watchfiles' step and debounce for a settle time, and our wait after each delivery.

    watchfiles waits ``step`` of quiet before delivering, so the wait after a delivery is
    the rest of the settle time. Within a burst, deliveries come at most ``holding_seconds``
    apart; the wait must be longer, or a burst still in progress would be cut in two.
    """
    step = step_ms
    timing = Timing(step_ms=step, debounce_ms=step, wait_seconds=0.0)
    if settle_ms == 0:
        return timing  # no batching beyond what watchfiles groups itself
    wait = max((settle_ms - step) / 1000, timing.holding_seconds + HOLDING_MARGIN_SECONDS)
    return Timing(step_ms=step, debounce_ms=step, wait_seconds=wait)


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Until one of ``events`` is set or ``timeout`` passes.

    ``asyncio.wait_for`` is avoided: on Python 3.11 a cancel that meets its timeout can be
    swallowed, and a task that ignores its cancel never stops.
    """
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
