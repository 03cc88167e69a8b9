"""The watched-paths pane and the notifications pane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text

from core.summary import excerpt
from tui.widgets.rows_table import CELL_LIMIT, RowsTable

WATCH_STYLES = {"active": "$success", "missing": "$warning", "error": "bold $error", "disabled": "dim"}
DELIVERY_STYLES = {"sent": "$success", "pending": "dim", "failed": "bold $error", "waiting": "$warning"}


@dataclass(frozen=True)
class WatchRow:
    """One watched path as the Watched-paths pane shows it."""

    path: str
    workflow: str
    status: str
    reason: str | None
    last_event: str | None


@dataclass(frozen=True)
class NotificationRow:
    """One notification as the Notifications pane shows it."""

    id: int
    time: str
    job_id: int | None
    excerpt: str
    state: str
    error: str | None
    channel: str = "telegram"
    """``telegram`` or the ``[[notify]]`` channel's name."""


def _styled(value: str, styles: dict[str, str], variables: dict[str, str]) -> Text:
    style = styles.get(value, "")
    for name, replacement in variables.items():
        style = style.replace(f"${name}", replacement)
    return Text(value, style=style)


class WatchList(RowsTable):
    """The Watched-paths pane: each watch with its status and last event."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("Path", "Status", "Workflow", "Last event")

    def show_watches(self, watches: list[WatchRow]) -> None:
        variables = self.app.theme_variables
        rows = []
        for watch in watches:
            status = _styled(watch.status, WATCH_STYLES, variables)
            if watch.reason:
                status.append(f" ({excerpt(watch.reason, 30)})", style="dim")
            cells = (
                excerpt(watch.path, CELL_LIMIT),
                status,
                excerpt(watch.workflow, 40),
                watch.last_event or "-",
            )
            rows.append((watch.path, cells))
        self.set_rows(rows)


class NotificationList(RowsTable):
    """The Notifications pane: what was sent, when, and whether it arrived."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("#", "Time", "Job", "Channel", "Delivery", "Text")
    SORT_REVERSE: ClassVar[bool] = True

    def sort_key(self, cell: object) -> int:
        return int(str(cell))

    def show_notifications(self, notifications: list[NotificationRow]) -> None:
        variables = self.app.theme_variables
        rows = []
        for note in notifications:
            state = _styled(note.state, DELIVERY_STYLES, variables)
            if note.error:
                state.append(f" ({excerpt(note.error, 18)})", style="dim")
            job = f"#{note.job_id}" if note.job_id is not None else "-"
            rows.append(
                (
                    str(note.id),
                    (
                        str(note.id),
                        note.time,
                        job,
                        excerpt(note.channel, 16),
                        state,
                        Text(excerpt(note.excerpt, 40)),
                    ),
                )
            )
        self.set_rows(rows)

    @property
    def selected_notification_id(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None else None
