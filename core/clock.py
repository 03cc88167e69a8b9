"""Timestamps: ISO 8601 UTC with milliseconds (sortable, readable in sqlite3), and local days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return to_iso(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_day_start(now: datetime | None = None) -> datetime:
    local = (now or datetime.now(UTC)).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def next_local_midnight(now: datetime | None = None) -> datetime:
    return local_day_start(now) + timedelta(days=1)
