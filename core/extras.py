"""The optional extras: Telegram, Redis and MCP install only with ``flowtui[telegram|redis|mcp]``.

Everything else (the engine, the CLI, the control centre, ``doctor``) runs without them. A
feature that needs a missing one stops with one line naming the extra; the CLI prints it and
exits 2 (``MissingExtra`` is an ``ImportError`` whose text is that line).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config.settings import Settings


@dataclass(frozen=True)
class Extra:
    """An optional install: the hint that names it when a feature needs it and it is missing."""

    name: str
    """flowtui[NAME] in pip's terms, ``--extra NAME`` in uv's."""
    feature: str
    """What needs it, as the hint starts."""
    module: str
    """The package it installs, as imported."""

    def hint(self) -> str:
        return (
            f"{self.feature} needs the {self.name} extra: uv sync --extra {self.name} "
            f"(or pip install 'flowtui[{self.name}]')"
        )


TELEGRAM = Extra("telegram", "Telegram", "pyrogram")
REDIS = Extra("redis", "A Redis queue", "redis")
MCP = Extra("mcp", "flowtui mcp", "mcp")
EXTRAS = (TELEGRAM, REDIS, MCP)


class MissingExtra(ImportError):
    """A feature's extra is not installed; ``str()`` is the one-line hint."""

    def __init__(self, extra: Extra) -> None:
        super().__init__(extra.hint(), name=extra.module)
        self.extra = extra


def installed(extra: Extra) -> bool:
    """Whether the extra's package can be imported, without importing it (cheap)."""
    try:
        return importlib.util.find_spec(extra.module) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec (or None)
        return sys.modules.get(extra.module) is not None


def require(extra: Extra) -> None:
    """Import the extra's package, or raise :class:`MissingExtra` (also when one of its own
    dependencies is missing: the extra is then only half installed)."""
    try:
        importlib.import_module(extra.module)
    except ImportError as error:
        raise MissingExtra(extra) from error


def require_configured(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """The extras the config cannot run without: Redis when the queue is shared. (Telegram is
    reported by its service and ``doctor`` instead: the rest runs without it.)"""
    from core.errors import ConfigError

    try:
        shared = settings.queue_url(environ) is not None
    except ConfigError:
        return  # reported where the queue is opened, with its own one line
    if shared:
        require(REDIS)
