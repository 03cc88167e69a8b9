"""Whether the Claude CLI can start, asked cheaply and remembered (core/claude/locate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.claude.locate import ClaudeCheck, claude_missing, start_failure
from core.clock import Clock
from core.jobs import Job, JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob


def finished_jobs(root: Path, ends: list[tuple[JobState, str | None]]) -> list[Job]:
    """Jobs in a real ledger, ended as ``ends`` says, newest first."""
    ledger = Ledger(root / "ledger.db")
    try:
        for state, error in ends:
            job = ledger.create(NewJob("p", "default", "cli", str(root), max_attempts=1), "test")
            if state is not JobState.QUEUED:
                ledger.claim(job.id, owner_pid=1)
            if state.is_final:
                ledger.finish(job.id, RunOutcome(state, error=error))
        return ledger.list_jobs(limit=50)
    finally:
        ledger.close()


def test_a_command_on_the_path_is_found_and_a_missing_one_is_named(tmp_path: Path) -> None:
    binary = tmp_path / "claude"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert claude_missing("claude --verbose", {"PATH": str(tmp_path)}) is None
    assert claude_missing(str(binary), {"PATH": ""}) is None
    assert claude_missing("claude", {"PATH": str(tmp_path / "empty")}) == "claude command not found: 'claude'"
    binary.chmod(0o644)
    assert claude_missing(str(binary), {"PATH": ""}) == f"claude command {str(binary)!r} is not executable"
    assert claude_missing("", {}) == "[claude] command is empty"
    assert claude_missing("'unclosed", {}).startswith('[claude] command "\'unclosed" cannot be split')


def test_the_verdict_is_remembered_until_a_minute_passes_or_the_command_changes(tmp_path: Path) -> None:
    moment = [datetime(2026, 11, 25, 9, 0, tzinfo=UTC)]
    clock = Clock(lambda: moment[0])
    check = ClaudeCheck()
    environ = {"PATH": str(tmp_path)}
    assert check.problem("claude", environ, clock) == "claude command not found: 'claude'"
    binary = tmp_path / "claude"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    moment[0] += timedelta(seconds=30)
    assert check.problem("claude", environ, clock) is not None  # remembered: no look-up per refresh
    assert check.problem(str(binary), environ, clock) is None  # another command: asked at once
    assert check.problem("claude", environ, clock) is None
    binary.unlink()
    moment[0] += timedelta(seconds=61)
    assert check.problem("claude", environ, clock) == "claude command not found: 'claude'"


def test_the_newest_finished_job_tells_whether_claude_failed_to_start(tmp_path: Path) -> None:
    not_found = "claude command not found: 'claude'; install @anthropic-ai/claude-code"
    cases = {
        "failed-then-running": ([(JobState.FAILED, not_found), (JobState.RUNNING, None)], not_found),
        "started-since": ([(JobState.FAILED, not_found), (JobState.SUCCEEDED, None)], None),
        "other-error": ([(JobState.FAILED, not_found), (JobState.FAILED, "API Error: 400")], None),
        "cancel-after": ([(JobState.FAILED, not_found), (JobState.CANCELLED, None)], not_found),
        "none": ([(JobState.QUEUED, None)], None),
    }
    for name, (ends, expected) in cases.items():
        root = tmp_path / name
        root.mkdir()
        assert start_failure(finished_jobs(root, ends)) == expected, name
