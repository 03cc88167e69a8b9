"""Why a run ended is one RunEnd: each ending decides what happens to its job, and only the first counts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from enginekit import home_paths, settings_from

from core.claude.runner import RunControl, RunEnd, _outcome
from core.clock import SYSTEM_CLOCK
from core.engine.outcomes import Outcomes
from core.jobs import Job, JobState
from core.ledger.sqlite import Ledger, NewJob
from core.ops.handoff import Handoff
from core.queue.transport import JobQueue

CONFIG = "[workflows.default]\nretry_delay_seconds = 60\nretries = 2\n"


def _ended(how: RunEnd) -> RunControl:
    run_control = RunControl()
    ends: dict[RunEnd, Callable[[], object]] = {
        RunEnd.FINISHED: lambda: None,
        RunEnd.CANCELLED: lambda: run_control.cancel("cancelled by the user"),
        RunEnd.INTERRUPTED: lambda: run_control.interrupt("engine stopped"),
        RunEnd.TIMED_OUT: lambda: run_control.time_out("timed out: no output for 1 min"),
        RunEnd.LEASE_LOST: lambda: run_control.lose_lease("its lease was taken back"),
        RunEnd.SUPERSEDED: lambda: run_control.supersede("started again with the rest of its burst"),
    }
    ends[how]()
    assert run_control.ended is how
    assert run_control.cancel_event.is_set() == (how is not RunEnd.FINISHED)
    return run_control


# What each ending leaves: (state, attempts spent, in Huey's queue, last history reason starts with)
EXPECTED: dict[RunEnd, tuple[JobState, int, bool, str]] = {
    RunEnd.FINISHED: (JobState.QUEUED, 1, True, "attempt 1 failed: claude exited with code 1"),
    RunEnd.CANCELLED: (JobState.CANCELLED, 1, False, "cancelled by the user"),
    RunEnd.INTERRUPTED: (JobState.QUEUED, 0, False, "interrupted by engine stop; will run again"),
    RunEnd.TIMED_OUT: (JobState.QUEUED, 1, True, "attempt 1 failed: timed out: no output for 1 min"),
    RunEnd.LEASE_LOST: (JobState.RUNNING, 1, False, "attempt 1 started"),
    RunEnd.SUPERSEDED: (JobState.QUEUED, 0, False, "started again with the rest of its burst"),
}


def test_every_ending_is_covered() -> None:
    assert set(EXPECTED) == set(RunEnd)


@pytest.mark.parametrize("how", list(RunEnd), ids=lambda how: how.name)
def test_each_ending_decides_what_happens_to_the_job(tmp_path: Path, how: RunEnd) -> None:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    settings = settings_from(CONFIG)
    ledger = Ledger(paths.ledger_db)
    queue = JobQueue(paths.queue_db, None, SYSTEM_CLOCK)
    published: list[tuple[Job, str]] = []
    pauses: list[tuple[str, str | None]] = []
    outcomes = Outcomes(
        settings,
        ledger,
        Handoff(ledger, queue),
        lambda job, reason: published.append((job, reason)),
        lambda: False,
        lambda reason, until: pauses.append((reason, until)),
    )
    try:
        created = ledger.create(
            NewJob(prompt="p", workflow="default", source="cli", cwd=str(tmp_path), max_attempts=3), "added"
        )
        job = ledger.claim(created.id, os.getpid(), "here")
        assert job is not None
        ledger.note(job.id, "attempt 1 started")  # the engine says so at the claim
        run_control = _ended(how)
        stderr = tmp_path / "run.stderr.log"
        stderr.write_text("")
        outcome = _outcome(None, 1, run_control, stderr, SYSTEM_CLOCK)

        outcomes.record(job, outcome, run_control)

        state, attempts, in_huey, reason = EXPECTED[how]
        after = ledger.require(job.id)
        assert (after.state, after.attempts) == (state, attempts)
        assert (job.id in queue.known_job_ids()) == in_huey
        assert ledger.events(job.id)[-1].reason.startswith(reason)
        assert bool(published) == (how is not RunEnd.LEASE_LOST)  # a lost lease writes nothing
        assert pauses == []
    finally:
        ledger.close()


def test_the_first_ending_wins() -> None:
    run_control = RunControl()
    run_control.time_out("timed out")
    run_control.interrupt("engine stopped")
    run_control.lose_lease("lease taken back")
    assert not run_control.supersede("more of the burst")
    assert (run_control.ended, run_control.reason) == (RunEnd.TIMED_OUT, "timed out")


def test_an_answered_run_is_not_superseded() -> None:
    run_control = RunControl()
    run_control.mark_answered()
    assert not run_control.supersede("more of the burst")
    assert run_control.ended is RunEnd.FINISHED and not run_control.cancel_event.is_set()
