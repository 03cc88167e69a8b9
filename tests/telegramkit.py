"""Telegram test helpers: pyrogram's own update objects, a settable clock, and a bot on a temp ledger.

Telegram's servers cannot be reached from the tests, so the gateway is the recording
fake; everything on flowtui's side of it (handlers, control, outbox, the SQLite rows) is real.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from enginekit import home_paths, settings_from
from pyrogram import enums, types

from core.config.check import SecretStr
from core.config.settings import Settings
from core.engine.engine import Engine
from core.events import Event, EventBus
from core.jobs import Job, JobState, RunOutcome
from core.ledger.notifications import Notification, NotificationStore
from core.ledger.sqlite import Ledger
from core.ledger.store import LedgerStore
from core.ops.control import Control
from core.paths import Paths
from core.queue.transport import JobQueue
from core.telegram.announce import Announcer
from core.telegram.commands import Bot
from core.telegram.config import TelegramConfig
from core.telegram.outbox import Outbox
from core.telegram.recording import RecordingGateway
from core.telegram.service import TelegramService

ALICE = 111
BOB = 222
STRANGER = 666
CHAT = 111  # Alice's private chat with the bot
GROUP = -100500
API_HASH = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "4242:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

TELEGRAM_CONFIG = f"""
[telegram]
api_id = 12345
api_hash = "{API_HASH}"
bot_token = "{BOT_TOKEN}"
allowed_users = [{ALICE}, {BOB}]
notify_chat_id = {CHAT}
"""

_message_ids = itertools.count(1)


def user(user_id: int = ALICE, username: str | None = "alice") -> types.User:
    return types.User(id=user_id, username=username, first_name=username or "someone", is_bot=False)


def chat(chat_id: int = CHAT) -> types.Chat:
    kind = enums.ChatType.PRIVATE if chat_id > 0 else enums.ChatType.SUPERGROUP
    return types.Chat(id=chat_id, type=kind)


def message(
    text: str | None,
    from_id: int = ALICE,
    chat_id: int | None = None,
    reply_to: int | None = None,
    username: str | None = "alice",
) -> types.Message:
    """An incoming text message as pyrogram hands it to a handler."""
    return types.Message(
        id=next(_message_ids),
        from_user=user(from_id, username),
        chat=chat(from_id if chat_id is None else chat_id),
        text=text,
        date=datetime.now(UTC),
        reply_to_message_id=reply_to,
    )


def press(data: str, from_id: int = ALICE, chat_id: int = CHAT, message_id: int = 1) -> types.CallbackQuery:
    """A button press on one of the bot's messages."""
    bot_message = types.Message(id=message_id, chat=chat(chat_id), text="(a notification)")
    return types.CallbackQuery(
        id=f"query-{next(_message_ids)}",
        from_user=user(from_id),
        message=bot_message,
        data=data,
        chat_instance="instance",
    )


def telegram_config(
    allowed: tuple[int, ...] = (ALICE, BOB), notify_chat_id: int | None = CHAT
) -> TelegramConfig:
    return TelegramConfig(
        api_id=12345,
        api_hash=SecretStr(API_HASH),
        bot_token=SecretStr(BOT_TOKEN),
        allowed_users=frozenset(allowed),
        notify_chat_id=notify_chat_id,
    )


