"""Jobs run by the real Claude Code CLI against the loopback Messages-API stand-in.

These are the end-to-end proofs of issue #2: answers, tool calls and API errors are
recorded from the CLI's own stream-json, and a SIGKILLed ``flowtui serve`` loses no job
at any moment of a run (queued, waiting on the API, mid-stream, after the result line).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import is_gone, running_engine, wait_for, wait_job

from core.jobs import JobState

pytestmark = pytest.mark.claude


def transcript_lines(path: str | None) -> list[dict[str, object]]:
    if not path or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def engine_env(claude_env: dict[str, str], claude_bin: str) -> dict[str, str]:
    return {**claude_env, "FLOWTUI_CLAUDE": claude_bin}


def test_plain_answer_is_recorded(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> None:
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add("Say something [[reply:hello from the stand-in]]", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "hello from the stand-in"
    assert done.exit_code == 0 and done.turns == 1 and done.attempts == 1
    assert done.session_id and done.cost_usd is not None and done.cost_usd > 0
    assert done.input_tokens and done.output_tokens
    lines = transcript_lines(done.transcript_path)
    types = [line["type"] for line in lines]
    assert types[:2] == ["flowtui", "system"] and types[-1] == "result"  # the run's start marker first
    assert lines[0]["marker"] == "run_started"
    assert "stream_event" in types and "assistant" in types


def test_bash_tool_call_runs_and_its_result_streams_back(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    config = '[workflows.shell]\nallowed_tools = ["Bash"]'
    with running_engine(tmp_path / "home", config, environ=engine_env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add("Run it [[bash:echo hi]]", workflow="shell", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "tool said: hi"
    assert done.turns == 2
    user_lines = [line for line in transcript_lines(done.transcript_path) if line["type"] == "user"]
    assert "hi" in json.dumps(user_lines) and "tool_result" in json.dumps(user_lines)


def test_api_400_fails_at_once_with_the_error(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add("Bad request [[http:400]]", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.FAILED, JobState.SUCCEEDED, timeout=60)
    assert done.state is JobState.FAILED
    assert done.error is not None and done.error.startswith("API Error: 400")
    assert done.exit_code == 1 and done.attempts == 1


# -- crash tests ---------------------------------------------------------------------------


@pytest.fixture
def flowtui(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> Iterator[Flowtui]:
    runner = Flowtui(tmp_path / "home", claude_bin, environ=claude_env)
    yield runner


def kill_engine(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def show(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    return json.loads(flowtui.ok("show", job_id, "--json"))  # type: ignore[no-any-return]


def reasons(job: dict[str, object]) -> list[str]:
    return [str(event["reason"]) for event in job["events"]]  # type: ignore[attr-defined]


def serve_until_finished(flowtui: Flowtui, *job_ids: str) -> list[dict[str, object]]:
    engine = flowtui.serve()
    try:
        return [
            wait_for(
                lambda job_id=job_id: (
                    (data := show(flowtui, job_id))["state"] in ("succeeded", "failed") and data
                ),
                timeout=90,
                what=f"job #{job_id} to finish after the restart",
            )
            for job_id in job_ids
        ]
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)


def assert_recovered(flowtui: Flowtui, job_id: str, first_pid: int | None) -> dict[str, object]:
    """After a restart the job ran again, succeeded, and the first run's processes are gone."""
    (job,) = serve_until_finished(flowtui, job_id)
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 2
    history = reasons(job)
    assert "attempt 1 of 3 started" in history and "attempt 2 of 3 started" in history
    assert any(reason.startswith("interrupted: pid ") for reason in history)
    if first_pid is not None:
        assert is_gone(first_pid)
        with pytest.raises(ProcessLookupError):
            _signal_live_group(first_pid)
    return job


def _signal_live_group(pgid: int) -> None:
    """Raise ProcessLookupError unless a non-zombie member of the group is alive."""
    os.killpg(pgid, 0)
    import psutil

    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return
        except (ProcessLookupError, psutil.Error):
            continue
    raise ProcessLookupError(pgid)


def running_pid(flowtui: Flowtui, job_id: str, ready: Callable[[dict[str, object]], bool]) -> int:
    job = wait_for(
        lambda: (data := show(flowtui, job_id))["claude_pid"] and ready(data) and data,
        timeout=60,
        what=f"job #{job_id} to reach the moment of the crash",
    )
    return int(job["claude_pid"])  # type: ignore[call-overload]


