"""Opening the shared state from a process that is not the engine (CLI, attached window, MCP).

Every change is committed to the ledger first, then announced: on this machine through the
engine's named pipe, and with the Redis backend on the Redis change channel too, so the
engines of every machine re-read the state at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.clock import SYSTEM_CLOCK, Clock
from core.config.live import LiveSettings
from core.config.settings import Settings
from core.ledger.store import open_ledger
from core.ops.control import Control
from core.paths import Paths, machine_name
from core.queue.transport import JobQueue
from core.wake.changes import change_notifier


def open_shared_state(
    settings: Settings | LiveSettings,
    paths: Paths,
    environ: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Control:
    """The door over the shared state; a :class:`LiveSettings` keeps it on the config as it
    is now (long-lived processes), plain settings keep it on what was read (one CLI command)."""
    paths.ensure_data_dir()
    started = settings.started if isinstance(settings, LiveSettings) else settings
    redis_url = started.queue_url(environ)
    ledger = open_ledger(started, paths, environ, clock)
    queue = JobQueue(paths.queue_db, redis_url, clock)
    notifier = change_notifier(paths, redis_url)
    return Control(settings, ledger, queue, notifier, paths=paths, machine=machine_name(environ))
