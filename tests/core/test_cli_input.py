"""The CLI as a shell uses it: prompts on stdin, its version, what an empty list says, and
tool output that cannot steer the terminal unless `--raw` asks for the lines as stored."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from clikit import Flowtui
from fakeclaude import ok_script

from core.claude.conversation import Question
from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob
from core.paths import Paths

BIG_PROMPT_BYTES = 300 * 1024
"""Over Linux's 128 KiB limit on one argument: only stdin can carry it."""


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    return Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))


def paths_of(flowtui: Flowtui) -> Paths:
    return Paths(config_file=flowtui.home / "config.toml", data_dir=flowtui.home)


def run_with_stdin(flowtui: Flowtui, stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(flowtui.argv(*args), env=flowtui.env, input=stdin, capture_output=True, timeout=60)


def finished_job(flowtui: Flowtui, cwd: Path, transcript_lines: list[dict[str, object]] | None = None) -> int:
    """A succeeded job with a Claude session (and a transcript), written straight to the ledger."""
    paths = paths_of(flowtui)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    try:
        job = ledger.create(NewJob("first", "default", "cli", str(cwd), 1), "added by test")
        ledger.claim(job.id, owner_pid=1)
        transcript = paths.transcript_for(job.id, 1)
        transcript.parent.mkdir(parents=True, exist_ok=True)
        transcript.write_text("".join(json.dumps(line) + "\n" for line in transcript_lines or []))
        ledger.record_process(job.id, 4242, 0.0, str(transcript))
        ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, session_id="s-1", answer="done", exit_code=0))
        return job.id
    finally:
        ledger.close()