@dataclass
class FakeClock:
    """Seconds that only move when a test moves them."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class BotKit:
    """A bot wired to a real ledger, queue and outbox under ``home``, and a recording gateway."""

    home: Path
    paths: Paths
    settings: Settings
    ledger: LedgerStore
    control: Control
    store: NotificationStore
    gateway: RecordingGateway
    outbox: Outbox
    bot: Bot
    announcer: Announcer
    clock: FakeClock
    changes: list[Notification] = field(default_factory=list)

    async def say(self, text: str | None, **kwargs: object) -> None:
        """A message arrives and any burst it started is flushed (as after a quiet moment)."""
        await self.gateway.deliver(message(text, **kwargs))  # type: ignore[arg-type]
        self.quiet()

    def quiet(self) -> list[Job]:
        self.clock.advance(60)
        return self.bot.flush_due()

    async def drain(self) -> list[str]:
        """Send everything pending (moving the clock past pacing and back-off); the texts sent."""
        before = len(self.gateway.sent)
        while (delay := await self.outbox.send_due()) is not None:
            self.clock.advance(delay)
        return [sent.text for sent in self.gateway.sent[before:] if sent.kind != "answer"]

    def finish(self, job_id: int, state: JobState = JobState.SUCCEEDED, **outcome: object) -> Job:
        """Run a queued job to a final state without Claude (as the engine would record it)."""
        claimed = self.ledger.claim(job_id, owner_pid=1)
        assert claimed is not None
        fields: dict[str, object] = {"session_id": "session-1", "answer": "the answer", "cost_usd": 0.0123}
        fields.update(outcome)
        return self.ledger.finish(job_id, RunOutcome(state=state, **fields))  # type: ignore[arg-type]


@contextmanager
def bot_kit(
    home: Path,
    config_text: str = TELEGRAM_CONFIG,
    allowed: tuple[int, ...] = (ALICE, BOB),
    ledger: LedgerStore | None = None,
) -> Iterator[BotKit]:
    """``ledger``: another store than the data dir's SQLite file (Redis), closed by the caller."""
    paths = home_paths(home)
    paths.ensure_data_dir()
    paths.config_file.write_text(config_text)
    settings = settings_from(config_text)
    own_ledger = ledger is None
    ledger = Ledger(paths.ledger_db) if ledger is None else ledger
    control = Control(settings, ledger, JobQueue(paths.queue_db), lambda change: None, paths=paths)
    store = NotificationStore(paths.ledger_db)
    clock = FakeClock()
    gateway = RecordingGateway()
    config = telegram_config(allowed)
    changes: list[Notification] = []
    outbox = Outbox(store, gateway, secrets=config.secrets(), clock=clock, on_change=changes.append)
    bot = Bot(
        config,
        control,
        outbox,
        store,
        answer_callback=gateway.answer_callback,
        clock=clock,
    )
    announcer = Announcer(settings, config, control, store, outbox)
    kit = BotKit(
        home, paths, settings, ledger, control, store, gateway, outbox, bot, announcer, clock, changes
    )
    try:
        yield kit
    finally:
        store.close()
        if own_ledger:
            ledger.close()


async def started(kit: BotKit) -> BotKit:
    await kit.gateway.start(kit.bot.on_message, kit.bot.on_callback)
    kit.bot.username = kit.gateway.identity.username
    return kit


def engine_config(workdir: Path, extra: str = "") -> str:
    """The Telegram config plus a default workflow that runs in ``workdir``."""
    return f'{TELEGRAM_CONFIG}\n[workflows.default]\ncwd = "{workdir}"\n{extra}'


@contextmanager
def telegram_engine(
    home: Path,
    config_text: str,
    environ: Mapping[str, str],
    gateway: RecordingGateway,
) -> Iterator[tuple[Engine, TelegramService, list[Event]]]:
    """A real engine with the Telegram service on the recording gateway; every bus event is kept."""
    paths = home_paths(home)
    paths.ensure_data_dir()
    paths.config_file.write_text(config_text)
    settings = settings_from(config_text)
    service = TelegramService(
        settings,
        environ,
        gateway_builder=lambda config, data_dir: gateway,
        burst_seconds=0.0,
        first_reconnect_seconds=0.05,
        per_chat_seconds=0.0,
    )
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    engine = Engine(settings, paths, environ=environ, bus=bus, services=[service])
    engine.start()
    try:
        yield engine, service, events
    finally:
        engine.stop()


def rows(home: Path) -> list[Notification]:
    """The outbox as another process sees it, oldest first."""
    store = NotificationStore(home_paths(home).ledger_db)
    try:
        return list(reversed(store.recent()))
    finally:
        store.close()
