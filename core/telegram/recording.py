"""A gateway that records what would be sent, for tests and demos where Telegram is out of reach.

It keeps the seam honest: handlers get pyrogram's own ``Message`` and ``CallbackQuery``
objects, and failures are pyrogram's own exceptions (``FloodWait`` and friends), queued
with :meth:`RecordingGateway.fail_next`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.ledger.notifications import Markup
from core.telegram.gateway import BotIdentity, CallbackQueryCallback, MessageCallback

if TYPE_CHECKING:
    from pyrogram.types import CallbackQuery, Message


@dataclass(frozen=True)
class Sent:
    """One call the gateway received."""

    kind: str  # "message", "code", "document", "answer", "edit" or "delete" (of the message ``message_id``)
    chat_id: int
    text: str
    message_id: int = 0
    markup: Markup | None = None
    reply_to: int | None = None
    file_name: str | None = None
    data: bytes | None = None
    query_id: str | None = None
    language: str | None = None
    """For ``code``: the code block's language; its text is the caption, a newline, the code."""

    @property
    def buttons(self) -> list[str]:
        if self.markup is None:
            return []
        return [button.text for row in self.markup.rows for button in row]


@dataclass
class RecordingGateway:
    """Records sends; delivers messages and button presses to the handlers given at start."""

    identity: BotIdentity = field(
        default_factory=lambda: BotIdentity(id=4242, username="flowtui_bot", name="flowtui")
    )
    sent: list[Sent] = field(default_factory=list)
    started: bool = False
    start_error: BaseException | None = None
    _failures: list[BaseException] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _on_message: MessageCallback | None = None
    _on_callback: CallbackQueryCallback | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    on_send: Callable[[Sent], None] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    """What :meth:`download` delivers, by file id."""
    downloads: list[tuple[int, Path]] = field(default_factory=list)
    """(message id, destination) of every download asked for."""

    def fail_next(self, *errors: BaseException) -> None:
        """The next sends raise these, in order (then sends succeed again)."""
        self._failures.extend(errors)

    async def start(self, on_message: MessageCallback, on_callback: CallbackQueryCallback) -> BotIdentity:
        if self.start_error is not None:
            raise self.start_error
        self._on_message, self._on_callback = on_message, on_callback
        self._loop = asyncio.get_running_loop()
        self.started = True
        return self.identity

    async def stop(self) -> None:
        self.started = False

    async def get_me(self) -> BotIdentity:
        return self.identity

    def _record(self, sent: Sent) -> int:
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(sent)
        if self.on_send is not None:
            self.on_send(sent)
        return sent.message_id

    async def send_message(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> int:
        return self._record(Sent("message", chat_id, text, next(self._ids), markup, reply_to))

    async def send_document(
        self, chat_id: int, data: bytes, file_name: str, caption: str = "", reply_to: int | None = None
    ) -> int:
        sent = Sent("document", chat_id, caption, next(self._ids), None, reply_to, file_name, data)
        return self._record(sent)

    async def send_code(
        self, chat_id: int, caption: str, code: str, language: str = "", reply_to: int | None = None
    ) -> int:
        text = f"{caption}\n{code}"
        return self._record(Sent("code", chat_id, text, next(self._ids), None, reply_to, language=language))

    async def answer_callback(self, query_id: str, text: str) -> None:
        self.sent.append(Sent("answer", 0, text, query_id=query_id))

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        self._record(Sent("edit", chat_id, text, message_id, markup))

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        self._record(Sent("delete", chat_id, "", message_id))

    async def download(self, message: Message, destination: Path) -> None:
        """Writes the bytes given for the message's file id in ``files`` (a missing id fails as
        Telegram would), and records the call."""
        media = message.photo or message.document or message.voice or message.audio
        file_id = getattr(media, "file_id", None)
        self.downloads.append((message.id, destination))
        if self._failures:
            raise self._failures.pop(0)
        if file_id not in self.files:
            raise ConnectionError(f"no file {file_id!r} on this recording Telegram")
        destination.write_bytes(self.files[file_id])

    # -- the other direction: what a user does --------------------------------------------

    async def deliver(self, message: Message) -> None:
        """A message arrives (awaited on the caller's loop)."""
        assert self._on_message is not None, "start() the gateway first"
        await self._on_message(message)

    async def press(self, query: CallbackQuery) -> None:
        assert self._on_callback is not None, "start() the gateway first"
        await self._on_callback(query)

    def deliver_threadsafe(self, message: Message, timeout: float = 30.0) -> None:
        """A message arrives, from a thread other than the gateway's loop (engine tests)."""
        assert self._loop is not None, "start() the gateway first"
        asyncio.run_coroutine_threadsafe(self.deliver(message), self._loop).result(timeout)

    def press_threadsafe(self, query: CallbackQuery, timeout: float = 30.0) -> None:
        assert self._loop is not None, "start() the gateway first"
        asyncio.run_coroutine_threadsafe(self.press(query), self._loop).result(timeout)

    def messages(self, chat_id: int | None = None) -> list[Sent]:
        """Messages, code blocks and documents sent (not toasts, not edits)."""
        return [
            s
            for s in self.sent
            if s.kind in ("message", "code", "document") and (chat_id is None or s.chat_id == chat_id)
        ]

    def edits(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "edit"]

    def deletes(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "delete"]

    def answers(self) -> list[str]:
        return [s.text for s in self.sent if s.kind == "answer"]
