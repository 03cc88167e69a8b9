"""One leader among the engines that share a Redis queue, for what must run exactly once.

Telegram polling and the cron schedules run on the engine holding the leader lease: a Redis
key set with NX and a time to live, renewed by its holder every third of the lease. When the
leader dies, its key expires and another engine takes the lease within ``lease_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

LEADER_KEY = "flowtui:leader"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLease:
    """Calls ``on_elected`` when this engine becomes leader and ``on_deposed`` when it stops being one."""

    def __init__(
        self,
        url: str,
        identity: str,
        lease_seconds: float,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
    ) -> None:
        # A renewal that hangs must fail well before the lease could expire, so a leader cut
        # off from Redis stops its services before another engine can take the lease.
        timeout = max(0.2, min(5.0, lease_seconds / 4))
        self._client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self.identity = identity
        self._lease_ms = int(lease_seconds * 1000)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self.leading = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowtui-leader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.leading:
            self._set_leading(False)
            with contextlib.suppress(redis.RedisError):  # else it expires by itself
                self._release(keys=[LEADER_KEY], args=[self.identity])
        self._client.close()

    def current_leader(self) -> str | None:
        try:
            value = self._client.get(LEADER_KEY)
        except redis.RedisError:
            return None
        return value.decode() if isinstance(value, bytes) else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.leading:
                    held = bool(self._renew(keys=[LEADER_KEY], args=[self.identity, self._lease_ms]))
                else:
                    held = bool(self._client.set(LEADER_KEY, self.identity, nx=True, px=self._lease_ms))
            except redis.RedisError as error:
                log.warning("leader lease: Redis unavailable (%s)", error)
                held = False  # cannot prove the lease: stop leading before another starts
            if held != self.leading:
                self._set_leading(held)
            self._stop.wait(self._lease_ms / 3000)

    def _set_leading(self, leading: bool) -> None:
        self.leading = leading
        try:
            if leading:
                log.info("this engine (%s) leads: Telegram and schedules run here", self.identity)
                self._on_elected()
            else:
                log.warning("this engine (%s) no longer leads", self.identity)
                self._on_deposed()
        except Exception:
            log.exception("leader change failed")
