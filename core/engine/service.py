"""What a service (watches, Telegram, schedules, steps) is, and the little of the engine it is given.

A service gets a :class:`ServiceContext`, never the engine: it changes shared state through the
operations door, hears what happens on the event bus, and can ask for nothing the context does
not name. So a service can run, and be tested, without an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.clock import Clock
from core.config.live import LiveSettings
from core.config.settings import Settings
from core.events import EventBus
from core.ledger.store import LedgerStore
from core.ops.control import Control
from core.paths import Paths

Supersede = Callable[[int, str], bool]
"""Ends a run Claude has not answered yet and puts its job back, out of Huey (job id, reason);
False when it is too late."""


@dataclass(frozen=True)
class ServiceContext:
    """The engine's parts a service may use, built once the engine has started."""

    live: LiveSettings
    """The engine's holder of the config: a service that reacts to edits subscribes to it."""
    paths: Paths
    clock: Clock
    """The engine's one clock."""
    bus: EventBus
    """Where the engine's events arrive and where a service reports (``ServiceFailed``...)."""
    control: Control
    """The operations door: every change of jobs, pause or watches goes through it."""
    ledger: LedgerStore
    """For a service's own bookkeeping in ``engine_state`` (last runs, steps, watch statuses)."""
    supersede: Supersede | None = None
    """The engine's way to restart a run with the rest of its burst (``eager`` watches)."""

    @property
    def settings(self) -> Settings:
        """The config as it is now (the last good one while the file does not load)."""
        return self.live.current()


class Service(Protocol):
    """Something that runs beside the workers for the engine's lifetime (watcher, Telegram...)."""

    name: str

    def start(self, context: ServiceContext) -> None: ...

    def stop(self) -> None: ...
