"""The Telegram service: its own thread and asyncio loop beside the engine's workers.

The engine's event bus calls :meth:`TelegramService._on_event` on whatever thread
published; it only hands the event to the loop (``call_soon_threadsafe``), so a slow or
dead Telegram can never hold up a worker or fail a job. In the loop: the gateway (built
there, since pyrogram binds to the loop it is built in) connects with growing retry
delays, the outbox sends, typed bursts become jobs, and a reconcile pass announces what
events missed. An edit of ``[telegram]`` while it runs applies in the loop: a new allowlist or
notify chat at once, new connection settings (api_id, api_hash, bot_token) by a new client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from core.config.live import ConfigUpdate
from core.config.settings import NOT_CONFIGURED, Settings
from core.engine.service import ServiceContext
from core.events import (
    Event,
    JobChanged,
    JobOutput,
    NotificationChanged,
    ServiceFailed,
    ServiceStateChanged,
    SharedStateChanged,
)
from core.jobs import Job
from core.ledger.notifications import Notification, NotificationStore
from core.telegram.announce import Announcer
from core.telegram.commands import BURST_SECONDS, Bot
from core.telegram.config import TelegramConfig, TelegramConfigError, redact, resolve_config
from core.telegram.gateway import BotIdentity, Gateway, PyrogramGateway, classify_error
from core.telegram.outbox import Outbox
from core.telegram.progress import ProgressTracker

log = logging.getLogger(__name__)

GatewayBuilder = Callable[[TelegramConfig, Path], Gateway]
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 15.0
RECONCILE_SPACING_SECONDS = 0.5
"""A busy ledger changes many times a second; reconciling that often would only cost CPU."""


def pyrogram_gateway(config: TelegramConfig, session_file: Path) -> Gateway:
    return PyrogramGateway(config, session_file)


class SecretFilter(logging.Filter):
    """Blanks the bot token and api_hash out of every record a handler writes (tracebacks too)."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


