"""The subscription windows' latest readings as every surface reads them, and the one rule
that pauses the queue before a window runs out (``[budget] pause_above_utilization``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.claude.limits import USAGE_PREFIX, UsageReading
from core.ledger.store import LedgerStore


def read_usage(ledger: LedgerStore) -> list[UsageReading]:
    """Each window's latest reading, five-hour first; unreadable ones are left out."""
    found = (UsageReading.from_json(text) for text in ledger.flags_with_prefix(USAGE_PREFIX).values())
    readings = [reading for reading in found if reading is not None]
    return sorted(readings, key=lambda reading: (reading.window != "five_hour", reading.window))


@dataclass(frozen=True)
class UsagePause:
    """The queue pauses until ``until``: a window is at or above the configured share."""

    reason: str
    until: datetime
    reading: UsageReading
    """The reading that called for it (a person's resume holds until a newer one)."""


def usage_pause(readings: list[UsageReading], threshold: float | None, now: datetime) -> UsagePause | None:
    """Whether a current window is at or above ``threshold`` percent: pause until the latest of
    their resets (the queue could not run before then anyway)."""
    if threshold is None:
        return None
    over = [
        reading
        for reading in readings
        if reading.current(now)
        and reading.resets_at is not None
        and reading.percent is not None
        and reading.utilization is not None
        and reading.utilization * 100 >= threshold
    ]
    if not over:
        return None
    binding = max(over, key=lambda reading: reading.resets_at or now)
    assert binding.resets_at is not None
    return UsagePause(
        f"{binding.short_name} window {binding.percent}% used, at or above {threshold:g}%",
        binding.resets_at,
        binding,
    )
