"""Notifications beyond Telegram: ``[[notify]]`` channels (webhook, ntfy, a command) told about
jobs through the same durable outbox rows as Telegram's messages."""
