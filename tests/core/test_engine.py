"""The engine with stand-in claude scripts: outcomes, stray output, retries, pause, cancel, recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from enginekit import home_paths, is_gone, running_engine, settings_from, wait_for, wait_job
from fakeclaude import ok_script, result_line, write_script

from core.claude.procs import process_start_time
from core.clock import parse_time, to_iso
from core.engine.engine import Engine, EngineNotStarted
from core.events import EngineChanged, Event
from core.jobs import JobState
from core.ledger.sqlite import Ledger, NewJob
from core.wake.lock import EngineBusy


def env_with(command: Path | str) -> dict[str, str]:
    return {**os.environ, "FLOWTUI_CLAUDE": str(command)}


def test_job_succeeds_and_ledger_keeps_the_result(tmp_path: Path) -> None:
    script = ok_script(tmp_path / "claude", answer="forty-two")
    with running_engine(tmp_path / "home", environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("what is the answer?", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED
        assert (done.answer, done.cost_usd, done.input_tokens, done.output_tokens) == (
            "forty-two",
            0.0123,
            11,
            7,
        )
        assert (done.turns, done.session_id, done.exit_code, done.attempts) == (1, "fake-session", 0, 1)
        assert done.started_at and done.finished_at and done.error is None
        transcript = Path(done.transcript_path or "")
        lines = [json.loads(line) for line in transcript.read_text().splitlines()]
        # flowtui's marker where the run starts, then Claude's lines as they came
        assert [line["type"] for line in lines] == ["flowtui", "system", "result"]
        assert lines[0]["marker"] == "run_started"
        states = [event.state for event in engine.ledger.events(job.id)]  # type: ignore[union-attr]
        assert states == ["queued", "running", "running", "succeeded"]


def test_argv_has_stream_flags_and_workflow_options_and_the_prompt_comes_on_stdin(tmp_path: Path) -> None:
    argv_file = tmp_path / "argv.txt"
    stdin_file = tmp_path / "stdin.txt"
    script = write_script(
        tmp_path / "claude",
        f'for a in "$@"; do printf "%s\\n" "$a" >> {argv_file}; done\npwd > {tmp_path}/cwd.txt\n'
        f"head -n 2 > {stdin_file}\n"
        f"echo '{result_line()}'\n",
    )
    config = """
