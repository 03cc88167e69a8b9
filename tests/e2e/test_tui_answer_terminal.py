"""End to end in a real terminal: tmux runs `flowtui`, the real Claude CLI (via the stand-in)
asks to run Bash `touch approved.txt`, the window shows the question, `y` allows it, the file
appears and the job succeeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from enginekit import wait_for
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import Job, JobState
from core.ledger.sqlite import Ledger
from tui.operations import person

pytestmark = pytest.mark.claude


def ledger_job(home: Path, job_id: int) -> Job | None:
    ledger = Ledger(home / "ledger.db")
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def ended_job(home: Path, job_id: int) -> Job | None:
    job = ledger_job(home, job_id)
    return job if job is not None and job.state.is_final else None


def history(home: Path, job_id: int) -> list[str]:
    ledger = Ledger(home / "ledger.db")
    try:
        return [event.reason for event in ledger.events(job_id)]
    finally:
        ledger.close()


def test_y_in_the_window_allows_the_tool_claude_asks_for(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **claude_env,
        "FLOWTUI_HOME": str(home),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    terminal = TmuxSession(flowtui_command(), env, cwd=work)
    try:
        terminal.wait_for_text("▶ running")
        terminal.keys("n")
        terminal.wait_for_text("New job")
        terminal.type("Make it [[bash:touch approved.txt]]")
        terminal.keys("C-s")
        terminal.wait_for_text("queued #1")
        # The header and the Output pane say it, whichever toast is on screen.
        screen = terminal.wait_for_text("1 needs you (y / N / A)", timeout=90)
        terminal.wait_for_text("#1 asks to use Bash")
        assert "? needs you" in screen or "? needs you" in terminal.screen()
        assert "touch approved.txt" in terminal.screen()
        job = ledger_job(home, 1)
        assert job is not None and job.state is JobState.RUNNING and job.question is not None
        assert not (work / "approved.txt").exists()
        terminal.keys("y")
        wait_for(lambda: (work / "approved.txt").exists(), timeout=60, what="the allowed tool to run")
        done = wait_for(lambda: ended_job(home, 1), timeout=90, what="job #1 to end")
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.question is None and done.attempts == 1
        assert f"allowed Bash (by {person(env)} via tui)" in history(home, 1)
        terminal.wait_for_text("✓ succeeded", timeout=30)
        assert "needs you" not in terminal.screen().splitlines()[0]
        terminal.keys("q")
        wait_for(lambda: not terminal.alive(), timeout=20, what="flowtui to quit")
    finally:
        terminal.close()
