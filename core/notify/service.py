"""The notify service: its own thread and asyncio loop that tells the ``[[notify]]`` channels.

It runs whether or not Telegram is configured. Engine events (any thread) are handed to the
loop; there the announcer queues rows and :class:`ChannelOutbox` sends them, paced per channel
and retried with back-off; rows left pending by a stop are sent after the next start. An edit
of the ``[[notify]]`` entries applies at once (a channel added, removed or given a new URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

import httpx2

from core.config.live import ConfigUpdate
from core.config.settings import Settings
from core.engine.service import ServiceContext
from core.events import Event, JobChanged, NotificationChanged, QuestionChanged, SharedStateChanged
from core.jobs import Job
from core.ledger.notifications import Notification, NotificationStore
from core.notify.announce import ChannelAnnouncer
from core.notify.channels import Channel, resolve_channels
from core.notify.outbox import ChannelOutbox

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 15.0
RECONCILE_SPACING_SECONDS = 0.5


class NotifyService:
    """``[[notify]]`` channels told about jobs; one per engine, registered in ``default_services``."""

    name = "notify"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: NotificationStore | None = None
        self.outbox: ChannelOutbox | None = None
        self.announcer: ChannelAnnouncer | None = None
        self._context: ServiceContext | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._wake_outbox: asyncio.Event | None = None
        self._wake_house: asyncio.Event | None = None
        self._reconcile_wanted = True
        self._unsubscribe: list[Callable[[], None]] = []

    # -- life cycle (engine thread) ------------------------------------------------------

    def start(self, context: ServiceContext) -> None:
        self._context = context
        channels = resolve_channels(context.settings)
        try:
            self.store = NotificationStore(context.paths.ledger_db, context.clock)
            self.store.clear_backoff(tuple(channels))
            self._thread = threading.Thread(
                target=self._thread_main, args=(channels,), name="notify", daemon=True
            )
            self._thread.start()
            if not self._ready.wait(START_TIMEOUT_SECONDS) or self._startup_error is not None:
                raise RuntimeError(f"the notify service did not start: {self._startup_error}")
        except BaseException:
            self.stop()
            raise
        self._unsubscribe = [
            context.bus.subscribe(self._on_event),
            context.live.subscribe(lambda update: self._call_in_loop(self._config_updated, update)),
        ]
        log.info("notify service started: %s", ", ".join(f"{n} ({c.target()})" for n, c in channels.items()))

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                log.warning("the notify thread did not stop within %ss", STOP_TIMEOUT_SECONDS)
            self._thread = None
        if self.store is not None:
            self.store.close()
            self.store = None

    # -- events from the engine (any thread) ----------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobChanged) and event.job.state.is_final:
            self._call_in_loop(self._job_finished, event.job)
        elif isinstance(event, JobChanged | QuestionChanged | SharedStateChanged):
            self._call_in_loop(self.wake)  # a job waits for approval, a question: the reconcile queues it

    def _call_in_loop(self, function: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing; the next start reconciles
            loop.call_soon_threadsafe(function, *args)

    # -- in the loop ---------------------------------------------------------------------

    def _thread_main(self, channels: dict[str, Channel]) -> None:
        try:
            asyncio.run(self._main(channels))
        except Exception as error:
            log.exception("the notify service stopped with an error")
            self._startup_error = self._startup_error or error
            self._ready.set()

    async def _main(self, channels: dict[str, Channel]) -> None:
        assert self._context is not None and self.store is not None
        self._loop = asyncio.get_running_loop()
        self._stopping, self._wake_outbox, self._wake_house = (
            asyncio.Event(),
            asyncio.Event(),
            asyncio.Event(),
        )
        context = self._context
        async with httpx2.AsyncClient(follow_redirects=False, trust_env=False) as client:
            outbox = ChannelOutbox(
                self.store, channels, client, clock=context.clock.timestamp, on_change=self._publish
            )
            self.outbox = outbox
            self.announcer = ChannelAnnouncer(channels, context.control, self.store, outbox)
            self._ready.set()
            tasks = [
                asyncio.create_task(outbox.run(self._wake_outbox), name="notify-outbox"),
                asyncio.create_task(self._housekeeping(), name="notify-housekeeping"),
            ]
            await self._stopping.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _housekeeping(self) -> None:
        """Reconcile on request (spaced) and every idle sweep."""
        assert self._wake_house is not None and self._context is not None
        loop = asyncio.get_running_loop()
        sweep = self._context.settings.engine.idle_sweep_seconds
        next_sweep = loop.time()
        last = -RECONCILE_SPACING_SECONDS
        while True:
            self._wake_house.clear()
            wanted = self._reconcile_wanted and loop.time() >= last + RECONCILE_SPACING_SECONDS
            if (wanted or loop.time() >= next_sweep) and self.announcer is not None:
                self._reconcile_wanted = False
                last = loop.time()
                next_sweep = last + sweep
                try:
                    self.announcer.reconcile()
                except Exception:
                    log.exception("notify: the reconcile failed; trying again at the next sweep")
            timeout = next_sweep - loop.time()
            if self._reconcile_wanted:
                timeout = min(timeout, last + RECONCILE_SPACING_SECONDS - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_house.wait(), timeout=max(timeout, 0.01))

    def wake(self) -> None:
        """Look at the ledger and the outbox again (a shared change, `notifications resend`)."""
        self._reconcile_wanted = True
        if self._wake_house is not None:
            self._wake_house.set()
        if self._wake_outbox is not None:
            self._wake_outbox.set()

    def _job_finished(self, job: Job) -> None:
        if self.announcer is None:
            return
        try:
            self.announcer.job_finished(job)
        except Exception:
            log.exception("could not queue job #%s's notifications; the reconcile retries", job.id)

    def _config_updated(self, update: ConfigUpdate) -> None:
        if update.problem is not None or not update.changed:
            return
        channels = resolve_channels(update.current)
        if self.outbox is not None:
            self.outbox.set_channels(channels)
        if self.announcer is not None:
            self.announcer.set_channels(channels)
        log.info("notify: channels now %s", ", ".join(channels) or "none")
        self.wake()

    def _publish(self, row: Notification) -> None:
        if self._context is not None:
            self._context.bus.publish(
                NotificationChanged(
                    notification_id=row.id,
                    job_id=row.job_id,
                    chat_id=row.chat_id,
                    kind=row.kind,
                    state=row.state,
                    error=row.error,
                    channel=row.channel,
                )
            )


def notify_services(settings: Settings) -> list[NotifyService]:
    """The notify service when the config has ``[[notify]]`` entries, else none."""
    return [NotifyService(settings)] if settings.notify else []
