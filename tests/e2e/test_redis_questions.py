"""Questions answered across machines: two `flowtui serve` on one Redis, the real Claude CLI
against the stand-in, and the answer given by the CLI of the machine that does not run the job.

Each "machine" is a FLOWTUI_HOME of its own (config, data dir, transcripts, named pipe) sharing
only FLOWTUI_QUEUE_URL, as two hosts would; the answer reaches the running engine through the
ledger and the Redis change channel, never through the other machine's pipe. The engines' idle
sweep (which would find a lost answer too, late) is set far beyond every wait here, so a pass
means the change channel carried it.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for

pytestmark = pytest.mark.claude

CONFIG = (
    "[engine]\nidle_sweep_seconds = 3600\n[queue]\nlease_seconds = 5\n[claude]\nkill_grace_seconds = 0.5\n"
)


def machine(root: Path, name: str, claude_bin: str, claude_env: dict[str, str], redis_url: str) -> Flowtui:
    home = root / name
    home.mkdir(parents=True)
    (home / "config.toml").write_text(CONFIG)
    flowtui = Flowtui(home, claude_bin, environ=claude_env)
    flowtui.env["FLOWTUI_QUEUE_URL"] = redis_url
    return flowtui


@pytest.fixture
def machines(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str], redis_url: str
) -> Iterator[list[tuple[Flowtui, subprocess.Popen[str]]]]:
    started: list[tuple[Flowtui, subprocess.Popen[str]]] = []
    try:
        for name in ("a", "b"):
            flowtui = machine(tmp_path, name, claude_bin, claude_env, redis_url)
            started.append((flowtui, flowtui.serve()))
        yield started
    finally:
        for _, process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def show(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    return json.loads(flowtui.ok("show", job_id, "--json"))  # type: ignore[no-any-return]


def listed(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    jobs = json.loads(flowtui.ok("jobs", "--json"))
    return next(job for job in jobs if str(job["id"]) == job_id)


def reasons(data: dict[str, object]) -> list[str]:
    return [str(event["reason"]) for event in data["events"]]  # type: ignore[attr-defined]


def asking(
    machines: list[tuple[Flowtui, subprocess.Popen[str]]], prompt: str, work: Path
) -> tuple[str, Flowtui, Flowtui]:
    """Queue ``prompt`` and wait for its question: (job id, the machine running it, the other)."""
    first = machines[0][0]
    job_id = first.ok("add", prompt, "--cwd", str(work)).strip()
    data = wait_for(
        lambda: (job := show(first, job_id))["waiting_for"] and job,
        timeout=60,
        what=f"job #{job_id} to ask",
    )
    runs_it = next(flowtui for flowtui, process in machines if process.pid == data["owner_pid"])
    other = next(flowtui for flowtui, process in machines if process.pid != data["owner_pid"])
    return job_id, runs_it, other


def finished(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    return wait_for(
        lambda: (data := show(flowtui, job_id))["state"] in ("succeeded", "failed", "cancelled") and data,
        timeout=60,
        what=f"job #{job_id} to finish",
    )


def test_a_question_is_answered_from_the_machine_that_does_not_run_the_job(
    tmp_path: Path, machines: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    job_id, runs_it, other = asking(machines, "Make it [[bash:touch remote-yes.txt]]", work)
    for side in (runs_it, other):  # every machine sees the question, in both JSON views
        assert show(side, job_id)["waiting_for"]["tool"] == "Bash"  # type: ignore[index]
        assert listed(side, job_id)["waiting_for"]["input"] == {  # type: ignore[index]
            "command": "touch remote-yes.txt",
            "description": "run",
        }
    assert not (work / "remote-yes.txt").exists()
    answered = other.run("approve", job_id)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == f"allowed Bash for #{job_id}"
    done = finished(other, job_id)
    assert done["state"] == "succeeded", done["error"]
    assert (work / "remote-yes.txt").exists()
    assert done["waiting_for"] is None and listed(runs_it, job_id)["waiting_for"] is None
    assert done["attempts"] == 1
    assert any(reason.startswith("allowed Bash (by ") and "via cli" in reason for reason in reasons(done))
    again = other.run("approve", job_id)  # nothing left to answer: one line, exit 2
    assert again.returncode == 2
    assert again.stdout == "" and again.stderr.strip().count("\n") == 0
    assert f"job #{job_id} has no question waiting (it is succeeded)" in again.stderr


def test_a_question_is_denied_with_a_reason_from_the_other_machine(
    tmp_path: Path, machines: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    job_id, _, other = asking(machines, "Make it [[bash:touch remote-no.txt]]", work)
    denied = other.run("deny", job_id, "--reason", "not from this host")
    assert denied.returncode == 0, denied.stderr
    assert denied.stdout.strip() == f"denied Bash for #{job_id}"
    done = finished(other, job_id)
    assert done["state"] == "succeeded", done["error"]
    assert not (work / "remote-no.txt").exists()
    assert "not from this host" in str(done["answer"])  # the reason reached Claude on the other machine
    assert done["waiting_for"] is None
    assert any(reason.startswith("denied Bash: not from this host (by ") for reason in reasons(done))


def test_always_from_the_other_machine_covers_the_rest_of_the_run(
    tmp_path: Path, machines: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    job_id, _, other = asking(machines, "Two [[bash:touch one.txt;;touch two.txt]]", work)
    answered = other.run("approve", job_id, "--always")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == f"allowed Bash for #{job_id} (always, for this job)"
    done = finished(other, job_id)
    assert done["state"] == "succeeded", done["error"]
    assert (work / "one.txt").exists() and (work / "two.txt").exists()
    assert done["always_allowed"] == ["Bash"]
    assert len([reason for reason in reasons(done) if reason.startswith("asks to use")]) == 1


def test_a_running_job_that_asks_nothing_is_a_one_line_error_on_every_machine(
    tmp_path: Path, machines: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    first = machines[0][0]
    job_id = first.ok("add", "Think long [[slow:60]]", "--cwd", str(work)).strip()
    running = wait_for(
        lambda: (data := show(first, job_id))["claude_pid"] and data, timeout=60, what="the run"
    )
    assert running["state"] == "running" and running["waiting_for"] is None
    assert listed(first, job_id)["waiting_for"] is None
    for side, _ in machines:
        for verb in ("approve", "deny"):
            refused = side.run(verb, job_id)
            assert refused.returncode == 2
            assert refused.stdout == "" and refused.stderr.strip().count("\n") == 0, refused.stderr
            assert f"job #{job_id} is running and waits for no answer" in refused.stderr
    first.ok("cancel", job_id)
    assert finished(first, job_id)["state"] == "cancelled"
