"""Where the side panes' rows come from: the watcher's and Telegram's state in core."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from core.clock import parse_time
from core.paths import Paths
from core.session import Session
from core.settings import Settings
from core.telegram.service import TelegramService
from core.telegram.status import recent_notifications
from core.telegram.store import NotificationStore
from core.wake import poke
from tui.widgets.side_lists import NotificationRow, WatchRow

NOTIFICATION_ROWS = 50


def local_clock(stamp: str | None) -> str:
    """HH:MM:SS in local time, for a pane's time column."""
    if not stamp:
        return "-"
    return f"{parse_time(stamp).astimezone():%H:%M:%S}"


class Sources:
    """Reads the watch list, the notification history and Telegram's state for the panes."""

    def __init__(
        self, settings: Settings, paths: Paths, session: Session, environ: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.session = session
        self.environ = environ

    def watch_rows(self) -> list[WatchRow]:
        return [
            WatchRow(watch.path, watch.workflow, "active" if watch.enabled else "disabled", None, None)
            for watch in self.settings.watch
        ]

    def notification_rows(self) -> list[NotificationRow]:
        now = time.time()
        rows = []
        for note in recent_notifications(self.paths, NOTIFICATION_ROWS):
            state = note.state
            if state == "pending" and note.retry_at and note.retry_at > now:
                state = "waiting"  # for the flood limit or a retry back-off
            first_line = note.text.strip().splitlines()[0] if note.text.strip() else note.kind
            rows.append(
                NotificationRow(
                    note.id, local_clock(note.created_at), note.job_id, first_line[:80], state, note.error
                )
            )
        return rows

    def resend_notification(self, notification_id: int) -> int:
        store = NotificationStore(self.paths.ledger_db)
        try:
            copy = store.resend(notification_id)
        finally:
            store.close()
        poke(self.paths.wake_fifo)
        return copy.id

    def telegram_state(self) -> str:
        if self.settings.telegram is None:
            return "Telegram not configured"
        service = self._service(lambda service: isinstance(service, TelegramService))
        if not isinstance(service, TelegramService):
            return "Telegram: in the engine" if not self.session.owns_engine else "Telegram: off"
        if service.last_error:
            return f"Telegram error: {service.last_error}"
        if service.identity is None:
            return "Telegram connecting"
        return f"Telegram @{service.identity.username}"

    def leader(self) -> str | None:
        """With a shared (Redis) queue: the engine that runs Telegram and the schedules."""
        engine = self.session.engine
        if engine is not None:
            return engine.leader if engine.redis_url else None
        url = self.settings.queue_url(self.environ)
        if url is None:
            return None
        import redis

        from core.leader import LEADER_KEY

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            value = client.get(LEADER_KEY)
        except redis.RedisError:
            return "unknown (Redis unreachable)"
        finally:
            client.close()
        return value.decode() if isinstance(value, bytes) else "none yet"

    def _service(self, wanted: Callable[[object], bool]) -> object | None:
        engine = self.session.engine
        if engine is None:
            return None
        return next((service for service in engine.services if wanted(service)), None)
