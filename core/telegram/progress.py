"""Live progress of running jobs in Telegram: one message per job, edited now and then.

Fed from the engine's events (a job started, its output, its end), the tracker keeps only the
latest state of each running job, never a queue of edits: whenever the chat may take a call
(the outbox's per-chat pacing, ``progress_seconds`` since the last edit, no FloodWait pending),
the one message shows what is true then. A FloodWait sets a deadline before which nothing of
it is sent; a job that ends meanwhile just gets its finish message. Progress is best-effort
(no outbox rows); the finish message stays durable in the outbox and replaces the progress
message, which is deleted once the job ends. Its id is kept in ``telegram_state`` so a
progress message left by an engine that stopped is deleted after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.claude.events import AssistantText, ClaudeEvent, Finished, TextDelta, ToolCall
from core.jobs import Job, JobState
from core.ledger.notifications import NotificationStore
from core.telegram.announce import Announcer
from core.telegram.config import TelegramConfig, redact
from core.telegram.gateway import Failure, Gateway, classify_error
from core.telegram.outbox import Outbox

log = logging.getLogger(__name__)

STATE_PREFIX = "progress:"
"""``telegram_state`` keys ``progress:CHAT:MESSAGE`` (a progress message still up) hold the job's id."""
TAIL_LINES = 6
TAIL_CHARS = 1_500
MAX_TEXT = 4_096
HEARTBEAT_SECONDS = 60.0
"""With nothing new, the message is still edited this often, so its elapsed time moves."""


@dataclass
class JobProgress:
    """What one running job's message shows: the latest state only."""

    job_id: int
    chat_id: int
    started: float
    tool_calls: int = 0
    last_tool: str = ""
    text: str = ""
    """The end of Claude's text so far (at most ``TAIL_CHARS``)."""
    streamed: bool = False
    """Deltas of the current text block arrived (its whole block then adds nothing)."""
    cost_usd: float | None = None
    message_id: int | None = None
    shown: str | None = None
    """The content last sent (without the elapsed time), so an unchanged one is not sent again."""
    shown_at: float = 0.0
    next_at: float = 0.0
    given_up: bool = False

    def feed(self, events: Sequence[ClaudeEvent]) -> None:
        for event in events:
            if isinstance(event, ToolCall):
                self.tool_calls += 1
                self.last_tool = f"{event.name}: {event.summary}" if event.summary else event.name
            elif isinstance(event, TextDelta):
                self.streamed = True
                self._add(event.text)
            elif isinstance(event, AssistantText):
                if not self.streamed:
                    self._add(event.text)
                self.streamed = False
                self._add("\n")
            elif isinstance(event, Finished) and event.result.cost_usd is not None:
                self.cost_usd = event.result.cost_usd

    def _add(self, text: str) -> None:
        self.text = (self.text + text)[-TAIL_CHARS:]

    def content(self) -> str:
        """Everything the message says but the elapsed time."""
        calls = f"{self.tool_calls} tool call{'' if self.tool_calls == 1 else 's'}"
        lines = [calls + (f", last: {self.last_tool}" if self.last_tool else "")]
        if self.cost_usd is not None:
            lines.append(f"cost so far: ${self.cost_usd:.4f}")
        tail = [line for line in self.text.splitlines() if line.strip()][-TAIL_LINES:]
        if tail:
            lines += ["", *tail]
        return "\n".join(lines)


