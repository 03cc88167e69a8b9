"""Telegram, both ways: commands in from an allowlist, notifications out through a durable outbox.

Importing the package is cheap (pyrogram loads only when a client is built), so the CLI,
``doctor`` and the TUI can ask :func:`core.telegram.config.telegram_status` without a network or a bot.
"""
