"""Recognising usage and rate limits in what the CLI reports, with the reset time if given,
and the subscription windows' readings (``rate_limit_event``) kept between runs.

A job that hits a limit is not at fault: it goes back to the queue without spending an
attempt, and the queue pauses until the reset. The reset is the CLI's ``resetsAt`` when a
rejected reading came with the run, else read from the error text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.claude.events import RateLimit
from core.claude.stream import ResultLine
from core.clock import Clock, parse_time, to_iso

DEFAULT_RATE_LIMIT_PAUSE = timedelta(minutes=5)
DEFAULT_USAGE_LIMIT_PAUSE = timedelta(hours=1)

# "Claude AI usage limit reached|1767225600" (older CLIs put the reset as a unix time)
_PIPE_RESET = re.compile(r"usage limit reached\|(\d{9,11})", re.IGNORECASE)
# "You've hit your limit · resets 5pm (Europe/Berlin)", "resets at 3:30 PM", "resets 14:00"
_CLOCK_RESET = re.compile(r"resets?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", re.IGNORECASE)
_USAGE_WORDS = re.compile(
    r"usage limit|hit your limit|limit reached|rate limit|rate_limit|too many requests|\(429\)", re.IGNORECASE
)


@dataclass(frozen=True)
class LimitHit:
    """A usage or rate limit, with when to try again: the queue waits instead of failing jobs."""

    kind: str
    """``usage limit`` or ``rate limit``."""
    until: datetime
    """When the queue should resume (UTC)."""
    reset_known: bool


def detect_limit(
    result: ResultLine | None, clock: Clock, reading: RateLimit | None = None
) -> LimitHit | None:
    """A LimitHit when the result says the account's usage or rate limit was hit; a rejected
    ``reading`` of the same run gives the reset (``resetsAt``) before the text does."""
    if result is None or not result.is_error:
        return None
    text = result.answer or ""
    status = result.api_error_status
    if status != 429 and not _USAGE_WORDS.search(text):
        return None
    current = clock.now()
    kind = "usage limit" if re.search(r"usage limit|hit your limit", text, re.IGNORECASE) else "rate limit"
    if reading is not None and reading.status == "rejected" and reading.resets_at is not None:
        reset_at = datetime.fromtimestamp(reading.resets_at, UTC)
        if reset_at > current:
            return LimitHit(kind="usage limit", until=reset_at, reset_known=True)
    reset = _reset_time(text, clock)
    if reset is not None:
        return LimitHit(kind=kind, until=reset, reset_known=True)
    fallback = DEFAULT_USAGE_LIMIT_PAUSE if kind == "usage limit" else DEFAULT_RATE_LIMIT_PAUSE
    return LimitHit(kind=kind, until=current + fallback, reset_known=False)


def _reset_time(text: str, clock: Clock) -> datetime | None:
    piped = _PIPE_RESET.search(text)
    if piped:
        return datetime.fromtimestamp(int(piped.group(1)), UTC)
    stated = _CLOCK_RESET.search(text)
    if not stated:
        return None
    hour = int(stated.group(1))
    minute = int(stated.group(2) or 0)
    meridiem = (stated.group(3) or "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    if meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    local_now = clock.local()
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


USAGE_PREFIX = "usage:"
"""Ledger flags ``usage:WINDOW`` hold each subscription window's latest reading (JSON)."""
WINDOW_NAMES = {
    "five_hour": "5h",
    "seven_day": "7d",
    "seven_day_opus": "7d opus",
    "seven_day_sonnet": "7d sonnet",
}


@dataclass(frozen=True)
class UsageReading:
    """The latest reading of one subscription window, as kept in the ledger."""

    window: str
    status: str
    utilization: float | None
    """0 to 1."""
    resets_at: datetime | None
    read_at: datetime

    @property
    def short_name(self) -> str:
        return WINDOW_NAMES.get(self.window, self.window)

    @property
    def percent(self) -> int | None:
        return None if self.utilization is None else round(self.utilization * 100)

    def current(self, now: datetime) -> bool:
        """Not reset since it was read (a window past its reset starts again from zero)."""
        return self.resets_at is None or self.resets_at > now

    def to_json(self) -> str:
        return json.dumps(
            {
                "window": self.window,
                "status": self.status,
                "utilization": self.utilization,
                "resets_at": to_iso(self.resets_at) if self.resets_at else None,
                "read_at": to_iso(self.read_at),
            }
        )

    def to_dict(self, now: datetime) -> dict[str, object]:
        return {**json.loads(self.to_json()), "current": self.current(now)}

    @classmethod
    def from_json(cls, text: str) -> UsageReading | None:
        try:
            data = json.loads(text)
            utilization = data.get("utilization")
            resets = data.get("resets_at")
            return cls(
                window=str(data["window"]),
                status=str(data.get("status") or "allowed"),
                utilization=float(utilization) if isinstance(utilization, int | float) else None,
                resets_at=parse_time(resets) if isinstance(resets, str) else None,
                read_at=parse_time(str(data["read_at"])),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def describe(self, clock: Clock) -> str:
        """``5h 93% · resets 17:00`` (the day too when it is not today), in local time."""
        used = f"{self.percent}%" if self.percent is not None else self.status.replace("_", " ")
        if self.status == "rejected":
            used = "limit reached" if self.percent is None else f"{used}, limit reached"
        text = f"{self.short_name} {used}"
        if self.resets_at is not None:
            local = clock.local(self.resets_at)
            when = f"{local:%H:%M}" if local.date() == clock.local().date() else f"{local:%a %H:%M}"
            text += f" · resets {when}"
        return text


def reading_of(event: RateLimit, clock: Clock) -> UsageReading | None:
    """The event as a reading to keep; None when it names no window."""
    if event.window is None:
        return None
    resets = datetime.fromtimestamp(event.resets_at, UTC) if event.resets_at is not None else None
    return UsageReading(event.window, event.status, event.utilization, resets, clock.now())


def headline_reading(readings: list[UsageReading], now: datetime) -> UsageReading | None:
    """The reading the header shows: the current window nearest its limit (five-hour on a tie)."""
    current = [reading for reading in readings if reading.current(now)]
    if not current:
        return None
    return max(
        current,
        key=lambda r: (r.status == "rejected", r.utilization or 0.0, r.window == "five_hour"),
    )
