"""End to end in a real terminal: an isolated job (the real Claude CLI, via the stand-in, runs
Bash in the job's own worktree) waits for review in the window's Jobs pane; D shows its diff,
K keeps it, and the change is merged into the repository's branch (issue 16, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from enginekit import wait_for
from gitkit import git
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import Job
from core.ledger.sqlite import Ledger

pytestmark = pytest.mark.claude

CONFIG = """
[workflows.isolated]
isolation = "worktree"
allowed_tools = ["Bash"]
retries = 0
"""
PROMPT = "Note it [[bash:echo from claude >> notes.txt]]"


def ledger_job(home: Path, job_id: int) -> Job | None:
    ledger = Ledger(home / "ledger.db")
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def test_K_in_the_window_merges_an_isolated_jobs_change_into_the_branch(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "notes.txt").write_text("start\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    env = {
        **claude_env,
        "FLOWTUI_HOME": str(home),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    added = subprocess.run(
        [sys.executable, "-m", "cli", "add", "--workflow", "isolated", "--cwd", str(repo), PROMPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    job_id = int(added.stdout.strip())
    terminal = TmuxSession(flowtui_command(), env, cwd=repo)
    try:
        terminal.wait_for_text("± 1 to review (D / K / X)", timeout=90)  # the window's engine ran it
        assert "± review" in terminal.screen()
        job = ledger_job(home, job_id)
        assert job is not None and job.changes_to_review, job
        assert (repo / "notes.txt").read_text() == "start\n"  # it worked in its own worktree
        terminal.keys("D")
        terminal.wait_for_text("1 file changed (+1 -0)")
        screen = terminal.wait_for_text("+from claude")
        assert "notes.txt" in screen and "± changes to review" in screen
        terminal.keys("K")
        terminal.wait_for_text(f"kept #{job_id}: flowtui/job-{job_id} merged into main", timeout=30)
        kept = wait_for(
            lambda: (found := ledger_job(home, job_id)) and found.review == "kept" and found,
            timeout=30,
            what="the job to be kept",
        )
        assert kept.review == "kept"
        assert (repo / "notes.txt").read_text() == "start\nfrom claude\n"
        assert git(repo, "log", "-1", "--format=%s").strip() == (f"{PROMPT} (flowtui job #{job_id})")
        assert git(repo, "status", "--porcelain") == ""
        terminal.keys("Escape")
        screen = terminal.wait_for(
            lambda text: "Jobs (1)" in text and "to review" not in text.splitlines()[0],
            what="the Jobs pane without a job to review",
        )
        assert "± review" not in screen and "✓ succeeded" in screen
        terminal.keys("q")
        wait_for(lambda: not terminal.alive(), timeout=20, what="flowtui to quit")
    finally:
        terminal.close()
