"""What changed in the shared state, and telling the engines: this machine's through its named
pipe, every machine's through the Redis change channel when the queue is shared."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from core.paths import Paths
from core.wake.doorbell import poke


class Change(Enum):
    """What an operation changed, so an engine in this process re-reads only that."""

    JOBS = "jobs"
    PAUSE = "pause"
    CANCEL = "cancel"
    INPUT = "input"
    """An answer to a running job's question, or a message told to it."""
    WATCHES = "watches"
    NOTIFICATIONS = "notifications"
    SCHEDULES = "schedules"
    """A schedule paused or resumed (its flags in the ledger)."""

    @property
    def shared(self) -> bool:
        """Whether engines on other machines care: watches (config.toml) and the outbox are
        files of this machine, so its engine alone is told about them."""
        return self not in (Change.WATCHES, Change.NOTIFICATIONS)


EngineNotifier = Callable[[Change], object]


def change_notifier(paths: Paths, redis_url: str | None) -> EngineNotifier:
    """How a process that changed the shared state tells the engines about it."""
    if redis_url is None:
        return lambda change: poke(paths.wake_fifo)
    import redis

    from core.wake.redis_channel import publish_change

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)

    def notify(change: Change) -> None:
        poke(paths.wake_fifo)
        if change.shared:
            publish_change(client, change.value)

    return notify
