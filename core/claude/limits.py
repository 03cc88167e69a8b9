"""Recognising usage and rate limits in what the CLI reports, with the reset time if given.

A job that hits a limit is not at fault: it goes back to the queue without spending an
attempt, and the queue pauses until the reset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.claude.stream import ResultLine
from core.clock import Clock

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


def detect_limit(result: ResultLine | None, clock: Clock) -> LimitHit | None:
    """A LimitHit when the result says the account's usage or rate limit was hit."""
    if result is None or not result.is_error:
        return None
    text = result.answer or ""
    status = result.api_error_status
    if status != 429 and not _USAGE_WORDS.search(text):
        return None
    current = clock.now()
    kind = "usage limit" if re.search(r"usage limit|hit your limit", text, re.IGNORECASE) else "rate limit"
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
