"""The headless CLI as scripts use it: ids on stdout, one-line errors with exit 2, JSON shapes."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for
from fakeclaude import ok_script

LEDGER_FIELDS = {
    "id",
    "workflow",
    "prompt",
    "source",
    "cwd",
    "state",
    "attempts",
    "max_attempts",
    "priority",
    "created_at",
    "started_at",
    "finished_at",
    "exit_code",
    "error",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "turns",
    "session_id",
    "transcript_path",
    "answer",
    "parent_id",
}


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    return Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))


@pytest.fixture
def served(flowtui: Flowtui) -> Iterator[subprocess.Popen[str]]:
    process = flowtui.serve()
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_add_prints_the_id_alone(flowtui: Flowtui, tmp_path: Path) -> None:
    assert flowtui.ok("add", "first", "--cwd", str(tmp_path)) == "1\n"
    assert flowtui.ok("add", "second", "--priority", "5", cwd=tmp_path) == "2\n"
    jobs = json.loads(flowtui.ok("jobs", "--json"))
    assert [job["id"] for job in jobs] == [2, 1]
    assert set(jobs[0]) >= LEDGER_FIELDS
    assert jobs[0]["priority"] == 5 and jobs[0]["source"] == "cli" and jobs[0]["state"] == "queued"
    assert jobs[0]["cwd"] == str(tmp_path)


def test_served_job_runs_and_show_json_has_fields_events_and_answer(
    flowtui: Flowtui, served: subprocess.Popen[str], tmp_path: Path
) -> None:
    job_id = flowtui.ok("add", "hello", "--cwd", str(tmp_path)).strip()
    shown = wait_for(
        lambda: (data := json.loads(flowtui.ok("show", job_id, "--json")))["state"] == "succeeded" and data,
        what="the job to succeed",
    )
    assert set(shown) >= LEDGER_FIELDS | {"events"}
    assert shown["answer"] == "fake answer" and shown["session_id"] == "fake-session"
    assert [event["state"] for event in shown["events"]] == ["queued", "running", "running", "succeeded"]
    text = flowtui.ok("show", job_id)
    assert "✓ succeeded" in text and "answer:\nfake answer" in text
    table = flowtui.ok("jobs", "--state", "succeeded")
    assert "hello" in table and "$0.0123" in table


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("show", "abc"), ("bad job id 'abc'",)),
        (("show", "99"), ("no job #99",)),
        (("retry", "0"), ("bad job id '0'",)),
        (("cancel", "42"), ("no job #42",)),
        (("add", "x", "--workflow", "nope"), ("unknown workflow 'nope'", "[workflows.nope]")),
        (("add", "x", "--cwd", "/no/such/dir"), ("/no/such/dir does not exist",)),
        (("add", "   "), ("the prompt is empty",)),
        (("add",), ("Missing argument 'PROMPT'",)),
        (("jobs", "--state", "sleeping"), ("'sleeping' is not one of",)),
        (("frobnicate",), ("No such command 'frobnicate'",)),
        (("logs", "99"), ("no job #99",)),
        (("followup", "99", "more"), ("no job #99",)),
        (("approve", "x1"), ("bad job id 'x1'",)),
        (("stats", "--days", "0"), ("0 is not in the range x>=1",)),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    flowtui: Flowtui, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    assert_one_line_error(flowtui.run(*args), *fragments)


def test_bad_config_exits_2_and_writes_nothing(flowtui: Flowtui) -> None:
    flowtui.home.mkdir()
    (flowtui.home / "config.toml").write_text("[engine]\nworkerz = 2\n")
    done = flowtui.run("add", "x")
    assert_one_line_error(done, str(flowtui.home / "config.toml"), "[engine] workerz: unknown key")
    assert sorted(path.name for path in flowtui.home.iterdir()) == ["config.toml"]


def test_logs_followup_and_approval_rules(flowtui: Flowtui, tmp_path: Path) -> None:
    job_id = flowtui.ok("add", "later", "--cwd", str(tmp_path)).strip()
    done = flowtui.run("logs", job_id)
    assert done.returncode == 0 and "has not started yet (queued): use --follow to wait for it" in done.stderr
    assert_one_line_error(flowtui.run("logs", job_id, "--attempt", "3"), "pick --attempt 1..1")
    assert_one_line_error(flowtui.run("followup", job_id, "more"), "no Claude session to continue")
    assert_one_line_error(
        flowtui.run("approve", job_id),
        f"job #{job_id} has no question waiting (it is queued): approve answers a running job's",
    )
    assert_one_line_error(
        flowtui.run("deny", job_id), f"job #{job_id} has no question waiting (it is queued): deny answers"
    )


def test_retry_queues_a_linked_new_job_and_cancel_rules(flowtui: Flowtui, tmp_path: Path) -> None:
    job_id = flowtui.ok("add", "flaky", "--cwd", str(tmp_path)).strip()
    assert_one_line_error(flowtui.run("retry", job_id), f"job #{job_id} is queued")
    assert flowtui.ok("cancel", job_id) == f"cancelled #{job_id}\n"
    assert_one_line_error(flowtui.run("cancel", job_id), f"job #{job_id} already cancelled")
    new_id = flowtui.ok("retry", job_id).strip()
    new = json.loads(flowtui.ok("show", new_id, "--json"))
    assert (new["source"], new["parent_id"], new["prompt"], new["state"]) == ("retry", 1, "flaky", "queued")


def test_pause_and_resume_are_kept_in_the_state(
    flowtui: Flowtui, served: subprocess.Popen[str], tmp_path: Path
) -> None:
    assert "paused" in flowtui.ok("pause")
    job_id = flowtui.ok("add", "later", "--cwd", str(tmp_path)).strip()
    assert "queued" in flowtui.ok("jobs")
    assert json.loads(flowtui.ok("show", job_id, "--json"))["state"] == "queued"
    assert flowtui.ok("resume") == "resumed\n"
    wait_for(
        lambda: json.loads(flowtui.ok("show", job_id, "--json"))["state"] == "succeeded", what="job to run"
    )


def test_cancel_from_another_terminal_ends_the_running_job(flowtui: Flowtui, tmp_path: Path) -> None:
    sleeper = tmp_path / "sleepy-claude"
    sleeper.write_text('#!/bin/sh\necho \'{"type":"system"}\'\nsleep 300\n')
    sleeper.chmod(0o755)
    flowtui.env["FLOWTUI_CLAUDE"] = str(sleeper)
    engine = flowtui.serve()
    try:
        job_id = flowtui.ok("add", "long", "--cwd", str(tmp_path)).strip()
        wait_for(
            lambda: json.loads(flowtui.ok("show", job_id, "--json"))["claude_pid"], what="claude to start"
        )
        assert "cancelling #" in flowtui.ok("cancel", job_id)
        done = wait_for(
            lambda: (
                (data := json.loads(flowtui.ok("show", job_id, "--json")))["state"] == "cancelled" and data
            ),
            what="the cancel",
        )
        assert done["error"] == "cancelled by the user"
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)


def test_second_serve_refuses_naming_the_pid(flowtui: Flowtui, served: subprocess.Popen[str]) -> None:
    done = flowtui.run("serve")
    assert done.returncode == 1
    assert f"pid {served.pid}" in done.stderr.strip().splitlines()[-1]


def test_serve_stops_cleanly_on_sigterm(flowtui: Flowtui, served: subprocess.Popen[str]) -> None:
    served.send_signal(signal.SIGTERM)
    assert served.wait(timeout=90) == 0  # generous: a loaded machine stops slowly, not wrongly
    assert "engine: not running" in flowtui.ok("doctor")


def test_doctor_reports_each_check(flowtui: Flowtui, tmp_path: Path) -> None:
    version = tmp_path / "claude-version"
    version.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    version.chmod(0o755)
    flowtui.env["FLOWTUI_CLAUDE"] = str(version)
    report = flowtui.ok("doctor")
    for name in ("config", "data dir", "ledger", "queue", "engine", "claude"):
        assert f"ok    {name}:" in report
    assert "9.9.9 (Claude Code)" in report
    flowtui.env["FLOWTUI_CLAUDE"] = str(tmp_path / "missing")
    done = flowtui.run("doctor")
    assert done.returncode == 1 and "FAIL  claude:" in done.stdout
