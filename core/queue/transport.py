"""Huey as the transport: it carries job ids in priority order and holds delayed retries.

The queue is never the truth: a task names a job id, and the ledger's claim decides
whether it runs. That makes duplicates harmless and lets the engine rebuild the
queue from the ledger after any crash (SQLite storage deletes a task as it is taken).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from huey.api import Task

RUN_JOB_TASK = "flowtui.run_job"

JobHandler = Callable[[int], None]


class JobQueue:
    """A Huey (SQLite, or Redis when shared between machines) holding ``run_job(job_id)`` tasks."""

    def __init__(self, path: Path, redis_url: str | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.shared = redis_url is not None
        self._clock = clock
        self._path = path
        self._redis_url = redis_url
        self._huey: Any = None
        self._run_job: Any = None
        self._huey_lock = threading.Lock()
        self._handler: JobHandler | None = None
        self._on_scheduled: Callable[[], None] | None = None

    @property
    def huey(self) -> Any:
        """Huey, imported and opened on first use: a window that only reads the ledger
        (its first frame, an attached window) never pays for it."""
        return self._opened()[0]

    @property
    def _task(self) -> Any:
        """The ``run_job`` task registered on this queue's Huey."""
        return self._opened()[1]

    def _opened(self) -> tuple[Any, Any]:
        if self._huey is None:
            with self._huey_lock:
                if self._huey is None:
                    huey = self._open_huey()
                    self._run_job = huey.task(name=RUN_JOB_TASK)(self._dispatch)
                    self._huey = huey
        return self._huey, self._run_job

    def _open_huey(self) -> Any:
        if self._redis_url is None:
            # fsync off and no result store: the ledger is the durable record and results
            # are written there, so Huey only needs to be fast.
            return _sqlite_huey_class()(
                name="flowtui", filename=str(self._path), results=False, utc=True, fsync=False
            )
        from huey import Huey

        # Blocking reads: a worker waits inside the read, so a job added on any machine
        # starts at once without polling.
        return Huey(
            name="flowtui",
            results=False,
            utc=True,
            storage_class=_priority_redis_storage(),
            url=self._redis_url,
            blocking=True,
            read_timeout=1,
        )

    def bind(self, handler: JobHandler, on_scheduled: Callable[[], None] | None = None) -> None:
        """Set what runs a job (only the engine's process binds one), and what to tell
        when a delayed task is added, so the scheduler wakes for it."""
        self._handler = handler
        self._on_scheduled = on_scheduled

    def _dispatch(self, job_id: int) -> None:
        if self._handler is None:
            raise RuntimeError("no job handler bound to this queue")
        self._handler(job_id)

    def submit(self, job_id: int, priority: int = 0, run_after: datetime | None = None) -> None:
        """Queue a job id; with a future ``run_after`` it waits in Huey's schedule instead."""
        if run_after is not None and run_after > self._clock.now():
            # An aware datetime keeps its microseconds (Huey truncates naive local ones to
            # the second), and scheduling directly lets the scheduler see it at once.
            self.huey.add_schedule(self._task.s(job_id, priority=priority, eta=_aware(run_after)))
            if self._on_scheduled is not None:
                self._on_scheduled()
        else:
            self.huey.enqueue(self._task.s(job_id, priority=priority))

    @property
    def blocking(self) -> bool:
        """True when ``take`` itself waits for work (Redis); SQLite returns at once."""
        return self.shared

    def take(self) -> Task | None:
        """Dequeue the next task (highest priority, oldest first)."""
        return self.huey.dequeue()

    def execute(self, task: Task) -> None:
        self.huey.execute(task, timestamp=self._huey_now())
        if task.eta is not None and self._on_scheduled is not None:
            self._on_scheduled()  # Huey moves a task that is not due yet to its schedule

    def promote_due(self) -> int:
        """Move delayed tasks whose time has come into the queue; returns how many."""
        due = self.huey.read_schedule(self._huey_now())
        for task in due:
            self.huey.enqueue(task)
        return len(due)

    def seconds_to_next_scheduled(self) -> float | None:
        """How long until the earliest delayed task is due (None when nothing waits)."""
        etas = [task.eta for task in self.huey.scheduled() if task.eta is not None]
        if not etas:
            return None
        # Huey keeps etas as naive UTC.
        due: datetime = min(etas).replace(tzinfo=UTC)
        return max(0.0, (due - self._clock.now()).total_seconds())

    def _huey_now(self) -> datetime:
        """Now as Huey keeps time (naive UTC), from this queue's clock."""
        return self._clock.now().replace(tzinfo=None)

    def scheduled_count(self) -> int:
        return int(self.huey.scheduled_count())

    def pending_count(self) -> int:
        return int(self.huey.pending_count())

    def known_job_ids(self) -> set[int]:
        """Job ids that have a task waiting, queued or scheduled."""
        tasks = [*self.huey.pending(), *self.huey.scheduled()]
        return {int(task.args[0]) for task in tasks if task.args}

    def reset(self) -> None:
        """Drop every task and stale lock; the engine re-submits from the ledger after.
        Only for a queue this engine alone uses (SQLite): a shared queue is never flushed."""
        self.huey.storage.flush_queue()
        self.huey.storage.flush_schedule()
        self.huey.flush_locks()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def quiet_huey_logger(handler: logging.Handler) -> None:
    """Huey logs tracebacks on its own logger: route them to our log, not the terminal."""
    logger = logging.getLogger("huey")
    logger.handlers[:] = [handler]
    logger.propagate = False


def _sqlite_huey_class() -> Any:
    """Import SqliteHuey without redis-py.

    Huey's storage module imports redis-py whenever it is installed (about 0.3 s, a third
    of a CLI command's start-up); the SQLite backend never uses it.
    """
    if "huey.storage" not in sys.modules and "redis" not in sys.modules:
        sys.modules["redis"] = None  # type: ignore[assignment]  # `import redis` raises ImportError
        try:
            import huey.storage  # noqa: F401
        finally:
            del sys.modules["redis"]
    from huey import SqliteHuey

    return SqliteHuey


def _priority_redis_storage() -> Any:
    """Huey's priority Redis storage, importing it afresh if this process first loaded Huey
    without redis-py (the SQLite path above): reloading rebinds the module's redis names."""
    import importlib

    import huey.storage

    if huey.storage.Redis is None:
        importlib.reload(huey.storage)
    return huey.storage.PriorityRedisStorage
