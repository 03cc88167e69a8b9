"""Telegram, both ways: commands in from an allowlist, notifications out through a durable outbox.

Importing the package is cheap (pyrogram loads only when a client is built), so the CLI,
``doctor`` and the TUI can ask :func:`telegram_status` without a network or a bot.
"""

from __future__ import annotations

from core.telegram.config import NOT_CONFIGURED, TelegramConfigError, resolve_config, telegram_status

__all__ = ["NOT_CONFIGURED", "TelegramConfigError", "resolve_config", "telegram_status"]
