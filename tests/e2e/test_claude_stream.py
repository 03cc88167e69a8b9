"""Live output and control with the real Claude CLI against the loopback stand-in."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import is_gone, running_engine, wait_for, wait_job

from core.claude.events import ApiRetry, ClaudeEvent, Finished, TextDelta, ToolCall, ToolResult
from core.events import Event, JobOutput
from core.jobs import JobState

pytestmark = pytest.mark.claude


class OutputLog:
    """Collects the JobOutput batches published on the engine's bus."""

    def __init__(self) -> None:
        self.batches: list[list[ClaudeEvent]] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobOutput):
            with self._lock:
                self.batches.append(list(event.events))

    def events(self) -> list[ClaudeEvent]:
        with self._lock:
            return [event for batch in self.batches for event in batch]


def env(claude_env: dict[str, str], claude_bin: str, **extra: str) -> dict[str, str]:
    return {**claude_env, "FLOWTUI_CLAUDE": claude_bin, **extra}


def test_text_streams_as_several_events_before_the_result(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    log = OutputLog()
    with running_engine(tmp_path / "home", environ=env(claude_env, claude_bin)) as engine:
        engine.bus.subscribe(log)
        assert engine.control is not None
        job = engine.control.add("Count [[stall:1]][[lines:5]]", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
    assert done.state is JobState.SUCCEEDED
    deltas = [event for event in log.events() if isinstance(event, TextDelta)]
    assert len(deltas) >= 5
    first_text_batch = next(
        i for i, batch in enumerate(log.batches) if any(isinstance(e, TextDelta) for e in batch)
    )
    result_batch = next(
        i for i, batch in enumerate(log.batches) if any(isinstance(e, Finished) for e in batch)
    )
    assert first_text_batch < result_batch  # the partial text was published a second before the end
    assert "".join(delta.text for delta in deltas).startswith("partial ")


def test_tool_call_and_result_arrive_in_order(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    log = OutputLog()
    config = '[workflows.shell]\nallowed_tools = ["Bash"]'
    with running_engine(tmp_path / "home", config, environ=env(claude_env, claude_bin)) as engine:
        engine.bus.subscribe(log)
        assert engine.control is not None
        job = engine.control.add("Go [[bash:echo hi]]", workflow="shell", cwd=tmp_path)
        wait_job(engine, job.id, JobState.SUCCEEDED, timeout=60)
    kinds = [
        type(event)
        for event in log.events()
        if isinstance(event, ToolCall | ToolResult | TextDelta | Finished)
    ]
    assert kinds == [ToolCall, ToolResult, TextDelta, Finished]
    call, result = (event for event in log.events() if isinstance(event, ToolCall | ToolResult))
    assert isinstance(call, ToolCall) and (call.name, call.summary) == ("Bash", "echo hi")
    assert isinstance(result, ToolResult) and result.ok and result.lines == ("hi",)


def test_cancel_during_api_retries_ends_every_process(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    log = OutputLog()
    config = "[claude]\nkill_grace_seconds = 1"
    with running_engine(tmp_path / "home", config, environ=env(claude_env, claude_bin)) as engine:
        engine.bus.subscribe(log)
        assert engine.control is not None
        job = engine.control.add("Server trouble [[http:500]]", cwd=tmp_path)
        retry = wait_for(
            lambda: [e for e in log.events() if isinstance(e, ApiRetry)], timeout=60, what="a retry"
        )
        pid = engine.control.get(job.id).claude_pid
        engine.control.cancel(job.id)
        done = wait_job(engine, job.id, JobState.CANCELLED, timeout=30)
    assert retry[0].status == 500 and retry[0].max_retries
    assert pid is not None and is_gone(pid)
    assert done.attempts == 1 and done.error == "cancelled by the user"


def test_slow_stream_cancelled_midway_keeps_its_partial_transcript(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    with running_engine(tmp_path / "home", environ=env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add("Slowly [[stall:60]]", cwd=tmp_path)

        def partial_written() -> bool:
            path = engine.control.get(job.id).transcript_path  # type: ignore[union-attr]
            return bool(path) and "partial" in Path(path).read_text()  # type: ignore[arg-type]

        wait_for(partial_written, timeout=60, what="the partial text")
        pid = engine.control.get(job.id).claude_pid
        engine.control.cancel(job.id)
        done = wait_job(engine, job.id, JobState.CANCELLED, timeout=30)
    lines = [json.loads(line) for line in Path(done.transcript_path or "").read_text().splitlines()]
    assert not any(line["type"] == "result" for line in lines)
    assert pid is not None and is_gone(pid)


def test_usage_limit_requeues_without_an_attempt_and_pauses(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    with running_engine(tmp_path / "home", environ=env(claude_env, claude_bin)) as engine:
        assert engine.control is not None
        job = engine.control.add("Too much [[once]][[usage-limit]]", cwd=tmp_path)
        wait_for(lambda: engine.paused, timeout=60, what="the queue to pause")
        waiting = engine.control.get(job.id)
        state = engine.control.pause_state()
        assert waiting.state is JobState.QUEUED and waiting.attempts == 0
        assert state.reason is not None and state.reason.startswith("usage limit until ")
        assert state.until is not None
        engine.control.resume()  # as the reset would
        assert wait_job(engine, job.id, JobState.SUCCEEDED, timeout=60).attempts == 1


def test_rate_limit_429_pauses_without_spending_an_attempt(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    environ = env(claude_env, claude_bin, CLAUDE_CODE_MAX_RETRIES="0")
    with running_engine(tmp_path / "home", environ=environ) as engine:
        assert engine.control is not None
        job = engine.control.add("Busy [[once]][[http:429]]", cwd=tmp_path)
        wait_for(lambda: engine.paused, timeout=60, what="the queue to pause")
        assert engine.control.get(job.id).attempts == 0
        assert (engine.control.pause_state().reason or "").startswith("rate limit until ")


def test_followup_resumes_the_session_and_logs_follow_it(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    flowtui = Flowtui(tmp_path / "home", claude_bin, environ=claude_env)
    engine = flowtui.serve()
    try:
        first = flowtui.ok("add", "Start [[reply:one]]", "--cwd", str(tmp_path)).strip()
        follower = subprocess.Popen(
            flowtui.argv("logs", first, "--follow"), env=flowtui.env, stdout=subprocess.PIPE, text=True
        )
        out, _ = follower.communicate(timeout=60)
        assert follower.returncode == 0
        assert "── session " in out and "\none\n" in out and "✓ done" in out
        parent = json.loads(flowtui.ok("show", first, "--json"))
        second = flowtui.ok("followup", first, "Continue [[reply:two]]").strip()
        child = wait_for(
            lambda: (d := json.loads(flowtui.ok("show", second, "--json")))["state"] == "succeeded" and d,
            timeout=60,
            what="the follow-up",
        )
        assert child["session_id"] == parent["session_id"]
        assert (child["parent_id"], child["resume_session_id"], child["cwd"]) == (
            int(first),
            parent["session_id"],
            parent["cwd"],
        )
        raw = flowtui.ok("logs", second, "--raw").splitlines()
        assert json.loads(raw[-1])["type"] == "result"
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