def test_crash_while_waiting_on_the_api_and_while_queued(flowtui: Flowtui, tmp_path: Path) -> None:
    engine = flowtui.serve()
    slow = flowtui.ok("add", "Slow reply [[once]][[slow:60]]", "--cwd", str(tmp_path)).strip()
    queued = flowtui.ok("add", "Waits its turn [[reply:second]]", "--cwd", str(tmp_path)).strip()
    pid = running_pid(flowtui, slow, lambda job: True)
    assert show(flowtui, queued)["state"] == "queued"
    kill_engine(engine)
    assert show(flowtui, slow)["state"] == "running"  # what a dead engine leaves behind
    assert show(flowtui, queued)["state"] == "queued"
    (first, second) = serve_until_finished(flowtui, slow, queued)
    assert first["state"] == "succeeded" and first["attempts"] == 2
    assert any(reason.startswith("interrupted: pid ") for reason in reasons(first))
    assert is_gone(pid)
    assert second["state"] == "succeeded" and second["attempts"] == 1 and second["answer"] == "second"


def test_crash_mid_stream(flowtui: Flowtui, tmp_path: Path) -> None:
    engine = flowtui.serve()
    job_id = flowtui.ok("add", "Talks then stalls [[once]][[stall:60]]", "--cwd", str(tmp_path)).strip()

    def streamed_partial(job: dict[str, object]) -> bool:
        return "partial" in json.dumps(transcript_lines(job["transcript_path"]))  # type: ignore[arg-type]

    pid = running_pid(flowtui, job_id, streamed_partial)
    kill_engine(engine)
    job = assert_recovered(flowtui, job_id, pid)
    assert job["answer"] == "done"


def test_crash_after_the_result_line_before_the_ledger_update(
    flowtui: Flowtui, tmp_path: Path, claude_bin: str
) -> None:
    """A wrapper keeps the process alive after the CLI printed its result, once."""
    flag = tmp_path / "lingered"
    wrapper = tmp_path / "claude-wrapper"
    wrapper.write_text(
        f'#!/bin/sh\n"{claude_bin}" "$@"\nstatus=$?\n'
        f'if [ ! -e "{flag}" ]; then touch "{flag}"; sleep 300; fi\nexit $status\n'
    )
    wrapper.chmod(0o755)
    flowtui.env["FLOWTUI_CLAUDE"] = str(wrapper)
    engine = flowtui.serve()
    job_id = flowtui.ok("add", "Answer then linger [[reply:finally]]", "--cwd", str(tmp_path)).strip()

    def has_result(job: dict[str, object]) -> bool:
        lines = transcript_lines(job["transcript_path"])  # type: ignore[arg-type]
        return flag.exists() and any(line["type"] == "result" for line in lines)

    pid = running_pid(flowtui, job_id, has_result)
    kill_engine(engine)
    job = show(flowtui, job_id)
    assert job["state"] == "running" and job["answer"] is None
    job = assert_recovered(flowtui, job_id, pid)
    assert job["answer"] == "finally"
    # The kernel already ended the CLI's launcher with the engine (PR_SET_PDEATHSIG); what it
    # started (the wrapper's sleep) is ended at recovery.
    assert any(
        reason
        in (f"ended leftover claude process group {pid}", f"ended leftover children of claude process {pid}")
        for reason in reasons(job)
    )


def test_a_prompt_too_long_for_argv_reaches_claude_on_stdin(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    """A 10,000-file burst makes a ~600 KB prompt; Linux refuses arguments over 128 KiB."""
    paths = "\n".join(f"/home/me/notes/file-{n:05d}.md" for n in range(20_000))
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add(f"These changed [[reply:all read]]:\n{paths}", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
    assert len(job.prompt.encode()) > 500_000
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "all read"


def test_a_workflow_added_to_the_config_while_the_engine_runs_runs_its_jobs(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    """The CLI reads the config afresh; the engine that started before the edit must agree."""
    from core.config.settings import load_settings
    from core.engine.engine import Engine
    from core.paths import Paths

    home = tmp_path / "home"
    home.mkdir()
    paths = Paths.under(home)
    paths.config_file.write_text("")
    environ = engine_env(claude_env, claude_bin)
    engine = Engine(load_settings(paths.config_file), paths, environ=environ)
    engine.start()
    try:
        paths.config_file.write_text('[workflows.review]\nprompt = "Review this: {prompt}"\nretries = 0\n')
        flowtui = Flowtui(home, claude_bin, environ)
        job_id = int(
            flowtui.ok("add", "-w", "review", "[[reply:looks good]]", "--cwd", str(tmp_path)).strip()
        )
        done = wait_job(engine, job_id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
    finally:
        engine.stop()
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.workflow == "review" and done.prompt == "Review this: [[reply:looks good]]"
    assert done.answer == "looks good" and done.max_attempts == 1
