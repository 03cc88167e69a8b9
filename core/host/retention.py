"""``[ledger] keep_days`` applied once a day: the engine's own ``flowtui prune``.

A thread sleeps until the next prune is due (a day after the last one, which the ledger
remembers across restarts), prunes through the door, and sleeps again; a config edit wakes
it to read ``keep_days`` anew. With a shared Redis queue it runs on the leader only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from core.clock import parse_time
from core.config.live import ConfigUpdate
from core.engine.service import ServiceContext
from core.errors import log_failure
from core.ops.prune import PruneReport

log = logging.getLogger(__name__)

LAST_PRUNE_FLAG = "retention_last_prune"
"""When the engine last pruned (UTC ISO), in ``engine_state``."""
PRUNE_EVERY = timedelta(days=1)
RETRY_AFTER_FAILURE = timedelta(hours=1)
MAX_SLEEP_SECONDS = 3600.0
"""The longest single wait: a wait's timer stops while the machine sleeps (suspend), so a
day-long wait would end late by every hour the lid was shut; waking hourly to compare the
wall clock with the due time costs nothing."""


class RetentionService:
    """Prunes finished jobs older than ``keep_days`` once a day, from its own thread."""

    name = "retention"

    def __init__(self, max_sleep: float = MAX_SLEEP_SECONDS) -> None:
        self._max_sleep = max_sleep
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._context: ServiceContext | None = None
        self._unsubscribe_config: Callable[[], None] | None = None
        self._next_due: datetime | None = None
        self._prune_now = False
        self.last_report: PruneReport | None = None
        """What the latest prune did (for the log, and tests)."""
        self.pruned = threading.Event()
        """Set after each prune (tests wait on it)."""
        self.checked_at: datetime | None = None
        """The clock's time at the latest look, set once it is decided (tests wait for it)."""

    def start(self, context: ServiceContext) -> None:
        """Start (again: with a shared queue it moves between engines' leaders)."""
        self._context = context
        self._next_due = None  # read from the ledger: another engine may have pruned meanwhile
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._unsubscribe_config = context.live.subscribe(self._config_updated)
        self._thread = threading.Thread(target=self._run, name="flowtui-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
            self._unsubscribe_config = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def next_due(self) -> datetime | None:
        """When the next prune is due (None: none, ``keep_days = 0``)."""
        return self._next_due

    def nudge(self) -> None:
        """Look at the clock now (a test that moved its clock; nothing else needs it)."""
        self._wake.set()

    def _config_updated(self, update: ConfigUpdate) -> None:
        """A new ``keep_days`` applies at once (a shorter one prunes now, not tomorrow)."""
        if update.problem is None and update.previous.ledger.keep_days != update.current.ledger.keep_days:
            self._prune_now = True
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.tick()
            self._wake.wait(self._max_sleep if delay is None else min(delay, self._max_sleep))
            self._wake.clear()

    def tick(self) -> float | None:
        """Prune when due; the seconds until the next prune (None: ``keep_days = 0``, none)."""
        context = self._context
        if context is None or self._stop.is_set():
            return None
        keep_days = context.settings.ledger.keep_days
        now = context.clock.now()
        if keep_days == 0:
            self._next_due = None
            self.checked_at = now
            return None
        try:
            due = self._due(context, now)
            if now >= due or self._prune_now:
                self._prune_now = False
                self.last_report = report = context.control.prune(timedelta(days=keep_days))
                context.ledger.set_flag(LAST_PRUNE_FLAG, context.clock.iso())
                due = now + PRUNE_EVERY
                if report.jobs or report.problems:
                    log.info("retention (keep_days = %s): %s", keep_days, "; ".join(report.lines()))
                self.pruned.set()
        except Exception as error:  # Redis away, a full disk: try again in an hour
            log_failure(log, "pruning old jobs failed", error)
            due = now + RETRY_AFTER_FAILURE
        self._next_due = due
        self.checked_at = now  # last: a test that sees it sees what this look decided
        return max(0.0, (due - now).total_seconds())

    def _due(self, context: ServiceContext, now: datetime) -> datetime:
        if self._next_due is not None:
            return self._next_due
        last = context.ledger.get_flag(LAST_PRUNE_FLAG)
        return now if last is None else parse_time(last) + PRUNE_EVERY
