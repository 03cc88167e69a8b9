"""Asking before a tool runs and telling a running job, with the real CLI and the stand-in.

The stand-in's ``[[bash:COMMAND]]`` makes Claude call Bash with a command that needs permission
(``touch`` is not read-only); its answer after the tool echoes the tool_result's first line, so
a deny's reason is seen reaching Claude.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import running_engine, wait_for, wait_job

from core.claude.transcript import render_transcript
from core.engine.engine import Engine
from core.events import QuestionChanged
from core.jobs import Job, JobState

pytestmark = pytest.mark.claude


def engine_env(claude_env: dict[str, str], claude_bin: str) -> dict[str, str]:
    return {**claude_env, "FLOWTUI_CLAUDE": claude_bin}


def question_of(engine: Engine, job_id: int, asked: int = 1) -> Job:
    """The job once it waits on its ``asked``-th question."""

    def waiting() -> Job | None:
        job = engine.ledger.get(job_id)
        if job is None or job.question is None:
            return None
        asks = [event for event in engine.ledger.events(job_id) if event.reason.startswith("asks to use")]
        return job if len(asks) >= asked else None

    return wait_for(waiting, timeout=60, what=f"job #{job_id} to ask its question #{asked}")


def reasons(engine: Engine, job_id: int) -> list[str]:
    return [event.reason for event in engine.ledger.events(job_id)]


def transcript(job: Job) -> list[dict[str, object]]:
    assert job.transcript_path
    return [json.loads(line) for line in Path(job.transcript_path).read_text().splitlines() if line.strip()]


def test_an_allowed_tool_runs_and_the_question_is_state_while_it_waits(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        heard: list[QuestionChanged] = []
        engine.bus.subscribe(
            lambda event: heard.append(event) if isinstance(event, QuestionChanged) else None
        )
        job = engine.control.add("Make it [[bash:touch approved.txt]]", cwd=work)
        waiting = question_of(engine, job.id)
        # the window hears the question as the ledger holds it, with what it would run
        (asked,) = wait_for(lambda: heard, timeout=10, what="the QuestionChanged event")
        assert (asked.job_id, asked.question) == (job.id, waiting.question)
        assert asked.preview is not None and asked.preview.summary == "touch approved.txt"
        assert waiting.state is JobState.RUNNING
        question = waiting.question
        assert question is not None
        assert question["kind"] == "tool" and question["tool"] == "Bash"
        assert question["input"]["command"] == "touch approved.txt"
        assert question["asked_at"]
        assert waiting.to_dict()["waiting_for"]["tool"] == "Bash"
        assert [job.id for job in engine.control.questions()] == [job.id]
        assert not (work / "approved.txt").exists()
        engine.control.approve(job.id, by="tester", via="test")
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        history = reasons(engine, job.id)
    assert [(event.job_id, event.question, event.preview) for event in heard[1:]] == [(job.id, None, None)]
    assert done.state is JobState.SUCCEEDED, done.error
    assert (work / "approved.txt").exists()
    assert done.question is None and done.attempts == 1
    assert "asks to use Bash: touch approved.txt" in history
    assert "allowed Bash (by tester via test)" in history


def test_a_denied_tool_does_not_run_and_claude_reads_the_reason(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        job = engine.control.add("Make it [[bash:touch denied.txt]]", cwd=work)
        question_of(engine, job.id)
        engine.control.deny(job.id, by="tester", reason="not on a Sunday", via="test")
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        history = reasons(engine, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    assert not (work / "denied.txt").exists()
    assert done.answer is not None and "not on a Sunday" in done.answer
    assert "denied Bash: not on a Sunday (by tester via test)" in history


def test_an_unanswered_question_is_denied_when_its_time_is_up(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = "[workflows.default]\npermission_timeout_minutes = 0.02\n"
    with running_engine(tmp_path / "home", config, environ=engine_env(claude_env, claude_bin)) as engine:
        job = engine.control.add("Make it [[bash:touch late.txt]]", cwd=work)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        history = reasons(engine, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    assert not (work / "late.txt").exists()
    assert done.answer is not None and "no answer within 1.2 s" in done.answer
    assert "permission_timeout_minutes" in done.answer
    assert any("no answer within 1.2 s" in reason for reason in history)


def test_always_allows_the_tool_for_the_rest_of_the_job_and_its_follow_ups(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        job = engine.control.add("Make two [[bash:touch one.txt;;touch two.txt]]", cwd=work)
        question_of(engine, job.id)
        engine.control.approve(job.id, by="tester", always=True, via="test")
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        assert done.state is JobState.SUCCEEDED, done.error
        assert (work / "one.txt").exists() and (work / "two.txt").exists()
        history = reasons(engine, job.id)
        assert len([reason for reason in history if reason.startswith("asks to use")]) == 1
        assert "allowed Bash: touch two.txt (allowed always for this job)" in history
        assert done.always_allowed_tools == ["Bash"]
        follow = engine.control.followup(job.id, "And a third [[bash:touch three.txt]]")
        assert follow.always_allowed_tools == ["Bash"]
        after = wait_job(engine, follow.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        follow_history = reasons(engine, follow.id)
    assert after.state is JobState.SUCCEEDED, after.error
    assert (work / "three.txt").exists()
    assert not [reason for reason in follow_history if reason.startswith("asks to use")]


def test_a_message_told_mid_run_is_the_next_turn_of_the_same_process(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with running_engine(tmp_path / "home", environ=engine_env(claude_env, claude_bin)) as engine:
        job = engine.control.add("First [[bash:touch told.txt]]", cwd=work)
        question_of(engine, job.id)
        engine.control.tell(job.id, "Now this [[reply:second turn done]]", by="tester", via="test")
        engine.control.approve(job.id, by="tester", via="test")
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        history = reasons(engine, job.id)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "second turn done"
    assert done.attempts == 1
    assert len([reason for reason in history if reason.startswith("claude started (pid")]) == 1
    assert "told by tester via test: Now this [[reply:second turn done]]" in history
    results = [line for line in transcript(done) if line["type"] == "result"]
    assert len(results) == 2
    # The CLI's total_cost_usd adds up over the process; usage and num_turns are per turn.
    assert done.cost_usd == pytest.approx(results[-1]["total_cost_usd"])  # type: ignore[arg-type]
    assert done.turns == sum(int(line["num_turns"]) for line in results)  # type: ignore[call-overload]
    assert done.input_tokens == sum(
        int(line["usage"]["input_tokens"])  # type: ignore[index]
        for line in results
    )
    told = [line for line in transcript(done) if line.get("subtype") == "user_message"]
    assert told == [
        {
            "type": "flowtui",
            "subtype": "user_message",
            "text": "Now this [[reply:second turn done]]",
            "by": "tester",
            "via": "test",
        }
    ]
    assert "» tester via test: Now this [[reply:second turn done]]" in render_transcript(
        Path(done.transcript_path)
    )


def test_telling_a_job_that_is_not_running_suggests_a_follow_up(tmp_path: Path) -> None:
    from fakeclaude import ok_script

    flowtui = Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))
    job_id = flowtui.ok("add", "hello", "--cwd", str(tmp_path)).strip()
    done = flowtui.run("tell", job_id, "more please")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert f"flowtui followup {job_id}" in done.stderr and "not running" in done.stderr


def test_a_killed_engine_asks_again_after_the_restart(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    flowtui = Flowtui(tmp_path / "home", claude_bin, environ=claude_env)

    def show(job_id: str) -> dict[str, object]:
        return json.loads(flowtui.ok("show", job_id, "--json"))  # type: ignore[no-any-return]

    def asked(job_id: str, count: int) -> dict[str, object] | None:
        data = show(job_id)
        asks = [e for e in data["events"] if str(e["reason"]).startswith("asks to use")]  # type: ignore[attr-defined]
        return data if data["waiting_for"] and len(asks) >= count else None

    engine = flowtui.serve()
    try:
        job_id = flowtui.ok("add", "Make it [[bash:touch after-restart.txt]]", "--cwd", str(work)).strip()
        first = wait_for(lambda: asked(job_id, 1), timeout=60, what="the first question")
        listed = json.loads(flowtui.ok("jobs", "--json"))
        assert listed[0]["waiting_for"]["tool"] == "Bash"
        assert first["state"] == "running"
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=10)
    engine = flowtui.serve()
    try:
        again = wait_for(lambda: asked(job_id, 2), timeout=90, what="the question asked again")
        assert again["attempts"] == 2
        flowtui.ok("approve", job_id)
        done = wait_for(
            lambda: (data := show(job_id))["state"] in ("succeeded", "failed") and data,
            timeout=60,
            what="the job to finish",
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
    assert done["state"] == "succeeded", done["error"]
    assert (work / "after-restart.txt").exists()
