"""The ``[[notify]]`` channels' health in one line for ``doctor``: which channels, and their rows."""

from __future__ import annotations

import sqlite3

from core.config.settings import Settings
from core.ledger.notifications import NotificationStore
from core.notify.channels import resolve_channels
from core.paths import Paths


def doctor_check(settings: Settings, paths: Paths) -> tuple[bool, str, bool]:
    """(ok, detail, warning): none configured is fine; failed rows are a warning (they wait for
    ``flowtui notifications resend``). URLs appear redacted only."""
    channels = resolve_channels(settings)
    if not channels:
        return True, "no [[notify]] channels (Telegram's outbox is checked above)", False
    named = ", ".join(f"{name} ({channel.target()})" for name, channel in channels.items())
    if not paths.ledger_db.exists():
        return True, f"{named}; outbox: empty", False
    try:
        store = NotificationStore(paths.ledger_db)
        try:
            counts = store.state_counts(tuple(channels))
        finally:
            store.close()
    except sqlite3.DatabaseError as error:
        return False, f"the notification outbox cannot be read: {error}", False
    pending, failed = counts.get("pending", 0), counts.get("failed", 0)
    hint = " (see `flowtui notifications`)" if failed else ""
    return True, f"{named}; outbox: {pending} pending, {failed} failed{hint}", failed > 0
