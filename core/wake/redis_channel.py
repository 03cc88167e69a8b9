"""Telling every engine and window on every machine that the shared state changed.

With the Redis backend the named pipe only reaches this machine, so each change is also
published on a Redis channel; every engine and attached window listens (no polling).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

CHANNEL = "flowtui:changes"
RECONNECT_MAX_SECONDS = 30.0


def publish_change(client: redis.Redis, what: str) -> None:
    """Best effort: a lost message is caught by the engines' idle sweep."""
    try:
        client.publish(CHANNEL, what)
    except redis.RedisError as error:
        log.warning("could not announce a change on Redis: %s", error)


class RedisChangeListener:
    """Calls ``on_change`` for every change announced by any process; reconnects by itself."""

    def __init__(self, url: str, on_change: Callable[[], None]) -> None:
        self._url = url
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowtui-redis-changes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self._url, socket_connect_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                delay = 0.5
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_change()
                pubsub.close()
                client.close()
            except redis.RedisError as error:
                log.warning("Redis change channel unavailable (%s); retrying in %.1fs", error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
