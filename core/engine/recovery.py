"""What an engine does at start about the one before it that died: its Claude processes are
ended, its running jobs go back in the queue (or fail once their attempts are spent), and
Huey's queue is rebuilt from the ledger. Jobs are therefore run at least once, never lost.
Each interrupted run's transcript is marked, so its half-told output is not read as whole."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import psutil

from core.claude.procs import end_leftover
from core.claude.transcript import append_marker, run_ended_record
from core.errors import describe_os_error
from core.jobs import Job
from core.ledger.store import LedgerStore
from core.ops.handoff import Handoff
from core.queue.transport import JobQueue

log = logging.getLogger(__name__)


def recover(
    ledger: LedgerStore,
    queue: JobQueue,
    handoff: Handoff,
    *,
    owner_host: str,
    kill_grace_seconds: float,
    sweep: Callable[[], None],
) -> None:
    """Take back what a dead engine of this data dir left running, and rebuild the queue.

    On a shared (Redis) queue only this machine's dead runs are taken back at once; other
    machines' runs are theirs until their leases expire, and ``sweep`` submits the queued
    jobs whose queue entry was lost, because a shared queue is never flushed.
    """
    for job in ledger.orphans():
        if queue.shared and not left_by_dead_engine_here(job, owner_host):
            continue
        done = end_leftover(job.claude_pid, job.claude_started, kill_grace_seconds)
        if done:
            ledger.note(job.id, done)
        owner = f"pid {job.owner_pid}" if job.owner_pid else "an engine"
        reason = f"interrupted: {owner} died mid-run"
        new_state = ledger.recover_orphan(job, reason)
        if new_state is not None:
            mark_interrupted(job, ledger, reason)
        log.warning("recovered job #%s left running by %s: now %s", job.id, owner, new_state)
    if queue.shared:
        sweep()
        return
    queue.reset()
    count = handoff.resubmit_all_queued()
    log.info("queue rebuilt from the ledger: %s queued jobs", count)


def left_by_dead_engine_here(job: Job, owner_host: str) -> bool:
    """The job's engine ran on this machine and is gone (or is this very process)."""
    return job.owner_host == owner_host and (
        job.owner_pid is None or job.owner_pid == os.getpid() or not psutil.pid_exists(job.owner_pid)
    )


def mark_interrupted(job: Job, ledger: LedgerStore, reason: str) -> None:
    """End the dead run's transcript with why it stopped (how long it ran is not known)."""
    if not job.transcript_path:
        return  # Claude never started: there is no output to mark
    transcript = Path(job.transcript_path)
    if not transcript.exists():
        return  # another machine's file (a shared queue): not ours to write
    try:
        append_marker(transcript, run_ended_record(ledger.clock, "interrupted", reason, None))
    except OSError as error:
        log.warning("cannot mark the transcript %s: %s", transcript, describe_os_error(error))
