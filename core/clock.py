"""The one source of wall-clock time, and how timestamps are written.

Every wall-clock read in flowtui goes through a :class:`Clock`, built once by whoever builds
the engine, the window or a command and handed down, so tests and the demo can freeze or move
time and pin a zone. Local time follows the zone's rules (a ``zoneinfo`` zone, or the system's
own), never a fixed UTC offset: the first run after a DST change, the local midnight and the
local day of a timestamp are all right on the night the clocks move.

Timestamps are ISO 8601 UTC with milliseconds (sortable, readable in sqlite3). Monotonic
timers for time-outs stay with ``time.monotonic``: they measure spans, not dates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)


def system_zone() -> tzinfo:
    """The machine's zone with its rules ($TZ, else /etc/localtime), UTC when it has none."""
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except (ImportError, LookupError, ValueError, OSError, ZoneInfoNotFoundError) as error:
        log.warning("cannot tell the local time zone (%s); using UTC", error)
        return UTC


def zone_named(name: str) -> tzinfo:
    """A zone by its IANA name; ValueError names the zone when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'") from error


class Clock:
    """Now, in UTC and in the local zone; ``now`` and ``zone`` are injectable."""

    def __init__(self, now: Callable[[], datetime] | None = None, zone: tzinfo | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._zone = zone

    @classmethod
    def frozen(cls, moment: datetime, zone: tzinfo | None = None) -> Clock:
        return cls(lambda: moment, zone or moment.tzinfo or UTC)

    @property
    def zone(self) -> tzinfo:
        if self._zone is None:
            self._zone = system_zone()
        return self._zone

    def now(self) -> datetime:
        """An aware moment in UTC."""
        moment = self._now()
        if moment.tzinfo is None:
            raise ValueError("a clock must give aware datetimes")
        return moment.astimezone(UTC)

    def iso(self) -> str:
        return to_iso(self.now())

    def timestamp(self) -> float:
        return self.now().timestamp()

    def local(self, moment: datetime | None = None) -> datetime:
        """``moment`` (default: now) in the local zone, with that zone's rules."""
        return (moment or self.now()).astimezone(self.zone)

    def local_date(self, moment: datetime | str) -> date:
        """The local calendar day a moment (or an ISO timestamp) falls on."""
        return self.local(parse_time(moment) if isinstance(moment, str) else moment).date()

    def day_start(self, moment: datetime | None = None) -> datetime:
        """The local midnight that began the day of ``moment`` (default: today), in UTC."""
        local = self.local(moment)
        return _local_midnight(local.date(), self.zone)

    def next_midnight(self, moment: datetime | None = None) -> datetime:
        """The next local midnight after ``moment`` (a 23- or 25-hour day when the clocks move)."""
        local = self.local(moment)
        return _local_midnight(local.date() + timedelta(days=1), self.zone)

    def days_ago_start(self, days: int, moment: datetime | None = None) -> datetime:
        """The local midnight that began the day ``days`` local days before ``moment``'s, in UTC."""
        local = self.local(moment)
        return _local_midnight(local.date() - timedelta(days=days), self.zone)


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    # Where midnight itself is skipped (a few zones move their clocks at 00:00), zoneinfo
    # reads it with the earlier offset: the moment the day really began.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


SYSTEM_CLOCK = Clock()
"""The real time in the system's zone: the default wherever nobody passed a clock."""


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_FORM = "a number and a unit (s, m, h, d or w), as 30m, 12h or 7d"


def parse_duration(text: str) -> timedelta:
    """A span as people write it on a command line (``30m``, ``12h``, ``7d``); ValueError
    with the form to use otherwise (the caller names the flag)."""
    number, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in DURATION_UNITS or not number.isdigit():
        raise ValueError(f"bad duration {text!r}: use {DURATION_FORM}")
    try:
        return timedelta(**{DURATION_UNITS[unit]: int(number)})
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long: use at most 999999999 days") from None
