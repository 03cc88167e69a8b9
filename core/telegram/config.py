"""The Telegram settings as the bot uses them: file keys, environment overrides, and what is missing.

The ``[telegram]`` section turns Telegram on; ``FLOWTUI_TELEGRAM_API_ID``, ``..._API_HASH`` and
``..._BOT_TOKEN`` override the three credentials so they need not sit in the config file.
Secrets stay ``SecretStr`` until the one moment the client is built, and every text that
leaves this package can be passed through :func:`redact`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.config.check import SecretStr, secret_from
from core.config.settings import (
    API_HASH_ENV,
    API_ID_ENV,
    BOT_TOKEN_ENV,
    NOT_CONFIGURED,
    Settings,
    TelegramSettings,
)
from core.errors import ConfigError

_BOT_TOKEN_FORM = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_API_HASH_FORM = re.compile(r"^[0-9a-fA-F]{32}$")


class TelegramConfigError(ConfigError):
    """The Telegram settings cannot work; the message is one line without any secret."""


@dataclass(frozen=True)
class TelegramConfig:
    """Everything the bot needs, resolved from the config file and the environment."""

    api_id: int
    api_hash: SecretStr
    bot_token: SecretStr
    allowed_users: frozenset[int] = field(default_factory=frozenset)
    notify_chat_id: int | None = None
    max_file_bytes: int = 20 * 1024 * 1024
    transcribe_command: tuple[str, ...] = ()
    transcribe_timeout_seconds: float = 120.0
    progress: bool = False
    progress_seconds: float = 5.0

    @property
    def bot_id(self) -> int:
        """The bot's own user id: the part of the token before the colon."""
        return int(self.bot_token.get_secret_value().split(":", 1)[0])

    def secrets(self) -> tuple[str, ...]:
        return (self.api_hash.get_secret_value(), self.bot_token.get_secret_value())


def resolve_config(settings: Settings, environ: Mapping[str, str]) -> TelegramConfig | None:
    """The bot's config, or None without a ``[telegram]`` section; raises
    :class:`TelegramConfigError` naming the first key that is missing or malformed."""
    section = settings.telegram
    if section is None:
        return None
    api_id = _api_id(section, environ)
    api_hash = secret_from(section.api_hash, environ, API_HASH_ENV)
    bot_token = secret_from(section.bot_token, environ, BOT_TOKEN_ENV)
    if api_id is None:
        raise TelegramConfigError(_missing("api_id", API_ID_ENV, "my.telegram.org"))
    if api_hash is None:
        raise TelegramConfigError(_missing("api_hash", API_HASH_ENV, "my.telegram.org"))
    if bot_token is None:
        raise TelegramConfigError(_missing("bot_token", BOT_TOKEN_ENV, "@BotFather"))
    if api_id < 1:
        raise TelegramConfigError(f"bad api_id {api_id}: use the number my.telegram.org shows")
    if not _API_HASH_FORM.match(api_hash.get_secret_value()):
        raise TelegramConfigError("bad api_hash: expected the 32 hex digits my.telegram.org shows")
    if not _BOT_TOKEN_FORM.match(bot_token.get_secret_value()):
        raise TelegramConfigError("bad bot token: expected the form 123456789:AA... that @BotFather gives")
    return TelegramConfig(
        api_id=api_id,
        api_hash=api_hash,
        bot_token=bot_token,
        allowed_users=frozenset(section.allowed_users),
        notify_chat_id=section.notify_chat_id,
        max_file_bytes=int(section.max_file_mb * 1024 * 1024),
        transcribe_command=tuple(section.transcribe_command),
        transcribe_timeout_seconds=section.transcribe_timeout_seconds,
        progress=section.progress,
        progress_seconds=section.progress_seconds,
    )


def _api_id(section: TelegramSettings, environ: Mapping[str, str]) -> int | None:
    raw = environ.get(API_ID_ENV, "").strip()
    if not raw:
        return section.api_id
    try:
        return int(raw)
    except ValueError:
        raise TelegramConfigError(f"${API_ID_ENV} must be a number (got {len(raw)} characters)") from None


def _missing(key: str, env: str, where: str) -> str:
    return f"[telegram] {key} is missing: set it (from {where}) in the config or in ${env}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, for logs, errors and stored reasons."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def telegram_status(settings: Settings, environ: Mapping[str, str]) -> str:
    """One line for the TUI and ``doctor``: not configured (and how), misconfigured, or who may
    command the bot and where notifications go. Never contains a secret."""
    try:
        config = resolve_config(settings, environ)
    except TelegramConfigError as error:
        return f"Telegram misconfigured: {error}"
    if config is None:
        return NOT_CONFIGURED
    users = len(config.allowed_users)
    who = (
        "nobody may send commands (allowed_users is empty)"
        if not users
        else f"{users} allowed user{'s' if users != 1 else ''}"
    )
    where = (
        f"notifications to chat {config.notify_chat_id}"
        if config.notify_chat_id is not None
        else "notifications only to the chat a job came from (no notify_chat_id)"
    )
    progress = f"; live progress every {config.progress_seconds:g}s" if config.progress else ""
    return f"Telegram configured for bot {config.bot_id}: {who}; {where}{progress}"