class TelegramService:
    """Commands in, notifications out; one per engine, registered in ``default_services``."""

    name = "telegram"

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        gateway_builder: GatewayBuilder = pyrogram_gateway,
        burst_seconds: float = BURST_SECONDS,
        first_reconnect_seconds: float = 5.0,
        per_chat_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.environ = environ
        self.gateway_builder = gateway_builder
        self.burst_seconds = burst_seconds
        self.first_reconnect_seconds = first_reconnect_seconds
        self.per_chat_seconds = per_chat_seconds
        self.identity: BotIdentity | None = None
        self.last_error: str | None = None
        self.store: NotificationStore | None = None
        self.bot: Bot | None = None
        self.outbox: Outbox | None = None
        self._context: ServiceContext | None = None
        self._config: TelegramConfig | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._log_filter: SecretFilter | None = None
        self._stopping: asyncio.Event | None = None
        self._reconnect: asyncio.Event | None = None
        """Set when the connection settings changed: the client is built again."""
        self._unsubscribe_config: Callable[[], None] | None = None
        self._wake_outbox: asyncio.Event | None = None
        self._wake_house: asyncio.Event | None = None
        self._reconcile_wanted = True
        self._announcer: Announcer | None = None
        self.progress: ProgressTracker | None = None
        self._wake_progress: asyncio.Event | None = None

    # -- life cycle (engine thread) ------------------------------------------------------

    def start(self, context: ServiceContext) -> None:
        config = resolve_config(self.settings, self.environ)
        if config is None:
            raise TelegramConfigError(NOT_CONFIGURED)
        self._context, self._config = context, config
        # pyrogram logs every connection step at INFO: while Telegram cannot be reached that
        # is dozens of lines a try (and their formatting); our own line says it once.
        logging.getLogger("pyrogram").setLevel(logging.WARNING)
        self._install_log_filter(config)
        try:
            self.store = NotificationStore(context.paths.ledger_db, context.clock)
            self.store.clear_backoff()
            self.progress = ProgressTracker(config, self.store, context.clock.timestamp, context.ledger.get)
            self._thread = threading.Thread(target=self._thread_main, name="telegram", daemon=True)
            self._thread.start()
            if not self._ready.wait(START_TIMEOUT_SECONDS) or self._startup_error is not None:
                raise RuntimeError(f"the Telegram service did not start: {self._startup_error}")
        except BaseException:
            self.stop()
            raise
        self._unsubscribe = context.bus.subscribe(self._on_event)
        self._unsubscribe_config = context.live.subscribe(
            lambda update: self._call_in_loop(self._config_updated, update)
        )
        log.info("Telegram service started (%s allowed users)", len(config.allowed_users))

    def stop(self) -> None:
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
            self._unsubscribe_config = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                log.warning("the Telegram thread did not stop within %ss", STOP_TIMEOUT_SECONDS)
            self._thread = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self._remove_log_filter()

    def _install_log_filter(self, config: TelegramConfig) -> None:
        self._log_filter = SecretFilter(config.secrets())
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._log_filter)

    def _remove_log_filter(self) -> None:
        if self._log_filter is not None:
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._log_filter)
            self._log_filter = None

    # -- events from the engine (any thread) ----------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobChanged):
            if self.progress is not None:
                self._call_in_loop(self.progress.job_changed, event.job)
            if event.job.state.is_final:
                self._call_in_loop(self._job_finished, event.job)
        elif isinstance(event, JobOutput) and event.events and self.progress is not None:
            self._call_in_loop(self.progress.output, event.job_id, event.events)
        elif isinstance(event, SharedStateChanged):
            self._call_in_loop(self._shared_change)

    def _call_in_loop(self, function: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closing; the reconcile at the next start catches up
            log.debug("Telegram loop closed; event left for the next start")

    def wake(self) -> None:
        """Look at the ledger and the outbox again now (for example after `notifications resend`)."""
        self._call_in_loop(self._shared_change)

    # -- in the loop ---------------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as error:
            reason = redact(str(error), self._config.secrets() if self._config else ())
            log.exception("the Telegram service stopped with an error")
            self._startup_error = self._startup_error or error
            self._ready.set()
            if self._context is not None:
                self._context.bus.publish(ServiceFailed(name=self.name, reason=reason))

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._wake_house = asyncio.Event()
        self._wake_progress = asyncio.Event()
        while not self._stopping.is_set():
            self._reconnect.clear()
            await self._connected_while()

    async def _connected_while(self) -> None:
        """One client's life: until the stop, or until new connection settings want another."""
        assert self._context is not None and self._config is not None and self.store is not None
        assert self._stopping is not None and self._reconnect is not None
        assert self._wake_outbox is not None and self._wake_house is not None
        given, config, store = self._context, self._config, self.store
        self.identity = None
        gateway = self.gateway_builder(config, given.paths.telegram_session_file)
        outbox = Outbox(
            store,
            gateway,
            secrets=config.secrets(),
            clock=given.clock.timestamp,
            on_change=self._publish_notification,
            per_chat_seconds=self.per_chat_seconds,
        )
        outbox.wake = self._wake_outbox.set
        announcer = Announcer(given.settings, config, given.control, store, outbox)
        bot = Bot(
            config,
            given.control,
            outbox,
            store,
            answer_callback=gateway.answer_callback,
            edit_message=gateway.edit_message,
            burst_seconds=self.burst_seconds,
            on_change=self._wake_house.set,
            download=gateway.download,
            environ=self.environ,
        )
        self.outbox, self.bot = outbox, bot
        self._announcer = announcer
        if self.progress is not None:
            self.progress.attach(gateway, outbox, announcer)
        self._ready.set()
        tasks = [
            asyncio.create_task(self._connect_and_send(gateway, bot, outbox), name="telegram-outbox"),
            asyncio.create_task(self._housekeeping(bot, announcer), name="telegram-housekeeping"),
        ]
        ended = [asyncio.create_task(self._stopping.wait()), asyncio.create_task(self._reconnect.wait())]
        await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        for waiter in ended:
            waiter.cancel()
        with contextlib.suppress(Exception):
            bot.flush_all()  # text typed just before the stop becomes a job, not lost
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(gateway.stop(), STOP_TIMEOUT_SECONDS)
        except Exception as error:
            log.warning("Telegram client did not stop cleanly: %s", redact(str(error), config.secrets()))

    async def _connect_and_send(self, gateway: Gateway, bot: Bot, outbox: Outbox) -> None:
        assert self._config is not None and self._wake_outbox is not None
        delay = self.first_reconnect_seconds
        while True:
            try:
                self.identity = await gateway.start(bot.on_message, bot.on_callback)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                reason = classify_error(error, self._config.secrets()).reason
                if reason != self.last_error and self._context is not None:
                    self._context.bus.publish(
                        ServiceFailed(name=self.name, reason=f"cannot connect: {reason}")
                    )
                self.last_error = reason
                log.warning("Telegram: cannot connect (%s); trying again in %gs", reason, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300.0)
        self.last_error = None
        if self._context is not None:  # the window's header names the bot now
            self._context.bus.publish(ServiceStateChanged(self.name))
        bot.username = self.identity.username
        log.info("Telegram bot %s connected", self.identity.describe())
        if self.progress is None or self._wake_progress is None:
            await outbox.run(self._wake_outbox)
            return
        await asyncio.gather(outbox.run(self._wake_outbox), self.progress.run(self._wake_progress))

    async def _housekeeping(self, bot: Bot, announcer: Announcer) -> None:
        """Flush typed bursts when due, and reconcile on request or every idle sweep."""
        assert self._wake_house is not None
        assert self._context is not None
        sweep = self._context.settings.engine.idle_sweep_seconds
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        last_reconcile = -RECONCILE_SPACING_SECONDS
        while True:
            self._wake_house.clear()
            try:
                bot.flush_due()
                wanted = self._reconcile_wanted and loop.time() >= last_reconcile + RECONCILE_SPACING_SECONDS
                if wanted or loop.time() >= next_sweep:
                    self._reconcile_wanted = False
                    last_reconcile = loop.time()
                    next_sweep = last_reconcile + sweep
                    announcer.reconcile()
                    await bot.close_answered()
            except Exception:
                log.exception("Telegram housekeeping failed; trying again at the next sweep")
            deadline = bot.next_deadline()
            timeout = next_sweep - loop.time()
            if self._reconcile_wanted:  # asked for during the spacing: come back when it ends
                timeout = min(timeout, last_reconcile + RECONCILE_SPACING_SECONDS - loop.time())
            if deadline is not None:
                timeout = min(timeout, deadline - bot.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_house.wait(), timeout=max(timeout, 0.01))

    def _config_updated(self, update: ConfigUpdate) -> None:
        """In the loop: apply an edited ``[telegram]`` (its removal waits for a restart, as
        the header says) and the workflows' notify policies."""
        if update.problem is not None or not update.changed or update.current.telegram is None:
            return
        if self._announcer is not None:
            self._announcer.settings = update.current
        try:
            config = resolve_config(update.current, self.environ)
        except TelegramConfigError as error:
            self._report(f"config not applied, Telegram keeps its settings: {error}")
            return
        old = self._config
        if config is None or config == old:
            return
        self._config = config
        self._remove_log_filter()
        self._install_log_filter(config)
        if old is not None and (config.api_id, config.api_hash, config.bot_token) != (
            old.api_id,
            old.api_hash,
            old.bot_token,
        ):
            log.info("Telegram: the connection settings changed; connecting again")
            if self._reconnect is not None:
                self._reconnect.set()
            return
        if self.bot is not None:
            self.bot.config = config
        if self._announcer is not None:
            self._announcer.config = config
        if self.progress is not None:
            self.progress.config = config
        log.info("Telegram: settings applied (%s allowed users)", len(config.allowed_users))

    def _report(self, reason: str) -> None:
        log.warning("%s", reason)
        if self._context is not None:
            self._context.bus.publish(ServiceFailed(name=self.name, reason=reason))

    def _job_finished(self, job: Job) -> None:
        if self._announcer is None:
            return
        try:
            self._announcer.job_finished(job)
        except Exception:
            log.exception("could not queue the notification for job #%s; the reconcile retries", job.id)

    def _shared_change(self) -> None:
        self._reconcile_wanted = True
        if self._wake_house is not None:
            self._wake_house.set()
        if self._wake_outbox is not None:
            self._wake_outbox.set()

    def _publish_notification(self, row: Notification) -> None:
        if self._context is not None:
            self._context.bus.publish(
                NotificationChanged(
                    notification_id=row.id,
                    job_id=row.job_id,
                    chat_id=row.chat_id,
                    kind=row.kind,
                    state=row.state,
                    error=row.error,
                )
            )


def telegram_services(settings: Settings, environ: Mapping[str, str]) -> list[TelegramService]:
    """The Telegram service when the config has a ``[telegram]`` section, else none."""
    return [TelegramService(settings, environ)] if settings.telegram is not None else []
