"""Huey as the transport: it carries job ids in priority order and holds delayed retries.

The queue is never the truth: a task names a job id, and the ledger's claim decides
whether it runs. That makes duplicates harmless and lets the engine rebuild the
queue from the ledger after any crash (SQLite storage deletes a task as it is taken).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from huey import SqliteHuey
from huey.api import Task

RUN_JOB_TASK = "flowtui.run_job"

JobHandler = Callable[[int], None]


class JobQueue:
    """A SqliteHuey holding ``run_job(job_id)`` tasks."""

    def __init__(self, path: Path) -> None:
        # fsync off and no result store: the ledger is the durable record and results
        # are written there, so Huey only needs to be fast.
        self.huey = SqliteHuey(name="flowtui", filename=str(path), results=False, utc=True, fsync=False)
        self._handler: JobHandler | None = None
        self._run_job = self.huey.task(name=RUN_JOB_TASK)(self._dispatch)

    def bind(self, handler: JobHandler) -> None:
        """Set what runs a job; only the engine's process binds one."""
        self._handler = handler

    def _dispatch(self, job_id: int) -> None:
        if self._handler is None:
            raise RuntimeError("no job handler bound to this queue")
        self._handler(job_id)

    def submit(self, job_id: int, priority: int = 0, run_after: datetime | None = None) -> None:
        task = self._run_job.s(job_id, priority=priority, eta=_naive_utc(run_after))
        self.huey.enqueue(task)

    def take(self) -> Task | None:
        """Dequeue the next task (highest priority, oldest first)."""
        return self.huey.dequeue()

    def execute(self, task: Task) -> None:
        self.huey.execute(task)

    def promote_due(self) -> int:
        """Move delayed tasks whose time has come into the queue; returns how many."""
        due = self.huey.read_schedule()
        for task in due:
            self.huey.enqueue(task)
        return len(due)

    def scheduled_count(self) -> int:
        return int(self.huey.scheduled_count())

    def pending_count(self) -> int:
        return int(self.huey.pending_count())

    def known_job_ids(self) -> set[int]:
        """Job ids that have a task waiting, queued or scheduled."""
        tasks = [*self.huey.pending(), *self.huey.scheduled()]
        return {int(task.args[0]) for task in tasks if task.args}

    def reset(self) -> None:
        """Drop every task and stale lock; the engine re-submits from the ledger after."""
        self.huey.storage.flush_queue()
        self.huey.storage.flush_schedule()
        self.huey.flush_locks()


def _naive_utc(moment: datetime | None) -> datetime | None:
    # Huey with utc=True compares naive UTC datetimes.
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def quiet_huey_logger(handler: logging.Handler) -> None:
    """Huey logs tracebacks on its own logger: route them to our log, not the terminal."""
    logger = logging.getLogger("huey")
    logger.handlers[:] = [handler]
    logger.propagate = False
