"""The in-process worker pool that takes tasks from Huey.

Huey's own consumer installs signal handlers (main thread only) and polls an idle
queue with a back-off of up to 10 s. These threads instead sleep on a doorbell that is
rung when a job is added here or poked from another process, so a job starts within
milliseconds and an idle engine uses no CPU. Pausing stops taking new tasks; running
ones finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.queue.transport import JobQueue
from core.wake.doorbell import Doorbell

log = logging.getLogger(__name__)

SCHEDULE_TICK_SECONDS = 1.0
"""Longest sleep while delayed tasks wait (a safety net; the scheduler wakes at the earliest eta)."""


class WorkerPool:
    """Threads that sleep on the doorbell and take tasks from Huey while the engine is not paused."""

    def __init__(
        self,
        queue: JobQueue,
        size: int,
        doorbell: Doorbell,
        is_paused: Callable[[], bool],
        idle_seconds: float,
    ) -> None:
        self._queue = queue
        self._size = size
        self._doorbell = doorbell
        self._is_paused = is_paused
        self._idle_seconds = idle_seconds
        self._stopping = threading.Event()
        # The scheduler has its own bell: it only needs waking for delayed tasks, and
        # waking it on every added job would cost each job a queue query.
        self._scheduler_bell = Doorbell()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._size):
            thread = threading.Thread(target=self._work, name=f"flowtui-worker-{index + 1}", daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._schedule, name="flowtui-scheduler", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking tasks and wait for the threads (the engine ends running jobs first)."""
        self._stopping.set()
        self._doorbell.ring()
        self._scheduler_bell.ring()
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while not self._stopping.is_set():
            seen = self._doorbell.generation
            if self._is_paused():
                self._doorbell.wait(seen, self._idle_seconds)
                continue
            try:
                task = self._queue.take()
            except Exception:
                log.exception("could not read the queue; retrying")
                self._doorbell.wait(seen, 1.0)
                continue
            if task is None:
                if not self._queue.blocking:  # a blocking queue already waited for work
                    self._doorbell.wait(seen, self._idle_seconds)
                continue
            try:
                self._queue.execute(task)
            except Exception:
                log.exception("task %s failed outside its job", task)

    def _schedule(self) -> None:
        """Promote delayed retries when due; sleeps until rung while nothing is scheduled."""
        # Huey's own scheduler ticks once a second; waking at the earliest eta keeps
        # retry delays exact to a few milliseconds.
        while not self._stopping.is_set():
            seen = self._scheduler_bell.generation
            try:
                if self._queue.promote_due():
                    self._doorbell.ring()
                next_due = self._queue.seconds_to_next_scheduled()
            except Exception:
                log.exception("could not read the schedule; retrying")
                next_due = SCHEDULE_TICK_SECONDS
            self._scheduler_bell.wait(seen, self._schedule_timeout(next_due))

    def wake_scheduler(self) -> None:
        """A delayed task was added: the scheduler re-reads when the next one is due."""
        self._scheduler_bell.ring()

    def _schedule_timeout(self, next_due: float | None) -> float:
        if next_due is None:
            return self._idle_seconds
        return min(SCHEDULE_TICK_SECONDS, next_due + 0.001)