def render(progress: JobProgress, content: str, now: float, secrets: Sequence[str]) -> str:
    """The message: the header with the elapsed time, then ``content``; plain text (sent without
    any parse mode), secrets blanked, within Telegram's 4,096 characters."""
    text = redact(f"⏳ #{progress.job_id} running for {elapsed(now - progress.started)}\n{content}", secrets)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def elapsed(seconds: float) -> str:
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressTracker:
    """Keeps one progress message per running job up to date, within Telegram's limits.

    Everything runs in the Telegram service's loop; :meth:`attach` gives it the connection's
    gateway, outbox (for the shared per-chat pacing) and announcer (for the chat and the notify
    policy, the finish message's own rules).
    """

    def __init__(
        self,
        config: TelegramConfig,
        store: NotificationStore,
        clock: Callable[[], float],
        lookup: Callable[[int], Job | None],
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.lookup = lookup
        self.gateway: Gateway | None = None
        self.outbox: Outbox | None = None
        self.announcer: Announcer | None = None
        self.flood_until = 0.0
        self.wake: Callable[[], None] = lambda: None
        self._jobs: dict[int, JobProgress] = {}
        self._ignored: set[int] = set()
        self._deleting: dict[tuple[int, int], int] = {}
        """(chat, message) of progress messages to delete (their job ended) -> the job's id."""
        self._delete_at = 0.0
        for key, value in store.states(STATE_PREFIX).items():  # left by an engine that stopped
            where = _parse_where(key.removeprefix(STATE_PREFIX))
            if where is None or not value.isdigit():
                store.delete_state(key)
            else:
                self._deleting[where] = int(value)

    def attach(self, gateway: Gateway, outbox: Outbox, announcer: Announcer) -> None:
        self.gateway, self.outbox, self.announcer = gateway, outbox, announcer

    @property
    def seconds(self) -> float:
        return max(self.config.progress_seconds, 3.0)

    # -- events ------------------------------------------------------------------------------

    def job_changed(self, job: Job) -> None:
        if job.state is JobState.RUNNING:
            if job.id not in self._jobs:
                self._start(job)
        elif job.id in self._jobs or job.id in self._ignored:
            self._ended(job.id)

    def output(self, job_id: int, events: Sequence[ClaudeEvent]) -> None:
        progress = self._jobs.get(job_id)
        if progress is None and job_id not in self._ignored and self.config.progress:
            job = self.lookup(job_id)  # running since before this service heard it start
            if job is not None and job.state is JobState.RUNNING:
                self._start(job)
            progress = self._jobs.get(job_id)
        if progress is not None:
            progress.feed(events)
            self.wake()

    def _start(self, job: Job) -> None:
        announcer = self.announcer
        if not self.config.progress or announcer is None:  # its output starts it once switched on
            return
        chat_id = announcer.destination(job) if announcer.policy(job) == "always" else None
        if chat_id is None:
            self._ignored.add(job.id)  # its finish message would not come: no progress either
            return
        started = self.clock()
        self._jobs[job.id] = JobProgress(job.id, chat_id, started, next_at=started + self.seconds)
        self.wake()

    def _ended(self, job_id: int) -> None:
        self._ignored.discard(job_id)
        progress = self._jobs.pop(job_id, None)
        if progress is not None and progress.message_id is not None:
            self._deleting[(progress.chat_id, progress.message_id)] = job_id
            self.wake()

    def tracked(self) -> list[int]:
        return sorted(self._jobs)

    # -- sending -----------------------------------------------------------------------------

    def _free_at(self, chat_id: int) -> float:
        paced = self.outbox.free_at(chat_id) if self.outbox is not None else 0.0
        return max(paced, self.flood_until)

    async def send_due(self) -> float | None:
        """Delete and edit what may go now; the seconds until the next may (None: nothing to do)."""
        if self.gateway is None:
            return None
        waits: list[float] = []
        for (chat_id, message_id), job_id in list(self._deleting.items()):
            due = max(self._free_at(chat_id), self._delete_at)
            if due > self.clock():
                waits.append(due)
                continue
            await self._delete(job_id, chat_id, message_id)
            if (chat_id, message_id) in self._deleting:
                waits.append(max(self._free_at(chat_id), self._delete_at))
        for progress in list(self._jobs.values()):
            if progress.given_up or not self.config.progress:  # switched off: left for the finish
                continue
            content = progress.content()
            if content == progress.shown:
                due = max(progress.next_at, progress.shown_at + HEARTBEAT_SECONDS)
            else:
                due = progress.next_at
            due = max(due, self._free_at(progress.chat_id))
            if due > self.clock():
                waits.append(due)
                continue
            await self._show(progress, content)
            if not progress.given_up and self._jobs.get(progress.job_id) is progress:
                waits.append(max(progress.next_at, self._free_at(progress.chat_id)))
        return min(waits) - self.clock() if waits else None

    async def run(self, wake: asyncio.Event) -> None:
        """Send until cancelled; sleeps until the next edit is due or ``wake`` is set."""
        self.wake = wake.set
        while True:
            wake.clear()
            try:
                delay = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Telegram progress failed; trying again in %gs", self.seconds)
                delay = self.seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=None if delay is None else max(delay, 0.01))

    async def _show(self, progress: JobProgress, content: str) -> None:
        assert self.gateway is not None
        now = self.clock()
        text = render(progress, content, now, self.config.secrets())
        try:
            if progress.message_id is None:
                message_id = await self.gateway.send_message(progress.chat_id, text)
                progress.message_id = message_id
                self.store.set_state(_state_key(progress.chat_id, message_id), str(progress.job_id))
                if self._jobs.get(progress.job_id) is not progress:  # it ended during the send
                    self._deleting[(progress.chat_id, message_id)] = progress.job_id
            else:
                await self.gateway.edit_message(progress.chat_id, progress.message_id, text)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failed(progress, error)
        else:
            progress.shown, progress.shown_at = content, now
        finally:
            self._spent(progress.chat_id)
            progress.next_at = self.clock() + self.seconds

    def _failed(self, progress: JobProgress, error: Exception) -> None:
        from pyrogram import errors

        if isinstance(error, errors.MessageNotModified):
            progress.shown, progress.shown_at = progress.content(), self.clock()
            return
        problem = classify_error(error, self.config.secrets())
        if problem.failure is Failure.FLOOD:
            self._flooded(problem.wait_seconds, f"job #{progress.job_id}'s progress")
        elif problem.failure is Failure.PERMANENT:
            # the message was deleted, the chat refuses: the finish message is all it gets
            log.warning("job #%s's progress is not shown: %s", progress.job_id, problem.reason)
            progress.given_up = True
        else:
            log.info("job #%s: progress not updated (%s), tried later", progress.job_id, problem.reason)

    async def _delete(self, job_id: int, chat_id: int, message_id: int) -> None:
        assert self.gateway is not None
        try:
            await self.gateway.delete_message(chat_id, message_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            problem = classify_error(error, self.config.secrets())
            if problem.failure is Failure.FLOOD:
                self._flooded(problem.wait_seconds, f"job #{job_id}'s progress message")
                return
            if problem.failure is Failure.TRANSIENT:
                self._delete_at = self.clock() + self.seconds
                return
            log.info("job #%s's progress message not deleted: %s", job_id, problem.reason)
        finally:
            self._spent(chat_id)
        self._deleting.pop((chat_id, message_id), None)
        self.store.delete_state(_state_key(chat_id, message_id))

    def _flooded(self, seconds: float, what: str) -> None:
        self.flood_until = max(self.flood_until, self.clock() + seconds)
        log.warning("Telegram asks to wait %ss (FloodWait): %s waits", seconds, what)

    def _spent(self, chat_id: int) -> None:
        if self.outbox is not None:
            self.outbox.spend(chat_id)


def _state_key(chat_id: int, message_id: int) -> str:
    return f"{STATE_PREFIX}{chat_id}:{message_id}"


def _parse_where(value: str) -> tuple[int, int] | None:
    chat, _, message = value.partition(":")
    try:
        return int(chat), int(message)
    except ValueError:
        return None
