"""The one place core events become Textual messages (posted thread-safely)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.message import Message

from core.events import Event, EventBus


class CoreEvent(Message, bubble=False):
    """A core event, delivered on the app's own loop."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


def connect(bus: EventBus, app: App[Any]) -> Callable[[], None]:
    """Forward every event on ``bus`` to ``app``; returns the disconnect function."""

    def forward(event: Event) -> None:
        app.post_message(CoreEvent(event))

    return bus.subscribe(forward)
