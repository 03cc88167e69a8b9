"""The one seam between flowtui and Telegram: a few calls, and their pyrogram implementation.

Everything else in the package talks to a :class:`Gateway`, so all of it runs in tests
with :class:`~core.telegram.recording.RecordingGateway`, where Telegram cannot be reached.
The pyrogram client is built inside the running event loop (it binds to the loop current
at construction) and driven with ``start()``/``stop()``, never ``run()``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.extras import TELEGRAM, MissingExtra, require
from core.ledger.notifications import Markup
from core.telegram.config import TelegramConfig, redact

if TYPE_CHECKING:
    from pyrogram import Client
    from pyrogram.types import CallbackQuery, Message

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 60.0
DOWNLOAD_TIMEOUT_SECONDS = 600.0

MessageCallback = Callable[["Message"], Awaitable[None]]
CallbackQueryCallback = Callable[["CallbackQuery"], Awaitable[None]]


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, as Telegram says after logging in: shown by `telegram check`."""

    id: int
    username: str | None
    name: str

    def describe(self) -> str:
        handle = f"@{self.username}" if self.username else self.name
        return f"{handle} (id {self.id})"


class Gateway(Protocol):
    """The calls flowtui makes to Telegram; each returns what the rest of flowtui needs."""

    async def start(self, on_message: MessageCallback, on_callback: CallbackQueryCallback) -> BotIdentity:
        """Connect, log the bot in, and deliver incoming messages and button presses."""
        ...

    async def stop(self) -> None: ...

    async def get_me(self) -> BotIdentity: ...

    async def send_message(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> int:
        """Send plain text (no markup parsing, so answers arrive exactly); returns the message id."""
        ...

    async def send_document(
        self, chat_id: int, data: bytes, file_name: str, caption: str = "", reply_to: int | None = None
    ) -> int:
        """Send ``data`` as a file named ``file_name`` (built in memory, never written to disk)."""
        ...

    async def send_code(
        self, chat_id: int, caption: str, code: str, language: str = "", reply_to: int | None = None
    ) -> int:
        """Send a caption line and ``code`` under it as a code block (a ``pre`` entity, so no
        markup is parsed); returns the message id."""
        ...

    async def answer_callback(self, query_id: str, text: str) -> None:
        """Acknowledge a button press (a short toast), so the client stops its spinner."""
        ...

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        """Replace the text of one of the bot's messages (plain text); no ``markup`` removes its buttons."""
        ...

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """Delete one of the bot's messages (a job's progress message, once its finish message comes)."""
        ...

    async def download(self, message: Message, destination: Path) -> None:
        """Download the photo (its largest size), document or audio of ``message`` to the file
        ``destination`` (its folder exists)."""
        ...


# -- errors ------------------------------------------------------------------------------


class Failure(Enum):
    """How the outbox treats a failed call."""

    FLOOD = "flood"  # Telegram said wait N seconds
    PERMANENT = "permanent"  # this message can never be sent as it is (bad chat, bot blocked)
    TRANSIENT = "transient"  # network or server trouble: try again later


@dataclass(frozen=True)
class SendError:
    """A failed send, classified: retry later, wait out a flood, or give up, with the reason."""

    failure: Failure
    reason: str
    wait_seconds: float = 0.0


def classify_error(error: BaseException, secrets: Sequence[str] = ()) -> SendError:
    """Sort an exception from a gateway call: pyrogram's FloodWait, 400/403 refusals, the rest."""
    if isinstance(error, MissingExtra):  # kurigram is not installed: say which extra brings it
        return SendError(Failure.PERMANENT, str(error))
    from pyrogram import errors

    reason = redact(_describe(error), secrets)
    if isinstance(error, errors.FloodWait):
        value = error.value if isinstance(error.value, int | float) else 0
        return SendError(Failure.FLOOD, f"flood wait {value}s", float(value))
    if isinstance(error, errors.BadRequest | errors.Forbidden | errors.NotAcceptable):
        return SendError(Failure.PERMANENT, reason)
    return SendError(Failure.TRANSIENT, reason)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, TimeoutError):
        return "no answer from Telegram in time"
    if isinstance(error, ConnectionError | OSError) and not text:
        return "cannot reach Telegram (network)"
    if text.startswith("Telegram says") or isinstance(error, TelegramUnreachable):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- pyrogram ------------------------------------------------------------------------------


