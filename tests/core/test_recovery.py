"""Recovery on its own: which runs a dead engine left are this machine's to take back, and
how a queue only this engine uses is rebuilt from the ledger."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from enginekit import home_paths

from core.engine.recovery import left_by_dead_engine_here, recover
from core.jobs import Job, JobState
from core.ledger.sqlite import Ledger, NewJob
from core.ops.handoff import Handoff
from core.queue.transport import JobQueue

HERE = socket.gethostname()


def claimed(ledger: Ledger, cwd: Path, owner_pid: int, owner_host: str) -> Job:
    job = ledger.create(NewJob("x", "default", "cli", str(cwd), max_attempts=3), "test")
    running = ledger.claim(job.id, owner_pid, owner_host)
    assert running is not None
    return running


def dead_pid() -> int:
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def test_only_runs_of_a_gone_engine_on_this_machine_are_taken_back(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    try:
        assert left_by_dead_engine_here(claimed(ledger, tmp_path, dead_pid(), HERE), HERE)
        assert left_by_dead_engine_here(claimed(ledger, tmp_path, os.getpid(), HERE), HERE)
        assert not left_by_dead_engine_here(claimed(ledger, tmp_path, os.getppid(), HERE), HERE)
        assert not left_by_dead_engine_here(claimed(ledger, tmp_path, dead_pid(), "elsewhere"), HERE)
    finally:
        ledger.close()


def test_a_queue_of_its_own_is_rebuilt_from_the_ledger(tmp_path: Path) -> None:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    queue = JobQueue(paths.queue_db)
    try:
        orphan = claimed(ledger, tmp_path, dead_pid(), HERE)
        waiting = ledger.create(NewJob("y", "default", "cli", str(tmp_path), max_attempts=3), "test")
        swept: list[None] = []
        recover(
            ledger,
            queue,
            Handoff(ledger, queue),
            owner_host=HERE,
            kill_grace_seconds=0.2,
            sweep=lambda: swept.append(None),
        )
        recovered = ledger.get(orphan.id)
        assert recovered is not None and recovered.state is JobState.QUEUED
        assert queue.known_job_ids() == {orphan.id, waiting.id}
        assert swept == []  # the sweep is for a shared queue, which is never flushed
    finally:
        ledger.close()
