"""The engine's event stream: one publisher, many subscribers (TUI, Telegram outbox, tests).

Subscribers are called on the publishing thread and must return quickly; a UI bridge
posts the event into its own loop. A failing subscriber is logged, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.claude.events import ClaudeEvent
from core.claude.tool_preview import ToolPreview
from core.jobs import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobChanged:
    """A job's row changed: it was queued, started, finished, requeued or cancelled."""

    job: Job
    reason: str


@dataclass(frozen=True)
class JobOutput:
    """What Claude printed for a running job since the last batch (one read from its pipe)."""

    job_id: int
    attempt: int
    events: list[ClaudeEvent]


@dataclass(frozen=True)
class QuestionChanged:
    """A running job's tool question was asked (``question`` and its ``preview``) or ended
    (both None), published the moment the ledger holds it: a window draws it at once instead
    of waiting for its next read of the shared state (which follows, as for any change)."""

    job_id: int
    question: dict[str, Any] | None
    """As ``Job.question`` says it (kind, tool, input, asked_at, request_id)."""
    preview: ToolPreview | None


@dataclass(frozen=True)
class EngineChanged:
    """The engine was paused or resumed, started or stopped."""

    paused: bool
    reason: str | None


@dataclass(frozen=True)
class SharedStateChanged:
    """Another process changed the ledger (a job added, a pause); views should re-read it."""


@dataclass(frozen=True)
class EngineTakenOver:
    """The engine this window was attached to stopped; this process runs the engine now."""

    previous_pid: int | None


@dataclass(frozen=True)
class ServiceFailed:
    """A service beside the workers (watcher, Telegram) failed; the reason is one line."""

    name: str
    reason: str


@dataclass(frozen=True)
class ServiceStateChanged:
    """A service's state that views show changed (a watch's status, Telegram's connection):
    views re-read it, since nothing else about it moves in the job rows."""

    name: str


@dataclass(frozen=True)
class NotificationChanged:
    """A notification (Telegram's or a ``[[notify]]`` channel's) was queued, sent, or failed (its
    delivery state, for the history pane)."""

    notification_id: int
    job_id: int | None
    chat_id: int
    kind: str
    state: str
    error: str | None
    channel: str = "telegram"


Event = (
    JobChanged
    | JobOutput
    | QuestionChanged
    | EngineChanged
    | EngineTakenOver
    | SharedStateChanged
    | ServiceFailed
    | ServiceStateChanged
    | NotificationChanged
)
Subscriber = Callable[[Event], None]


class EventBus:
    """One publisher, many subscribers; a subscriber that raises is logged and never stops the others."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed", subscriber)
