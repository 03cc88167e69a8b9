"""The real gateway up to the network call: the pyrogram client it builds, the session file it
keeps private, what it passes to pyrogram, and how login and send errors read."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyrogram import enums, errors, handlers, types
from telegramkit import API_HASH, BOT_TOKEN, message, press, telegram_config

import core.telegram as core_telegram
from core.ledger.notifications import Button, Markup
from core.paths import TELEGRAM_SESSION_NAME, Paths
from core.telegram.check import check_connection, explain_login_error
from core.telegram.gateway import (
    BotIdentity,
    Failure,
    PyrogramGateway,
    build_markup,
    classify_error,
    private_storage,
)
from core.telegram.recording import RecordingGateway


async def test_the_client_is_built_in_the_running_loop_with_flowtui_settings(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path)
    gateway = PyrogramGateway(telegram_config(), paths.telegram_session_file)
    received: list[object] = []

    async def on_message(update: Any) -> None:
        received.append(update)

    client = gateway.prepare(on_message, on_message)
    assert client.loop is asyncio.get_running_loop()
    assert client.sleep_threshold == 0  # FloodWait reaches the outbox instead of a hidden sleep
    assert client.parse_mode is enums.ParseMode.DISABLED
    assert client.api_id == 12345 and client.bot_token == BOT_TOKEN
    assert Path(client.workdir) / f"{client.name}.session" == paths.telegram_session_file
    assert stat.S_IMODE(paths.telegram_session_dir.stat().st_mode) == 0o700
    for _ in range(3):  # pyrogram adds handlers in a task on the client's loop
        await asyncio.sleep(0)
    registered = [handler for group in client.dispatcher.groups.values() for handler in group]
    assert {type(handler) for handler in registered} == {
        handlers.MessageHandler,
        handlers.CallbackQueryHandler,
    }
    incoming, button = message("hi"), press("retry:1")
    for handler in registered:
        await handler.callback(
            client, button if isinstance(handler, handlers.CallbackQueryHandler) else incoming
        )
    assert received == [incoming, button]
    assert BOT_TOKEN not in repr(gateway) and API_HASH not in repr(gateway)


async def test_the_session_file_is_private_before_the_auth_key_is_written(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        storage = private_storage(TELEGRAM_SESSION_NAME, tmp_path)
        await storage.open()
        await storage.close()
    finally:
        os.umask(old_umask)
    session_file = tmp_path / f"{TELEGRAM_SESSION_NAME}.session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600


async def test_sends_become_pyrogram_calls_with_its_markup_types(tmp_path: Path) -> None:
    gateway = PyrogramGateway(telegram_config(), tmp_path / "bot.session", in_memory=True)

    async def ignore(update: Any) -> None:
        return None

    client = gateway.prepare(ignore, ignore)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def send_message(*args: Any, **kwargs: Any) -> types.Message:
        calls.append(("send_message", args, kwargs))
        return types.Message(id=77)

    async def send_document(*args: Any, **kwargs: Any) -> types.Message:
        calls.append(("send_document", args, kwargs))
        return types.Message(id=78)

    async def answer_callback_query(*args: Any, **kwargs: Any) -> bool:
        calls.append(("answer_callback_query", args, kwargs))
        return True

    client.send_message = send_message  # type: ignore[method-assign]
    client.send_document = send_document  # type: ignore[method-assign]
    client.answer_callback_query = answer_callback_query  # type: ignore[method-assign]

    markup = Markup(rows=((Button("Retry", "retry:5"), Button("Show log", "log:5")),))
    assert await gateway.send_message(42, "done", markup, reply_to=9) == 77
    assert await gateway.send_document(42, b"log text", "job-5.txt", caption="log") == 78
    await gateway.answer_callback("query-1", "x" * 500)

    (_, args, kwargs) = calls[0]
    assert args == (42, "done")
    keyboard = kwargs["reply_markup"]
    assert isinstance(keyboard, types.InlineKeyboardMarkup)
    assert [(b.text, b.callback_data) for b in keyboard.inline_keyboard[0]] == [
        ("Retry", "retry:5"),
        ("Show log", "log:5"),
    ]
    assert kwargs["reply_parameters"].message_id == 9
    (_, args, kwargs) = calls[1]
    assert args[0] == 42 and args[1].read() == b"log text" and kwargs["file_name"] == "job-5.txt"
    assert kwargs["force_document"] is True and kwargs["reply_parameters"] is None
    (_, args, kwargs) = calls[2]
    assert args == ("query-1",) and len(kwargs["text"]) == 200  # Telegram's toast limit


async def test_a_code_block_is_a_pre_entity_counted_in_utf16_units(tmp_path: Path) -> None:
    gateway = PyrogramGateway(telegram_config(), tmp_path / "bot.session", in_memory=True)

    async def ignore(update: Any) -> None:
        return None

    client = gateway.prepare(ignore, ignore)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def send_message(*args: Any, **kwargs: Any) -> types.Message:
        calls.append((args, kwargs))
        return types.Message(id=79)

    client.send_message = send_message  # type: ignore[method-assign]
    caption, code = "#5 diff 🙂", "-old\n+new **not bold**"
    assert await gateway.send_code(42, caption, code, "diff", reply_to=3) == 79
    ((args, kwargs),) = calls
    assert args == (42, f"{caption}\n{code}")
    (entity,) = kwargs["entities"]
    assert isinstance(entity, types.MessageEntity) and entity.type is enums.MessageEntityType.PRE
    assert entity.language == "diff"
    assert (entity.offset, entity.length) == (len(caption) + 2, len(code))  # the emoji is two units
    assert kwargs["reply_parameters"].message_id == 3


def test_markup_conversion() -> None:
    assert build_markup(None) is None
    assert build_markup(Markup()) is None
    assert isinstance(build_markup(Markup(force_reply=True)), types.ForceReply)
    original = Markup(rows=((Button("Approve", "approve:1"), Button("Deny", "deny:1")),))
    assert Markup.from_json(original.to_json()) == original


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (errors.FloodWait(value=30), Failure.FLOOD),
        (errors.ChatWriteForbidden(), Failure.PERMANENT),
        (errors.PeerIdInvalid(), Failure.PERMANENT),
        (errors.UserIsBlocked(), Failure.PERMANENT),
        (ConnectionError(), Failure.TRANSIENT),
        (TimeoutError(), Failure.TRANSIENT),
        (errors.InternalServerError(), Failure.TRANSIENT),
    ],
)
def test_send_errors_are_sorted(error: Exception, failure: Failure) -> None:
    assert classify_error(error).failure is failure


def test_flood_wait_carries_its_seconds() -> None:
    problem = classify_error(errors.FloodWait(value=3600))
    assert problem.wait_seconds == 3600 and problem.reason == "flood wait 3600s"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (errors.AccessTokenInvalid(), "bad bot token: Telegram refused it"),
        (errors.AccessTokenExpired(), "bad bot token: Telegram refused it"),
        (errors.ApiIdInvalid(), "bad api_id or api_hash: Telegram refused the pair"),
        (errors.ApiIdPublishedFlood(), "api_id blocked"),
        (ConnectionError(), "no network: cannot reach Telegram's servers"),
        (OSError(101, "Network is unreachable"), "no network: cannot reach Telegram's servers"),
        (TimeoutError(), "no network: Telegram did not answer in time"),
        (errors.FloodWait(value=60), "Telegram asks to wait 60s"),
    ],
)
def test_login_errors_read_as_one_line(error: Exception, line: str) -> None:
    explained = explain_login_error(error, telegram_config().secrets())
    assert explained.startswith(line) and "\n" not in explained


def test_check_reports_who_the_bot_is_or_what_is_wrong(tmp_path: Path) -> None:
    built: list[RecordingGateway] = []

    def fine(config: Any, session_file: Path) -> RecordingGateway:
        gateway = RecordingGateway(identity=BotIdentity(id=4242, username="flowtui_bot", name="flowtui"))
        built.append(gateway)
        return gateway

    result = check_connection(telegram_config(), tmp_path / "bot.session", fine)
    assert result.ok and result.line == "ok: bot @flowtui_bot (id 4242) is reachable and logged in"
    assert built[0].started is False  # logged out again

    def bad_token(config: Any, session_file: Path) -> RecordingGateway:
        return RecordingGateway(start_error=errors.AccessTokenInvalid())

    result = check_connection(telegram_config(), tmp_path / "bot.session", bad_token)
    assert not result.ok and result.line.startswith("bad bot token")

    def offline(config: Any, session_file: Path) -> RecordingGateway:
        return RecordingGateway(start_error=ConnectionError())

    result = check_connection(telegram_config(), tmp_path / "bot.session", offline)
    assert result.line.startswith("no network")


def test_the_check_gateway_leaves_the_session_file_alone(tmp_path: Path) -> None:
    from core.telegram.check import check_gateway

    paths = Paths.under(tmp_path)

    async def build() -> None:
        gateway = check_gateway(telegram_config(), paths.telegram_session_file)
        assert isinstance(gateway, PyrogramGateway) and gateway.in_memory

        async def ignore(update: Any) -> None:
            return None

        client = gateway.prepare(ignore, ignore)
        assert client.in_memory and client.no_updates

    asyncio.run(build())
    assert not paths.telegram_session_dir.exists()


def test_core_telegram_imports_neither_textual_nor_pyrogram() -> None:
    """The CLI, doctor and TUI import the package cheaply; pyrogram loads when a client is built."""
    package_dir = Path(core_telegram.__file__).parent
    modules = sorted(f"core.telegram.{path.stem}" for path in package_dir.glob("*.py"))
    code = (
        "import importlib, sys\n"
        f"for name in {[*modules, 'cli.main', 'cli.telegram', 'core.host.services']!r}:\n"
        "    importlib.import_module(name)\n"
        "roots = ('textual', 'tui', 'pyrogram')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in roots)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