def prepare_session_dir(session_file: Path) -> Path:
    """The session file's directory, made private to the user (it holds the auth key)."""
    directory = session_file.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    if session_file.exists():
        os.chmod(session_file, 0o600)
    return directory


def private_storage(name: str, workdir: Path) -> Any:
    """pyrogram's SQLite session storage whose file is made mode 0600 as soon as it exists,
    before the auth key is written into it."""
    from pyrogram.storage import SQLiteStorage

    class PrivateSQLiteStorage(SQLiteStorage):
        """pyrogram's session file, readable by its owner only (it holds the bot's login)."""

        async def open(self) -> None:
            await super().open()  # type: ignore[no-untyped-call]
            database = getattr(self, "database", None)
            if isinstance(database, Path) and database.exists():
                os.chmod(database, 0o600)

    return PrivateSQLiteStorage(name, workdir=workdir)


def build_markup(markup: Markup | None) -> Any:
    """pyrogram's reply markup for ours (inline keyboard, or a reply prompt)."""
    if markup is None:
        return None
    from pyrogram import types

    if markup.force_reply:
        return types.ForceReply(selective=True)
    if not markup.rows:
        return None
    return types.InlineKeyboardMarkup(
        [
            [types.InlineKeyboardButton(button.text, callback_data=button.data) for button in row]
            for row in markup.rows
        ]
    )


