"""Time limits, leftover children, oversized lines, budgets and stats, with stand-in scripts."""

from __future__ import annotations

import os
from pathlib import Path

from enginekit import is_gone, running_engine, wait_for, wait_job
from fakeclaude import ok_script, result_line, write_script

from core.jobs import JobState


def env_with(command: Path) -> dict[str, str]:
    return {**os.environ, "FLOWTUI_CLAUDE": str(command)}


def test_total_run_time_limit_fails_the_job_and_retries_it(tmp_path: Path) -> None:
    script = write_script(tmp_path / "claude", 'while true; do echo \'{"type":"system"}\'; sleep 0.1; done\n')
    config = (
        "[workflows.default]\ntimeout_minutes = 0.01\nretries = 1\nretry_delay_seconds = 0\n"
        "[claude]\nkill_grace_seconds = 0.2"
    )
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.FAILED, JobState.SUCCEEDED)
    assert done.attempts == 2  # a timeout is retried when the workflow allows it
    assert done.error == "timed out: the run took longer than the workflow's 0.6 s limit"


def test_silence_limit_ends_a_hung_cli(tmp_path: Path) -> None:
    script = write_script(tmp_path / "claude", 'echo \'{"type":"system"}\'\nsleep 300\n')
    config = "[workflows.default]\nsilence_minutes = 0.01\nretries = 0\n[claude]\nkill_grace_seconds = 0.2"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        running = wait_for(lambda: engine.control.get(job.id).claude_pid, what="start")  # type: ignore[union-attr]
        done = wait_job(engine, job.id, JobState.FAILED)
    assert done.error == "timed out: no output for 0.6 s (the workflow's silence limit)"
    assert is_gone(running)


def test_a_child_left_running_after_a_normal_exit_is_ended(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    script = write_script(
        tmp_path / "claude", f"sleep 300 > /dev/null 2>&1 &\necho $! > {child}\necho '{result_line()}'\n"
    )
    config = "[claude]\nkill_grace_seconds = 0.2"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        assert wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED).state is JobState.SUCCEEDED
    assert is_gone(int(child.read_text()))


def test_a_ten_megabyte_line_is_skipped_not_held(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "claude", f"head -c 10000000 /dev/zero | tr '\\0' x\necho\necho '{result_line()}'\n"
    )
    with running_engine(tmp_path / "home", environ=env_with(script)) as engine:
        assert engine.control is not None and engine.ledger is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        reasons = [event.reason for event in engine.ledger.events(job.id)]
    assert done.state is JobState.SUCCEEDED
    assert any(reason.startswith("line over 1,000,000 bytes skipped") for reason in reasons)
    assert Path(done.transcript_path or "").stat().st_size < 10_000


def test_daily_budget_pauses_the_queue_until_tomorrow(tmp_path: Path) -> None:
    config = "[budget]\ndaily_usd = 0.02"  # each fake run costs $0.0123
    with running_engine(
        tmp_path / "home", config, environ=env_with(ok_script(tmp_path / "claude"))
    ) as engine:
        assert engine.control is not None
        first = engine.control.add("one", cwd=tmp_path)
        wait_job(engine, first.id, JobState.SUCCEEDED)
        assert not engine.paused
        second = engine.control.add("two", cwd=tmp_path)
        wait_job(engine, second.id, JobState.SUCCEEDED)
        wait_for(lambda: engine.paused, what="the budget pause")
        third = engine.control.add("three", cwd=tmp_path)
        state = engine.control.pause_state()
        assert state.reason == "budget: $0.02 of $0.02 spent today"
        assert state.until is not None and "resumes by itself at 00:00" in state.describe()
        assert engine.control.get(third.id).state is JobState.QUEUED
        stats = engine.control.ledger.stats(1)
    assert [(row.jobs, row.succeeded) for row in stats.days] == [(2, 2)]
    assert round(stats.days[0].cost_usd, 4) == 0.0246
    assert [row.key for row in stats.sources] == ["cli"]


def test_workflow_budget_defers_only_that_workflow(tmp_path: Path) -> None:
    config = "[workflows.pricey]\ndaily_usd = 0.01\n[workflows.cheap]\n"
    with running_engine(
        tmp_path / "home", config, environ=env_with(ok_script(tmp_path / "claude"))
    ) as engine:
        assert engine.control is not None and engine.ledger is not None
        first = engine.control.add("one", workflow="pricey", cwd=tmp_path)
        wait_job(engine, first.id, JobState.SUCCEEDED)
        second = engine.control.add("two", workflow="pricey", cwd=tmp_path)
        other = engine.control.add("three", workflow="cheap", cwd=tmp_path)
        wait_job(engine, other.id, JobState.SUCCEEDED)
        deferred = wait_for(lambda: (j := engine.control.get(second.id)).run_after and j, what="deferral")  # type: ignore[union-attr]
        reasons = [event.reason for event in engine.ledger.events(second.id)]
    assert deferred.state is JobState.QUEUED and deferred.attempts == 0
    assert "waits for tomorrow: pricey: $0.01 of $0.01 spent today" in reasons
