"""Where the side panes' rows come from: the watcher's and Telegram's state in core."""

from __future__ import annotations

from collections.abc import Mapping

from core.control import Control
from core.paths import Paths
from core.settings import Settings
from tui.widgets.side_lists import NotificationRow, WatchRow


class Sources:
    """Reads the watch list, the notification history and Telegram's state for the panes."""

    def __init__(
        self, settings: Settings, paths: Paths, control: Control, environ: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.control = control
        self.environ = environ

    def watch_rows(self) -> list[WatchRow]:
        return [
            WatchRow(watch.path, watch.workflow, "active" if watch.enabled else "disabled", None, None)
            for watch in self.settings.watch
        ]

    def notification_rows(self) -> list[NotificationRow]:
        return []

    def telegram_state(self) -> str:
        return "Telegram not configured" if self.settings.telegram is None else "Telegram configured"