def test_add_dash_reads_a_300_kib_prompt_from_stdin(flowtui: Flowtui, tmp_path: Path) -> None:
    prompt = ("line of a long prompt ü\n" * (BIG_PROMPT_BYTES // 24)).rstrip("\n")
    assert len(prompt.encode()) > BIG_PROMPT_BYTES - 100
    done = run_with_stdin(flowtui, prompt.encode() + b"\n", "add", "-", "--cwd", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"1\n"
    (job,) = json.loads(flowtui.ok("jobs", "--json"))
    assert job["prompt"] == prompt  # the line end a pipe adds is dropped, the rest kept


def test_add_dash_with_an_empty_stdin_is_the_usual_one_line_error(flowtui: Flowtui, tmp_path: Path) -> None:
    done = run_with_stdin(flowtui, b"", "add", "-", "--cwd", str(tmp_path))
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "flowtui: the prompt is empty: give the text Claude should work on"
    ]
    assert json.loads(flowtui.ok("jobs", "--json")) == []


def test_add_dash_refuses_bytes_that_are_not_utf8_in_one_line(flowtui: Flowtui, tmp_path: Path) -> None:
    done = run_with_stdin(flowtui, b"ok \xff\xfe", "add", "-", "--cwd", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "flowtui: the prompt on stdin is not UTF-8 text (byte 3): convert it first"
    ]


def test_followup_dash_reads_the_prompt_from_stdin(flowtui: Flowtui, tmp_path: Path) -> None:
    parent = finished_job(flowtui, tmp_path)
    prompt = "x" * BIG_PROMPT_BYTES
    done = run_with_stdin(flowtui, prompt.encode(), "followup", str(parent), "-")
    assert done.returncode == 0, done.stderr
    follow = json.loads(flowtui.ok("show", done.stdout.decode().strip(), "--json"))
    assert (follow["prompt"], follow["parent_id"]) == (prompt, parent)
    empty = run_with_stdin(flowtui, b"\n", "followup", str(parent), "-")
    assert empty.returncode == 2
    assert empty.stderr.decode().splitlines() == [
        "flowtui: the follow-up prompt is empty: say what Claude should do next"
    ]


def test_version_is_the_installed_package_version(flowtui: Flowtui) -> None:
    assert flowtui.ok("--version") == f"flowtui {version('flowtui')}\n"


def test_jobs_says_no_jobs_match_a_filter_and_no_jobs_yet_only_when_empty(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    assert flowtui.ok("jobs").startswith("no jobs yet")
    assert flowtui.ok("jobs", "--state", "running").startswith("no jobs yet")
    flowtui.ok("add", "one", "--cwd", str(tmp_path))
    matched = flowtui.ok("jobs", "--state", "running", "--state", "failed")
    assert matched == "no jobs match --state running, failed: `flowtui jobs` lists them all\n"
    assert "one" in flowtui.ok("jobs", "--state", "queued")
    assert json.loads(flowtui.ok("jobs", "--state", "running", "--json")) == []


def test_jobs_state_needs_you_lists_the_running_jobs_that_wait_for_an_answer(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    done_id = finished_job(flowtui, tmp_path)
    ledger = Ledger(paths_of(flowtui).ledger_db)
    try:
        asking, busy, queued = (
            ledger.create(NewJob(prompt, "default", "cli", str(tmp_path), 1), "added by test")
            for prompt in ("asks", "works", "waits")
        )
        for job in (asking, busy):
            ledger.claim(job.id, owner_pid=1)
        question = Question("r1", "Bash", {"command": "touch x"}, "2026-11-25T09:29:50.000Z")
        assert ledger.set_waiting(asking.id, question.to_json(), "asks to use Bash: touch x")
    finally:
        ledger.close()
    table = flowtui.ok("jobs", "--state", "needs-you")
    assert "asks" in table and "works" not in table and "waits" not in table
    listed = json.loads(flowtui.ok("jobs", "--state", "needs-you", "--json"))
    assert [(job["id"], job["waiting_for"]["tool"]) for job in listed] == [(asking.id, "Bash")]
    both = json.loads(flowtui.ok("jobs", "--state", "needs-you", "--state", "queued", "--json"))
    assert [job["id"] for job in both] == [queued.id, asking.id]  # newest first, as always
    running = json.loads(flowtui.ok("jobs", "--state", "running", "--json"))
    assert {job["id"] for job in running} == {asking.id, busy.id}  # it still runs
    assert done_id not in {job["id"] for job in both}
    ledger = Ledger(paths_of(flowtui).ledger_db)
    try:
        ledger.set_waiting(asking.id, None, None)  # answered
    finally:
        ledger.close()
    answered = flowtui.ok("jobs", "--state", "needs-you")
    assert answered == "no jobs match --state needs-you: `flowtui jobs` lists them all\n"


TOOL_OUTPUT = "\x1b[31mred\x1b[0m \x1b]0;evil title\x07 back\x08space\ttab"


def test_logs_escape_control_sequences_and_raw_keeps_the_lines(flowtui: Flowtui, tmp_path: Path) -> None:
    lines: list[dict[str, object]] = [
        {"type": "system", "subtype": "init", "session_id": "s-1"},
        {
            "type": "assistant",
            "message": {"content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        },
        {
            "type": "user",
            "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": TOOL_OUTPUT}]},
        },
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "said \x1b[2J\x9b1m"}]}},
    ]
    job_id = finished_job(flowtui, tmp_path, lines)
    shown = flowtui.ok("logs", str(job_id))
    unsafe = [
        char for char in shown if (ord(char) < 0x20 and char not in "\n\t") or 0x7F <= ord(char) <= 0x9F
    ]
    assert unsafe == []
    assert "\\x1b[31mred\\x1b[0m \\x1b]0;evil title\\x07 back\\x08space\ttab" in shown
    assert "said \\x1b[2J\\x9b1m" in shown
    raw = flowtui.ok("logs", str(job_id), "--raw")
    assert raw == paths_of(flowtui).transcript_for(job_id, 1).read_text()  # as stored, byte for byte
    assert [json.loads(line) for line in raw.splitlines()] == lines
