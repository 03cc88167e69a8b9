"""Where the side panes' rows come from: the watcher's and Telegram's state in core.

The watcher, the Telegram service and the config editor (watchfiles, pathspec, tomlkit) are
imported where they are used: the first frame of a window without watches needs none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.clock import Clock, parse_time
from core.config.settings import Settings
from core.host.session import Session
from core.ledger.notifications import NotificationStore
from core.paths import Paths
from core.watch.status import read_statuses
from tui.widgets.side_lists import NotificationRow, WatchRow

NOTIFICATION_ROWS = 50


def local_clock(stamp: str | None, clock: Clock) -> str:
    """HH:MM:SS in local time, for a pane's time column."""
    if not stamp:
        return "-"
    return f"{clock.local(parse_time(stamp)):%H:%M:%S}"


class Sources:
    """Reads the watch list, the notification history and Telegram's state for the panes."""

    def __init__(
        self, settings: Settings, paths: Paths, session: Session, environ: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.session = session
        self.clock = session.clock
        self.environ = environ
        self._outbox: NotificationStore | None = None
        """Opened on the first read of the history pane, kept until :meth:`close`."""
        self._leader_client: Any = None
        """An attached window's Redis client for the leader key: made on the first read (one
        connection for the window's life, not one per refresh), closed by :meth:`close`."""

    def current_settings(self) -> Settings:
        """The config as it is on disk now (watch add/rm and the theme edit it), from the
        session's one holder: kept as it was when an edit made it invalid."""
        self.settings = self.session.live.current()
        return self.settings

    def watch_rows(self) -> list[WatchRow]:
        watches = self.current_settings().watch
        if not watches:
            return []
        from core.config.watch_path import watch_key

        statuses = read_statuses(self.session.control.ledger)
        rows = []
        for watch in watches:
            status = statuses.get(watch_key(watch.path))
            if not watch.enabled:
                state, reason, last = "disabled", None, None
            elif status is None:
                starting = self.session.engine is not None or self.session.engine_pending
                state, reason, last = "starting" if starting else "unknown", None, None
            else:
                state, reason, last = status.state, status.reason or None, status.last_event
            rows.append(
                WatchRow(
                    watch.path, watch.workflow, state, reason, local_clock(last, self.clock) if last else None
                )
            )
        return rows

    def add_watch(
        self, path: str, workflow: str, include: list[str], exclude: list[str], poll: bool = False
    ) -> str:
        added = self.session.control.add_watch(
            path, workflow=workflow, include=include, exclude=exclude, poll=poll
        )
        self.current_settings()  # the panes show the edited file at once
        return added.path

    def remove_watch(self, path: str) -> None:
        self.session.control.remove_watch(path)
        self.current_settings()

    def explain(self, path: str) -> list[dict[str, object]]:
        from core.watch.explain import explain_change

        return explain_change(self.current_settings(), path, self.clock)

    def notification_rows(self) -> list[NotificationRow]:
        if self._outbox is None:
            if not self.paths.ledger_db.exists():
                return []
            self._outbox = NotificationStore(self.paths.ledger_db, self.clock)
        now = self.clock.timestamp()
        rows = []
        for note in self._outbox.recent(NOTIFICATION_ROWS):
            state = note.state
            if state == "pending" and note.retry_at and note.retry_at > now:
                state = "waiting"  # for the flood limit or a retry back-off
            first_line = note.text.strip().splitlines()[0] if note.text.strip() else note.kind
            rows.append(
                NotificationRow(
                    note.id,
                    local_clock(note.created_at, self.clock),
                    note.job_id,
                    first_line[:80],
                    state,
                    note.error,
                    note.channel,
                )
            )
        return rows

    def resend_notification(self, notification_id: int) -> int:
        return self.session.control.resend_notification(notification_id).id

    def telegram_state(self) -> str:
        if self.settings.telegram is None:
            return "Telegram not configured"
        from core.telegram.service import TelegramService

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

        from core.wake.leader import LEADER_KEY

        if self._leader_client is None:
            self._leader_client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            value = self._leader_client.get(LEADER_KEY)
        except redis.RedisError:
            return "unknown (Redis unreachable)"
        return value.decode() if isinstance(value, bytes) else "none yet"

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._leader_client is not None:
            self._leader_client.close()
            self._leader_client = None

    def _service(self, wanted: Callable[[object], bool]) -> object | None:
        engine = self.session.engine
        if engine is None:
            return None
        return next((service for service in engine.services if wanted(service)), None)
