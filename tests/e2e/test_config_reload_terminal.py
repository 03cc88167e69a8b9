"""End to end in a real terminal: config.toml edited while `flowtui` runs. A broken edit is named in
the header and by the CLI alike; a workflow added then is accepted by `flowtui add -w` and its job,
run by the window's engine with the real Claude CLI (via the stand-in), succeeds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import Job, JobState
from core.ledger.sqlite import Ledger

pytestmark = pytest.mark.claude


@pytest.fixture
def env(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> dict[str, str]:
    return {
        **claude_env,
        "FLOWTUI_HOME": str(tmp_path / "home"),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }


@pytest.fixture
def terminal(tmp_path: Path, env: dict[str, str]) -> Iterator[TmuxSession]:
    session = TmuxSession(flowtui_command(), env, cwd=tmp_path, size=(200, 36))
    yield session
    session.close()


def job(tmp_path: Path, job_id: int) -> Job | None:
    ledger = Ledger(tmp_path / "home" / "ledger.db")
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def test_a_workflow_added_while_the_window_runs_takes_jobs_from_the_cli(
    terminal: TmuxSession, tmp_path: Path, env: dict[str, str], claude_bin: str
) -> None:
    terminal.wait_for_text("engine (pid")
    terminal.wait_for_text("▶ running")
    config = tmp_path / "home" / "config.toml"
    flowtui = Flowtui(tmp_path / "home", claude_bin, env)

    config.write_text("[workflows.review\n")  # an edit gone wrong
    header = terminal.wait_for_text("config error:", timeout=20)
    refused = flowtui.run("add", "-w", "review", "look", "--cwd", str(tmp_path))
    assert refused.returncode != 0
    cli_line = refused.stderr.strip().removeprefix("flowtui: ")
    assert "invalid TOML" in cli_line
    assert f"config error: {cli_line[:80]}" in header  # the same line, as far as the header is wide

    config.write_text('[workflows.review]\nprompt = "Review this: {prompt}"\nretries = 0\n')
    terminal.wait_for(lambda screen: "config error:" not in screen, timeout=20, what="the error to clear")
    added = flowtui.ok("add", "-w", "review", "[[reply:reviewed in the terminal]]", "--cwd", str(tmp_path))
    job_id = int(added.strip())
    done = wait_for(
        lambda: (found := job(tmp_path, job_id)) is not None and found.state.is_final and found,
        timeout=60,
        what="the review job to end",
    )
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.workflow == "review" and done.answer == "reviewed in the terminal"
    terminal.wait_for_text("✓ succeeded", timeout=30)
    terminal.keys("q")
    wait_for(lambda: not terminal.alive(), timeout=20, what="flowtui to quit")