@dataclass
class PyrogramGateway:
    """The real gateway: one pyrogram (kurigram) bot client, made inside the running loop.

    ``in_memory`` keeps the session out of the data dir (``flowtui telegram check`` uses it
    so it never touches the running engine's session file).
    """

    config: TelegramConfig
    session_file: Path
    in_memory: bool = False
    receive_updates: bool = True
    _client: Client | None = field(default=None, repr=False)

    def _build_client(self) -> Client:
        from pyrogram import Client, enums

        loop = asyncio.get_running_loop()
        common: dict[str, Any] = {
            "api_id": self.config.api_id,
            "api_hash": self.config.api_hash.get_secret_value(),
            "bot_token": self.config.bot_token.get_secret_value(),
            # FloodWait must reach the outbox, which waits and records it, instead of
            # pyrogram sleeping inside a send call.
            "sleep_threshold": 0,
            "parse_mode": enums.ParseMode.DISABLED,
            "no_updates": not self.receive_updates,
            "loop": loop,
        }
        name = self.session_file.stem  # pyrogram keeps the session in <workdir>/<name>.session
        if self.in_memory:
            return Client(name, in_memory=True, **common)
        workdir = prepare_session_dir(self.session_file)
        return Client(name, workdir=workdir, storage_engine=private_storage(name, workdir), **common)

    @property
    def client(self) -> Client:
        if self._client is None:
            raise ConnectionError("the Telegram client is not started")
        return self._client

    def prepare(self, on_message: MessageCallback, on_callback: CallbackQueryCallback) -> Client:
        """The client with flowtui's handlers, not yet connected (call inside the running loop)."""
        require(TELEGRAM)  # kurigram missing: MissingExtra, whose text names the extra
        from pyrogram import handlers

        client = self._build_client()

        async def message_handler(_client: Client, message: Message) -> None:
            await on_message(message)

        async def callback_handler(_client: Client, query: CallbackQuery) -> None:
            await on_callback(query)

        client.add_handler(handlers.MessageHandler(message_handler))
        client.add_handler(handlers.CallbackQueryHandler(callback_handler))
        self._client = client
        return client

    async def start(self, on_message: MessageCallback, on_callback: CallbackQueryCallback) -> BotIdentity:
        client = self.prepare(on_message, on_callback)
        try:
            await client.start()
        except BaseException as error:
            self._client = None
            address = await _server_address(client)
            await _discard(client)
            unreachable = unreachable_error(error, address)
            if unreachable is not None:
                raise unreachable from error
            raise
        return await self.get_me()

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            await client.stop()

    async def get_me(self) -> BotIdentity:
        me = await asyncio.wait_for(self.client.get_me(), CALL_TIMEOUT_SECONDS)
        name = " ".join(part for part in (me.first_name, me.last_name) if part) or str(me.id)
        return BotIdentity(id=me.id, username=me.username, name=name)

    async def send_message(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> int:
        from pyrogram import types

        sent = await asyncio.wait_for(
            self.client.send_message(
                chat_id,
                text,
                reply_markup=build_markup(markup),
                reply_parameters=types.ReplyParameters(message_id=reply_to) if reply_to else None,
            ),
            CALL_TIMEOUT_SECONDS,
        )
        return _message_id(sent)

    async def send_document(
        self, chat_id: int, data: bytes, file_name: str, caption: str = "", reply_to: int | None = None
    ) -> int:
        from pyrogram import types

        document = io.BytesIO(data)
        document.name = file_name
        sent = await asyncio.wait_for(
            self.client.send_document(
                chat_id,
                document,
                caption=caption,
                file_name=file_name,
                force_document=True,
                reply_parameters=types.ReplyParameters(message_id=reply_to) if reply_to else None,
            ),
            CALL_TIMEOUT_SECONDS * 5,
        )
        return _message_id(sent)

    async def send_code(
        self, chat_id: int, caption: str, code: str, language: str = "", reply_to: int | None = None
    ) -> int:
        from pyrogram import enums, types

        block = types.MessageEntity(
            type=enums.MessageEntityType.PRE,
            offset=_utf16_len(caption) + 1,
            length=_utf16_len(code),
            language=language or None,
        )
        sent = await asyncio.wait_for(
            self.client.send_message(
                chat_id,
                f"{caption}\n{code}",
                entities=[block],
                reply_parameters=types.ReplyParameters(message_id=reply_to) if reply_to else None,
            ),
            CALL_TIMEOUT_SECONDS,
        )
        return _message_id(sent)

    async def answer_callback(self, query_id: str, text: str) -> None:
        await asyncio.wait_for(
            self.client.answer_callback_query(query_id, text=text[:200]), CALL_TIMEOUT_SECONDS
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        await asyncio.wait_for(
            self.client.edit_message_text(chat_id, message_id, text, reply_markup=build_markup(markup)),
            CALL_TIMEOUT_SECONDS,
        )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        await asyncio.wait_for(self.client.delete_messages(chat_id, message_id), CALL_TIMEOUT_SECONDS)

    async def download(self, message: Message, destination: Path) -> None:
        # pyrogram's Message.photo is already the largest size Telegram offers
        saved = await asyncio.wait_for(
            self.client.download_media(message, file_name=str(destination)), DOWNLOAD_TIMEOUT_SECONDS
        )
        if saved is None or Path(str(saved)).resolve() != destination.resolve():
            raise ConnectionError("Telegram did not deliver the file")


class TelegramUnreachable(ConnectionError):
    """The login never reached Telegram; the text says which server was tried and what failed."""


CLOSED_WITHOUT_ANSWER = (
    "the connection was closed without an answer Telegram would give (a firewall or proxy in the way?)"
)


def unreachable_error(error: BaseException, address: str | None) -> TelegramUnreachable | None:
    """``error`` from a client's start as :class:`TelegramUnreachable`, when it is a network failure.

    pyrogram lets a connection that closes mid-handshake surface as ``KeyError: 0`` (it decodes
    the empty answer) and a refused one as a bare ``ConnectionError``; Telegram's own refusals
    (RPC errors), a timeout from outside and session-file errors stay what they are.
    """
    from pyrogram.errors import BadMsgNotification, SecurityError

    if isinstance(error, OSError) and error.filename is None:
        text = " ".join((error.strerror or str(error)).split())
        reason = text or "no connection could be made"
    elif isinstance(error, KeyError | struct.error | BadMsgNotification | SecurityError):
        reason = CLOSED_WITHOUT_ANSWER
    else:
        return None
    where = f" ({address})" if address else ""
    return TelegramUnreachable(f"could not reach Telegram{where}: {reason}")


async def _server_address(client: Client) -> str | None:
    """The data centre the client tried (from its session storage), or None when it never got that far."""
    try:
        host = await client.storage.server_address()
        port = await client.storage.port()
    except Exception as error:  # the storage never opened: the address is unknown
        log.debug("no Telegram server address in the session: %s", error)
        return None
    if not host:
        return None
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


async def _discard(client: Client) -> None:
    """Release what a client that failed to start still holds (its session file, threads)."""
    try:
        if client.is_connected:
            await client.disconnect()
        else:
            await client.storage.close()  # type: ignore[no-untyped-call]
    except Exception as error:  # already closed or never opened: nothing left to release
        log.debug("discarding a Telegram client that failed to start: %s", type(error).__name__)
    client.executor.shutdown(wait=False)


def _utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _message_id(sent: Any) -> int:
    if sent is None or not isinstance(getattr(sent, "id", None), int):
        raise ConnectionError("Telegram did not return the sent message")
    return int(sent.id)
