"""Leases on running jobs: how a job survives the death of the worker that runs it.

Each running job's ledger row carries a lease its engine renews every third of the lease
time. An engine that finds a lease expired (its worker died, lost power or its network)
takes the job back: queued again (or failed once its attempts are spent), for any engine
to run. An engine that fails to renew a lease stops that run at once, so a job is never
run twice at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.claude.procs import end_leftover
from core.claude.runner import RunControl
from core.jobs import Job, JobState
from core.ledger.store import LedgerStore

log = logging.getLogger(__name__)


class LeaseKeeper:
    """From its own thread: renews the leases of this engine's runs, stops a run whose lease
    was lost, and takes back other engines' expired jobs."""

    def __init__(
        self,
        ledger: LedgerStore,
        owner_pid: int,
        owner_host: str,
        lease_seconds: float,
        running: Callable[[], dict[int, RunControl]],
        on_taken_back: Callable[[Job, JobState], None],
        kill_grace_seconds: float,
    ) -> None:
        self._ledger = ledger
        self._owner_pid = owner_pid
        self._owner_host = owner_host
        self._lease_seconds = lease_seconds
        self._running = running
        self._on_taken_back = on_taken_back
        self._grace = kill_grace_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowtui-leases", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            try:
                self.renew()
                self.take_back_expired()
            except Exception:  # Redis away, disk full...: keep trying, the next round may work
                log.exception("lease round failed")

    def renew(self) -> None:
        running = self._running()
        if not running:
            return
        kept = self._ledger.renew_leases(
            list(running), self._owner_pid, self._owner_host, self._lease_seconds
        )
        for job_id, control in running.items():
            if job_id not in kept:
                log.warning("lost the lease on job #%s: stopping its run here", job_id)
                control.lose_lease("its lease was taken back (this worker was unreachable too long)")

    def take_back_expired(self) -> None:
        mine = set(self._running())
        for job in self._ledger.expired_leases(self._ledger.clock.iso()):
            if job.id in mine:
                continue
            where = f"{job.owner_host or 'a worker'} pid {job.owner_pid}"
            if job.owner_host == self._owner_host:
                done = end_leftover(job.claude_pid, job.claude_started, self._grace)
                if done:
                    self._ledger.note(job.id, done)
            state = self._ledger.recover_orphan(job, f"interrupted: the lease of {where} expired")
            if state is not None:
                log.warning("took back job #%s from %s: now %s", job.id, where, state)
                self._on_taken_back(job, state)
