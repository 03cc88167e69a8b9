"""``flowtui telegram check``: log the bot in once and say in one line who it is, or what is wrong.

It uses an in-memory session, so it never touches the running engine's session file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.extras import MissingExtra
from core.telegram.config import TelegramConfig, redact
from core.telegram.gateway import BotIdentity, Gateway, PyrogramGateway, TelegramUnreachable

CHECK_TIMEOUT_SECONDS = 45.0

CheckGatewayBuilder = Callable[[TelegramConfig, Path], Gateway]


def check_gateway(config: TelegramConfig, session_file: Path) -> Gateway:
    return PyrogramGateway(config, session_file, in_memory=True, receive_updates=False)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``flowtui telegram check`` as the one line it prints."""

    ok: bool
    line: str


def check_connection(
    config: TelegramConfig,
    session_file: Path,
    builder: CheckGatewayBuilder = check_gateway,
    timeout: float = CHECK_TIMEOUT_SECONDS,
) -> CheckResult:
    try:
        identity = asyncio.run(_log_in_once(config, session_file, builder, timeout))
    except Exception as error:
        return CheckResult(False, explain_login_error(error, config.secrets()))
    return CheckResult(True, f"ok: bot {identity.describe()} is reachable and logged in")


async def _log_in_once(
    config: TelegramConfig, session_file: Path, builder: CheckGatewayBuilder, timeout: float
) -> BotIdentity:
    gateway = builder(config, session_file)  # inside the loop: pyrogram binds to it

    async def ignore(_update: object) -> None:
        return None

    try:
        return await asyncio.wait_for(gateway.start(ignore, ignore), timeout)
    finally:
        await gateway.stop()


def explain_login_error(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """What a failed login means for the user, in one line without secrets."""
    if isinstance(error, MissingExtra):
        return str(error)
    from pyrogram import errors
    from pyrogram.errors.rpc_error import RPCError

    if isinstance(error, errors.AccessTokenInvalid | errors.AccessTokenExpired):
        return (
            "bad bot token: Telegram refused it; copy the token from @BotFather into "
            "[telegram] bot_token or $FLOWTUI_TELEGRAM_BOT_TOKEN"
        )
    if isinstance(error, errors.ApiIdInvalid):
        return "bad api_id or api_hash: Telegram refused the pair; copy both from my.telegram.org"
    if isinstance(error, errors.ApiIdPublishedFlood):
        return (
            "api_id blocked: Telegram limits it because it was published; create a new app on my.telegram.org"
        )
    if isinstance(error, errors.FloodWait):
        return f"Telegram asks to wait {error.value}s before the next login: try again later"
    if isinstance(error, TelegramUnreachable):
        return f"telegram check: {redact(str(error), secrets)}; check the network"
    if isinstance(error, TimeoutError):
        return "no network: Telegram did not answer in time (firewall or proxy?)"
    if isinstance(error, OSError):
        detail = " ".join(str(error).split())
        return "no network: cannot reach Telegram's servers" + (
            f" ({redact(detail, secrets)})" if detail else ""
        )
    if isinstance(error, RPCError):
        return f"Telegram refused the login: {redact(' '.join(str(error).split()), secrets)}"
    detail = redact(" ".join(str(error).split()), secrets)
    detail = detail or "no reason given"
    return f"telegram check: the login failed unexpectedly: {detail} ({type(error).__name__})"
