"""Telegram's health in one line for ``doctor`` and the TUI: config, session file, outbox, strangers."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Mapping

from core.config.settings import Settings
from core.extras import TELEGRAM, installed
from core.ledger.notifications import Notification, NotificationStore
from core.paths import Paths
from core.telegram.config import TelegramConfigError, resolve_config, telegram_status


def doctor_check(settings: Settings, paths: Paths, environ: Mapping[str, str]) -> tuple[bool, str]:
    """(ok, detail): not configured is fine (Telegram is optional); a broken config, a
    session file others can read, or failed notifications are not."""
    try:
        config = resolve_config(settings, environ)
    except TelegramConfigError as error:
        return False, str(error)
    if config is None:
        return True, telegram_status(settings, environ)
    if not installed(TELEGRAM):
        return False, TELEGRAM.hint()
    session_file = paths.telegram_session_file
    if session_file.exists() and stat.S_IMODE(session_file.stat().st_mode) & 0o077:
        return False, f"{session_file} is readable by others: chmod 600 it"
    details = [telegram_status(settings, environ)]
    if paths.ledger_db.exists():
        try:
            pending, failed, denied, senders = outbox_counts(NotificationStore(paths.ledger_db))
        except sqlite3.DatabaseError as error:
            return False, f"the notification outbox cannot be read: {error}"
        hint = " (see `flowtui notifications`)" if failed else ""
        details.append(f"outbox: {pending} pending, {failed} failed{hint}")
        if denied:
            details.append(f"{denied} messages from {senders} unknown senders ignored")
    else:
        details.append("outbox: empty")
    return True, "; ".join(details)


def outbox_counts(store: NotificationStore) -> tuple[int, int, int, int]:
    """(pending, failed, ignored messages, distinct ignored senders); closes the store."""
    try:
        counts = store.state_counts()
        denied, senders = store.denied_summary()
    finally:
        store.close()
    return counts.get("pending", 0), counts.get("failed", 0), denied, senders


def recent_notifications(paths: Paths, limit: int = 50) -> list[Notification]:
    """The newest notifications with their delivery state (the TUI's history pane)."""
    if not paths.ledger_db.exists():
        return []
    store = NotificationStore(paths.ledger_db)
    try:
        return store.recent(limit)
    finally:
        store.close()
