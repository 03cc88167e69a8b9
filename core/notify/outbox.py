"""The outbox for ``[[notify]]`` channels: Telegram's loop (order per channel, pacing, back-off,
kept across restarts), delivering through HTTP or a command instead of the gateway."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx2

from core.clock import SYSTEM_CLOCK
from core.ledger.notifications import Notification, NotificationStore
from core.notify.channels import Channel
from core.notify.senders import ChannelError, deliver
from core.telegram.gateway import Failure, SendError
from core.telegram.outbox import Outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
"""With back-off doubling from 2 s to at most 10 minutes: about 2.5 hours of a receiver down
before a row is given up (``R`` or ``flowtui notifications resend`` sends it again)."""


class ChannelOutbox(Outbox):
    """Sends the pending rows of the configured ``[[notify]]`` channels, each channel in order."""

    def __init__(
        self,
        store: NotificationStore,
        channels: dict[str, Channel],
        client: httpx2.AsyncClient,
        *,
        clock: Callable[[], float] = SYSTEM_CLOCK.timestamp,
        on_change: Callable[[Notification], None] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        first_retry_seconds: float = 2.0,
        longest_retry_seconds: float = 600.0,
    ) -> None:
        super().__init__(
            store,
            _NoGateway(),  # type: ignore[arg-type]
            clock=clock,
            on_change=on_change,
            overall_per_second=1000.0,
            max_attempts=max_attempts,
            first_retry_seconds=first_retry_seconds,
            longest_retry_seconds=longest_retry_seconds,
        )
        self.client = client
        self.flood_until = 0.0  # Telegram's FloodWait is not these channels' business
        self.configured: dict[str, Channel] = {}
        self.set_channels(channels)

    def set_channels(self, channels: dict[str, Channel]) -> None:
        """The config changed: rows go to the channels as they are now (a fixed URL applies)."""
        self.configured = dict(channels)
        self.channels = tuple(channels)
        self.secrets = tuple(secret for channel in channels.values() for secret in channel.secrets())

    def spacing(self, row: Notification) -> float:
        channel = self.configured.get(row.channel)
        return channel.spacing_seconds if channel is not None else 0.0

    async def _deliver(self, row: Notification) -> int:
        channel = self.configured.get(row.channel)
        if channel is None:  # the entry went between the read and now
            raise ChannelError(f"no [[notify]] channel named {row.channel!r} now", permanent=True)
        await deliver(channel, row, self.client)
        return 0

    def classify(self, error: Exception) -> SendError:
        if isinstance(error, ChannelError):
            failure = Failure.PERMANENT if error.permanent else Failure.TRANSIENT
            return SendError(failure, error.reason, error.retry_after)
        log.error("notification delivery raised %s", type(error).__name__)
        return SendError(Failure.TRANSIENT, type(error).__name__)


class _NoGateway:
    """The base class's Telegram gateway, never used here (``_deliver`` is replaced)."""
