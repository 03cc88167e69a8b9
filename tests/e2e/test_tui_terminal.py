"""End to end in a real terminal: tmux runs `flowtui`, the real Claude CLI answers via the stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginekit import wait_for
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import JobState
from core.ledger.sqlite import Ledger

pytestmark = pytest.mark.claude


@pytest.fixture
def terminal(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> Iterator[TmuxSession]:
    home = tmp_path / "home"
    env = {
        **claude_env,
        "FLOWTUI_HOME": str(home),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    session = TmuxSession(flowtui_command(), env, cwd=tmp_path)
    yield session
    session.close()


def watch_state(tmp_path: Path, path: Path) -> str | None:
    from core.watch.status import read_statuses

    ledger = Ledger(tmp_path / "home" / "ledger.db")
    try:
        status = read_statuses(ledger).get(str(path.resolve()))
    finally:
        ledger.close()
    return status.state if status else None


def ledger_jobs(tmp_path: Path) -> list[object]:
    ledger = Ledger(tmp_path / "home" / "ledger.db")
    try:
        return list(ledger.list_jobs())
    finally:
        ledger.close()


def test_new_job_streams_and_finishes_then_pause_resume_retry(terminal: TmuxSession, tmp_path: Path) -> None:
    terminal.wait_for_text("▶ running")
    terminal.keys("n")
    terminal.wait_for_text("New job")
    terminal.type("Say hello [[reply:hello from the terminal]]")
    terminal.keys("C-s")  # enter adds a line to the prompt
    terminal.wait_for_text("queued #1")
    terminal.wait_for_text("✓ done", timeout=60)
    screen = terminal.wait_for_text("✓ succeeded", timeout=30)
    assert "hello from the terminal" in screen
    terminal.keys("p")
    terminal.wait_for_text("⏸ paused: by hand")
    terminal.keys("r")
    terminal.wait_for_text("queued #2 (retry of #1)")
    jobs = ledger_jobs(tmp_path)
    assert [(job.id, job.state) for job in jobs] == [(2, JobState.QUEUED), (1, JobState.SUCCEEDED)]  # type: ignore[attr-defined]
    terminal.keys("p")
    terminal.wait_for_text("▶ running")
    wait_for(lambda: ledger_jobs(tmp_path)[0].state is JobState.SUCCEEDED, timeout=60, what="the retry")  # type: ignore[attr-defined]
    # add a watch path from the keyboard, then a file saved there becomes a job
    notes = tmp_path / "notes"
    notes.mkdir()
    terminal.keys("a")
    terminal.wait_for_text("Add a watch path")
    terminal.type(str(notes))
    terminal.keys("Enter")
    wait_for(lambda: watch_state(tmp_path, notes) == "active", timeout=30, what="the watch to be active")
    (notes / "today.md").write_text("buy milk\n")
    wait_for(lambda: len(ledger_jobs(tmp_path)) == 3, timeout=30, what="the file change to become a job")
    newest = ledger_jobs(tmp_path)[0]
    assert newest.source == "watch" and "today.md" in newest.prompt  # type: ignore[attr-defined]
    wait_for(lambda: ledger_jobs(tmp_path)[0].state is JobState.SUCCEEDED, timeout=60, what="the watch job")  # type: ignore[attr-defined]
    terminal.keys("q")
    wait_for(lambda: not terminal.alive(), timeout=20, what="flowtui to quit")


def test_window_beside_flowtui_serve_attaches_and_leaves_its_job_alone(tmp_path: Path) -> None:
    from clikit import Flowtui
    from fakeclaude import write_script

    sleepy = write_script(tmp_path / "sleepy", 'echo \'{"type":"system"}\'\nsleep 300\n')
    flowtui = Flowtui(tmp_path / "home", sleepy)
    served = flowtui.serve()
    env = {**flowtui.env, "TERM": "xterm-256color"}
    terminal = TmuxSession(flowtui_command(), env, cwd=tmp_path)
    try:
        terminal.wait_for_text(f"attached to engine (pid {served.pid}")
        job_id = flowtui.ok("add", "long job from the cli", "--cwd", str(tmp_path)).strip()
        terminal.wait_for_text("long job from the cli")
        terminal.wait_for_text("▶ running")
        terminal.keys("p")
        terminal.wait_for_text("⏸ paused: by hand")
        assert flowtui.ok("jobs").startswith("queue paused: by hand")
        terminal.keys("p")
        terminal.wait_for_text("▶ running")
        terminal.keys("q")
        wait_for(lambda: not terminal.alive(), timeout=20, what="the window to quit")
        job = ledger_jobs(tmp_path)[0]
        assert job.state is JobState.RUNNING and str(job.id) == job_id  # type: ignore[attr-defined]
        assert served.poll() is None
    finally:
        terminal.close()
        served.terminate()
        served.wait(timeout=30)