[workflows.review]
model = "sonnet"
permission_mode = "acceptEdits"
allowed_tools = ["Bash", "Read"]
max_turns = 3
append_system_prompt = "be brief"
"""
    workdir = tmp_path / "project"
    workdir.mkdir()
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("--help; rm -rf / $(x)", workflow="review", cwd=workdir)
        wait_job(engine, job.id, JobState.SUCCEEDED)
    argv = argv_file.read_text().splitlines()
    assert argv[:5] == ["-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    assert argv[argv.index("--model") + 1] == "sonnet"
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    assert argv[argv.index("--allowedTools") + 1] == "Bash,Read"
    assert argv[argv.index("--max-turns") + 1] == "3"
    assert argv[argv.index("--append-system-prompt") + 1] == "be brief"
    assert argv[argv.index("--input-format") + 1] == "stream-json"
    assert argv[argv.index("--permission-prompt-tool") + 1] == "stdio"
    assert "--help; rm -rf / $(x)" not in argv
    initialize, prompt = (json.loads(line) for line in stdin_file.read_text().splitlines())
    assert initialize["type"] == "control_request" and initialize["request"]["subtype"] == "initialize"
    assert prompt["type"] == "user"
    assert prompt["message"] == {"role": "user", "content": "--help; rm -rf / $(x)"}
    assert (tmp_path / "cwd.txt").read_text().strip() == str(workdir)


def test_stray_lines_are_recorded_and_skipped(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 5000 + "\n")
    script = write_script(
        tmp_path / "claude",
        "echo 'not json at all'\n"
        "printf '\\377\\376 bad bytes\\n'\n"
        f"cat {big}\n"
        "echo '[1, 2]'\n"
        f"echo '{result_line(result='still fine')}'\n",
    )
    config = "[claude]\nmax_line_bytes = 2048"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None and engine.ledger is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED and done.answer == "still fine"
        reasons = [event.reason for event in engine.ledger.events(job.id)]
    assert any(reason.startswith("non-JSON line skipped") for reason in reasons)
    assert any(reason.startswith("non-UTF-8 bytes at offset 0 skipped") for reason in reasons)
    assert any(reason.startswith("line over 2,048 bytes skipped") for reason in reasons)
    assert any(reason.startswith("JSON line that is not an object") for reason in reasons)
    transcript = [json.loads(line) for line in Path(done.transcript_path or "").read_text().splitlines()]
    assert [line.get("subtype") for line in transcript].count("stray_line") == 4


def test_exit_without_result_fails_and_the_worker_lives_on(tmp_path: Path) -> None:
    broken = write_script(tmp_path / "claude", "echo 'boom on stderr' >&2\nexit 3\n")
    config = "[workflows.default]\nretries = 0"
    with running_engine(tmp_path / "home", config, environ=env_with(broken)) as engine:
        assert engine.control is not None
        first = engine.control.add("one", cwd=tmp_path)
        failed = wait_job(engine, first.id, JobState.FAILED, JobState.SUCCEEDED)
        assert failed.state is JobState.FAILED
        assert failed.exit_code == 3
        assert failed.error == "claude exited with code 3 without a result line: boom on stderr"
        ok_script(broken)  # the same path now works: the next job must run on the same worker
        second = engine.control.add("two", cwd=tmp_path)
        assert wait_job(engine, second.id, JobState.SUCCEEDED, JobState.FAILED).state is JobState.SUCCEEDED


def test_missing_binary_fails_clearly_without_retrying(tmp_path: Path) -> None:
    with running_engine(tmp_path / "home", environ=env_with(tmp_path / "no-such-claude")) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.FAILED)
    assert done.attempts == 1
    assert done.error is not None and done.error.startswith("claude command not found:")
    assert "FLOWTUI_CLAUDE" in done.error


def test_api_error_result_fails_even_though_subtype_says_success(tmp_path: Path) -> None:
    line = result_line(is_error=True, result="API Error: 400 bad request", api_error_status=400)
    script = write_script(tmp_path / "claude", f"echo '{line}'\nexit 1\n")
    with running_engine(tmp_path / "home", environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.FAILED)
    assert done.error == "API Error: 400 bad request (exit code 1)"
    assert done.attempts == 1  # a 400 will not get better by retrying
    assert done.exit_code == 1 and done.cost_usd == 0.0123


def test_retryable_failure_is_retried_after_its_delay(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = write_script(
        tmp_path / "claude",
        f'echo x >> {counter}\nif [ "$(wc -l < {counter})" -lt 2 ]; then exit 1; fi\n'
        f"echo '{result_line()}'\n",
    )
    config = "[workflows.default]\nretries = 2\nretry_delay_seconds = 0.5"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None and engine.ledger is not None
        job = engine.control.add("x", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        reasons = [event.reason for event in engine.ledger.events(job.id)]
        events = engine.ledger.events(job.id)
    assert done.state is JobState.SUCCEEDED and done.attempts == 2
    assert any("attempt 1 failed" in reason and "retry in 0.5s" in reason for reason in reasons)
    failed_at = next(parse_time(e.at) for e in events if e.reason.startswith("attempt 1 failed"))
    retried_at = next(parse_time(e.at) for e in events if e.reason == "attempt 2 of 3 started")
    assert (retried_at - failed_at).total_seconds() >= 0.5  # never before its delay


def test_pause_survives_restart_and_resume_runs_the_queue(tmp_path: Path) -> None:
    script = ok_script(tmp_path / "claude")
    home = tmp_path / "home"
    with running_engine(home, environ=env_with(script)) as engine:
        assert engine.control is not None
        engine.control.pause()
        job = engine.control.add("wait for me", cwd=tmp_path)
        wait_for(lambda: engine.paused, what="engine to pause")
    with running_engine(home, environ=env_with(script)) as engine:
        assert engine.control is not None and engine.ledger is not None
        assert engine.paused
        assert engine.control.pause_state().reason == "by hand"
        assert engine.ledger.require(job.id).state is JobState.QUEUED
        engine.control.resume()
        assert wait_job(engine, job.id, JobState.SUCCEEDED).attempts == 1


def test_cancel_queued_job_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = write_script(tmp_path / "claude", f"touch {marker}\necho '{result_line()}'\n")
    with running_engine(tmp_path / "home", environ=env_with(script)) as engine:
        assert engine.control is not None
        engine.control.pause()
        job = engine.control.add("x", cwd=tmp_path)
        assert engine.control.cancel(job.id) is JobState.CANCELLED
        engine.control.resume()
        later = engine.control.add("y", cwd=tmp_path)
        wait_job(engine, later.id, JobState.SUCCEEDED)
        assert engine.control.get(job.id).state is JobState.CANCELLED
        assert engine.control.get(job.id).attempts == 0


def test_cancel_running_job_ends_its_whole_process_group(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    # Ignores SIGTERM like a stuck tool would, and starts a grandchild that does too.
    script = write_script(
        tmp_path / "claude",
        "trap '' TERM\n"
        f"(trap '' TERM; sleep 300) & echo $! > {child_pid_file}\n"
        'echo \'{"type":"system","subtype":"init","session_id":"s"}\'\n'
        "sleep 300\n",
    )
    config = "[claude]\nkill_grace_seconds = 0.5"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("x", cwd=tmp_path)
        running = wait_for(
            lambda: (j := engine.control.get(job.id)).claude_pid and child_pid_file.exists() and j,  # type: ignore[union-attr]
            what="claude to start",
        )
        assert engine.control.cancel(job.id) is JobState.RUNNING
        done = wait_job(engine, job.id, JobState.CANCELLED)
    child_pid = int(child_pid_file.read_text())
    assert running.claude_pid is not None and is_gone(running.claude_pid)
    assert is_gone(child_pid)
    assert done.error == "cancelled by the user"


def test_engine_lock_allows_one_engine_per_data_dir(tmp_path: Path) -> None:
    with running_engine(tmp_path / "home", environ=env_with(ok_script(tmp_path / "claude"))):
        second = Engine(settings_from(), home_paths(tmp_path / "home"))
        with pytest.raises(EngineBusy) as caught:
            second.start()
        assert caught.value.holder.pid == os.getpid()


def test_recovery_ends_leftover_process_and_runs_the_job_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    job = ledger.create(NewJob("again", "default", "cli", str(tmp_path), max_attempts=3), "test")
    # A "dead engine" left this job running with a claude process still alive.
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    ledger.claim(job.id, owner_pid=999_999)
    ledger.record_process(job.id, leftover.pid, process_start_time(leftover.pid) or 0, "t.jsonl")
    ledger.close()
    with running_engine(home, environ=env_with(ok_script(tmp_path / "claude"))) as engine:
        assert engine.ledger is not None
        done = wait_job(engine, job.id, JobState.SUCCEEDED)
        reasons = [event.reason for event in engine.ledger.events(job.id)]
    assert leftover.wait(timeout=10) is not None
    assert done.attempts == 2
    assert f"ended leftover claude process group {leftover.pid}" in reasons
    assert "interrupted: pid 999999 died mid-run; will run again" in reasons
    assert reasons.count("attempt 2 of 3 started") == 1


def test_recovery_fails_a_job_whose_attempts_are_spent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    job = ledger.create(NewJob("once", "default", "cli", str(tmp_path), max_attempts=1), "test")
    ledger.claim(job.id, owner_pid=999_999)
    ledger.close()
    with running_engine(home, environ=env_with(ok_script(tmp_path / "claude"))) as engine:
        assert engine.control is not None
        done = engine.control.get(job.id)
    assert done.state is JobState.FAILED
    assert done.error == "interrupted: pid 999999 died mid-run; all 1 attempts spent"


def test_job_added_by_another_process_starts_without_polling(tmp_path: Path) -> None:
    """The idle sweep is an hour here: only the named-pipe poke can start the job."""
    home = tmp_path / "home"
    config = "[engine]\nidle_sweep_seconds = 3600"
    (home).mkdir()
    (home / "config.toml").write_text(config)
    env = {**env_with(ok_script(tmp_path / "claude")), "FLOWTUI_HOME": str(home)}
    with running_engine(home, config, environ=env) as engine:
        added = subprocess.run(
            [sys.executable, "-m", "cli", "add", "from elsewhere", "--cwd", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        job_id = int(added.stdout.strip())
        assert wait_job(engine, job_id, JobState.SUCCEEDED, timeout=20).answer == "fake answer"


def test_stop_interrupts_running_job_and_requeues_it_without_spending_an_attempt(tmp_path: Path) -> None:
    script = write_script(tmp_path / "claude", 'echo \'{"type":"system"}\'\nsleep 300\n')
    home = tmp_path / "home"
    with running_engine(home, "[claude]\nkill_grace_seconds = 0.5", environ=env_with(script)) as engine:
        assert engine.control is not None
        job = engine.control.add("long", cwd=tmp_path)
        wait_for(lambda: engine.control.get(job.id).claude_pid, what="claude to start")  # type: ignore[union-attr]
    ledger = Ledger(home_paths(home).ledger_db)
    stopped = ledger.require(job.id)
    assert stopped.state is JobState.QUEUED and stopped.attempts == 0
    assert ledger.events(job.id)[-1].reason == "interrupted by engine stop; will run again"


def test_workers_run_jobs_side_by_side(tmp_path: Path) -> None:
    """Two workers: each fake claude waits until both are running, so one worker would hang."""
    gate = tmp_path / "gate"
    gate.mkdir()
    script = write_script(
        tmp_path / "claude",
        f'touch {gate}/$$\nwhile [ "$(ls {gate} | wc -l)" -lt 2 ]; do sleep 0.05; done\n'
        f"echo '{result_line()}'\n",
    )
    config = "[engine]\nworkers = 2\n[workflows.default]\ntimeout_minutes = 0.5\nretries = 0"
    with running_engine(tmp_path / "home", config, environ=env_with(script)) as engine:
        assert engine.control is not None
        first = engine.control.add("one", cwd=tmp_path)
        second = engine.control.add("two", cwd=tmp_path)
        assert wait_job(engine, first.id, JobState.SUCCEEDED, JobState.FAILED).state is JobState.SUCCEEDED
        assert wait_job(engine, second.id, JobState.SUCCEEDED, JobState.FAILED).state is JobState.SUCCEEDED


def test_a_pause_with_an_end_resumes_by_itself_and_runs_the_queue(tmp_path: Path) -> None:
    with running_engine(tmp_path / "home", environ=env_with(ok_script(tmp_path / "claude"))) as engine:
        changes: list[Event] = []
        engine.bus.subscribe(changes.append)
        until = to_iso(engine.clock.now() + timedelta(seconds=0.5))
        engine.control.pause("a limit until soon", until=until)
        assert engine.paused
        job = engine.control.add("after the pause", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED)
        assert parse_time(done.finished_at or "") >= parse_time(until)
        assert not engine.control.pause_state().paused and not engine.paused
        pauses = [(change.paused, change.reason) for change in changes if isinstance(change, EngineChanged)]
        assert pauses == [(True, "a limit until soon"), (False, None)]


def test_the_ledger_before_start_is_a_clear_error(tmp_path: Path) -> None:
    engine = Engine(settings_from(), home_paths(tmp_path / "home"))
    with pytest.raises(EngineNotStarted, match="not running"):
        engine.ledger  # noqa: B018 -- the access is what is tested
    engine.stop()  # stopping an engine that never started is harmless
