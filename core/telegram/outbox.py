"""Sending the outbox: pending rows go out in order per chat, paced, flood-aware and retried.

Telegram allows about one message a second per chat and thirty a second overall, and
answers abuse with ``FloodWait`` (sometimes for hours). The outbox never sends faster,
waits out a ``FloodWait`` for its ``value`` seconds (kept across restarts), retries
network and server errors with growing delays, and gives up on a row only when Telegram
refuses it for good or after ``max_attempts``. A job never waits for any of this: jobs
only ever add rows. The loop itself knows channels, not Telegram: :class:`Outbox` sends the
``telegram`` rows, and ``core/notify/outbox.py`` reuses it for the ``[[notify]]`` channels by
overriding how a row is delivered, how a failure is sorted and how far apart a channel's rows go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from core.claude.transcript import render_transcript
from core.clock import SYSTEM_CLOCK
from core.ledger.notifications import TELEGRAM, Draft, Notification, NotificationStore
from core.telegram.gateway import Failure, Gateway, SendError, classify_error
from core.telegram.notify import code_block

log = logging.getLogger(__name__)

FLOOD_KEY = "flood_until"
MAX_DOCUMENT_BYTES = 45_000_000  # bots may upload 50 MB


class Outbox:
    """Sends pending notifications in order per chat, paced and retried, so none is lost to a restart."""

    def __init__(
        self,
        store: NotificationStore,
        gateway: Gateway,
        *,
        secrets: Sequence[str] = (),
        clock: Callable[[], float] = SYSTEM_CLOCK.timestamp,
        on_change: Callable[[Notification], None] | None = None,
        per_chat_seconds: float = 1.0,
        overall_per_second: float = 30.0,
        max_attempts: int = 10,
        first_retry_seconds: float = 2.0,
        longest_retry_seconds: float = 600.0,
    ) -> None:
        self.store = store
        self.channels: tuple[str, ...] = (TELEGRAM,)
        """Whose rows this outbox sends (the others' are left to theirs)."""
        self.gateway = gateway
        self.secrets = tuple(secrets)
        self.clock = clock
        self.on_change = on_change
        self.per_chat_seconds = per_chat_seconds
        self.overall_spacing = 1.0 / overall_per_second
        self.max_attempts = max_attempts
        self.first_retry_seconds = first_retry_seconds
        self.longest_retry_seconds = longest_retry_seconds
        self._chat_ready_at: dict[tuple[str, int], float] = {}
        self._any_ready_at = 0.0
        self.flood_until = float(store.get_state(FLOOD_KEY) or 0.0)
        self.wake: Callable[[], None] = lambda: None
        """Set by whoever runs :meth:`run`, so new rows go out at once."""

    # -- adding ----------------------------------------------------------------------------

    def enqueue(
        self, drafts: Sequence[Draft], notice: tuple[int, str] | None = None, decision: str = "queued"
    ) -> list[Notification]:
        rows = self.store.enqueue(drafts, notice, decision)
        for row in rows:
            self._changed(row)
        if rows:
            self.wake()
        return rows

    # -- sending ---------------------------------------------------------------------------

    def ready_at(self, row: Notification) -> float:
        return max(
            row.retry_at or 0.0,
            self._chat_ready_at.get((row.channel, row.chat_id), 0.0),
            self.flood_until,
            self._any_ready_at,
        )

    def free_at(self, chat_id: int) -> float:
        """When the next call to ``chat_id`` may go (pacing and flood), for calls made beside the
        rows (the progress edits), so both share one budget per chat."""
        return max(self._chat_ready_at.get((TELEGRAM, chat_id), 0.0), self.flood_until, self._any_ready_at)

    def spend(self, chat_id: int) -> None:
        """Count a call made to ``chat_id`` outside the rows against the chat's pacing."""
        now = self.clock()
        self._chat_ready_at[(TELEGRAM, chat_id)] = now + self.per_chat_seconds
        self._any_ready_at = now + self.overall_spacing

    async def send_due(self) -> float | None:
        """Send what may go now; returns the seconds until the next row may go (None: none pending)."""
        while True:
            heads = self.store.pending_heads(self.channels)
            if not heads:
                return None
            now = self.clock()
            due = [row for row in heads if self.ready_at(row) <= now]
            if not due:
                return min(self.ready_at(row) for row in heads) - now
            await self._send(due[0])

    async def run(self, wake: asyncio.Event) -> None:
        """Send until cancelled; sleeps until the next row is due or ``wake`` is set."""
        self.wake = wake.set
        while True:
            wake.clear()
            try:
                delay = await self.send_due()
            except sqlite3.Error:
                log.exception("the outbox cannot read its table; trying again in 5 s")
                delay = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=None if delay is None else max(delay, 0.01))

    async def _send(self, row: Notification) -> None:
        try:
            message_id = await self._deliver(row)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failed(row, error)
            return
        now = self.clock()
        self._chat_ready_at[(row.channel, row.chat_id)] = now + self.spacing(row)
        self._any_ready_at = now + self.overall_spacing
        self._changed(self.store.mark_sent(row, message_id))

    def spacing(self, row: Notification) -> float:
        """Seconds before the next row of ``row``'s chat (or channel) may go."""
        return self.per_chat_seconds

    def classify(self, error: Exception) -> SendError:
        """Retry later, wait out a flood, or give up (``wait_seconds`` of a transient error is
        the least delay before the next try)."""
        return classify_error(error, self.secrets)

    async def _deliver(self, row: Notification) -> int:
        if row.kind == "log" and row.document:
            name = f"job-{row.job_id}-transcript.txt" if row.job_id else Path(row.document).stem + ".txt"
            data = _rendered(Path(row.document))
            if len(data) > MAX_DOCUMENT_BYTES:
                data = b"(start cut: the transcript is too long to send whole)\n" + data[-MAX_DOCUMENT_BYTES:]
            return await self.gateway.send_document(
                row.chat_id, data, name, caption=row.text, reply_to=row.reply_to
            )
        if row.kind in ("reply", "job") and row.document:  # a long diff; a job's send_files copy
            path = Path(row.document)
            return await self.gateway.send_document(
                row.chat_id, _file_bytes(path), path.name, caption=row.text, reply_to=row.reply_to
            )
        block = code_block(row.text) if row.kind == "reply" and row.markup is None else None
        if block is not None:
            caption, language, code = block
            return await self.gateway.send_code(row.chat_id, caption, code, language, row.reply_to)
        return await self.gateway.send_message(row.chat_id, row.text, row.markup, row.reply_to)

    def _failed(self, row: Notification, error: Exception) -> None:
        problem = self.classify(error)
        now = self.clock()
        self._any_ready_at = now + self.overall_spacing
        if problem.failure is Failure.FLOOD:
            self.flood_until = now + problem.wait_seconds
            self.store.set_state(FLOOD_KEY, repr(self.flood_until))
            log.warning(
                "Telegram asks to wait %ss (FloodWait): notification #%s waits", problem.wait_seconds, row.id
            )
            updated = self.store.mark_retry(row.id, problem.reason, self.flood_until, count_attempt=False)
        elif problem.failure is Failure.PERMANENT:
            log.warning("notification #%s refused (%s): %s", row.id, row.channel, problem.reason)
            updated = self.store.mark_failed(row.id, problem.reason)
        elif row.attempts + 1 >= self.max_attempts:
            reason = f"gave up after {row.attempts + 1} attempts: {problem.reason}"
            log.warning("notification #%s %s", row.id, reason)
            updated = self.store.mark_failed(row.id, reason)
        else:
            delay = min(self.first_retry_seconds * 2**row.attempts, self.longest_retry_seconds)
            delay = max(delay, problem.wait_seconds)
            log.info("notification #%s not sent (%s); retry in %gs", row.id, problem.reason, delay)
            updated = self.store.mark_retry(row.id, problem.reason, now + delay, count_attempt=True)
        self._changed(updated)

    def _changed(self, row: Notification) -> None:
        if self.on_change is not None:
            self.on_change(row)


def _file_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"(the file {path} cannot be read: {error.strerror or error})\n".encode()
    if len(data) > MAX_DOCUMENT_BYTES:
        return b"(end cut: the file is too long to send whole)\n" + data[:MAX_DOCUMENT_BYTES]
    return data


def _rendered(path: Path) -> bytes:
    try:
        text = render_transcript(path)
    except OSError as error:
        text = f"(the transcript {path} cannot be read: {error.strerror or error})\n"
    return (text or "(empty transcript)\n").encode("utf-8")
