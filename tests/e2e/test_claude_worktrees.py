"""Isolated jobs run by the real Claude Code CLI against the stand-in: Bash runs in the job's
worktree, a follow-up resumes the session there, and keep merges what both did."""

from __future__ import annotations

from pathlib import Path

import pytest
from enginekit import running_engine, wait_job
from gitkit import git

from core.jobs import JobState

pytestmark = pytest.mark.claude

CONFIG = """
[workflows.isolated]
isolation = "worktree"
allowed_tools = ["Bash"]
retries = 0
"""


def test_claude_works_in_the_worktree_and_a_follow_up_resumes_there(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "notes.txt").write_text("start\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    with running_engine(tmp_path / "home", CONFIG, environ=environ) as engine:
        job = engine.control.add(
            "Note it [[bash:pwd; echo claude >> notes.txt]]", workflow="isolated", cwd=repo
        )
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.answer == f"tool said: {done.worktree}"
        assert (repo / "notes.txt").read_text() == "start\n"
        assert (Path(done.worktree or "") / "notes.txt").read_text() == "start\nclaude\n"
        follow = engine.control.followup(job.id, "Once more [[bash:echo again >> notes.txt]]")
        followed = wait_job(engine, follow.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        assert followed.state is JobState.SUCCEEDED, followed.error
        assert followed.worktree == done.worktree and followed.session_id == done.session_id
        assert [change.to_dict() for change in engine.control.changes(follow.id).files] == [
            {"path": "notes.txt", "added": 1, "removed": 0}
        ]
        engine.control.keep(job.id, by="test")
    assert (repo / "notes.txt").read_text() == "start\nclaude\nagain\n"
    assert git(repo, "status", "--porcelain") == ""
