"""A job's changes with real git in temp repositories: worktrees per isolated job, the trees
recorded around each attempt, diff, keep (merged, or refused changing nothing) and discard."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import running_engine, wait_for, wait_job
from fakeclaude import READ_PROMPT, result_line, write_script
from gitkit import git

from core.changes.record import record_tree
from core.changes.worktree import open_worktree, remove_worktree
from core.claude.touched import touched_files
from core.errors import InputError
from core.jobs import JobState

ISOLATED = """
[engine]
workers = 2

[workflows.isolated]
isolation = "worktree"
retries = 0
"""


def make_repo(where: Path) -> Path:
    where.mkdir(parents=True)
    git(where, "init", "-q", "-b", "main")
    (where / "shared.txt").write_text("original\n")
    (where / "src").mkdir()
    (where / "src" / "app.py").write_text("print('hi')\n")
    git(where, "add", ".")
    git(where, "commit", "-q", "-m", "first")
    return where


def shell_claude(path: Path, sync_dir: Path | None = None, together: int = 1) -> Path:
    """A claude that runs its prompt as shell in its directory (a stand-in for Bash tool calls);
    with ``sync_dir``, it waits until ``together`` runs have started, so they overlap."""
    wait = ""
    if sync_dir is not None:
        sync_dir.mkdir(exist_ok=True)
        wait = (
            f'touch "{sync_dir}/$$"; n=0\n'
            f'while [ "$(ls "{sync_dir}" | wc -l)" -lt {together} ] && [ $n -lt 400 ]; do\n'
            "  sleep 0.05; n=$((n+1))\ndone\n"
            "[ $n -lt 400 ] || exit 3\n"
        )
    return write_script(
        path,
        READ_PROMPT + wait + f"sh -c \"$prompt\" >/dev/null 2>&1\necho '{result_line(result='done')}'\n",
    )


def env_with(claude: Path) -> dict[str, str]:
    return {**os.environ, "FLOWTUI_CLAUDE": str(claude)}


def worktree_paths(repo: Path) -> list[str]:
    return [
        line.removeprefix("worktree ")
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_two_isolated_jobs_at_once_each_in_its_own_worktree_then_keep_refuse_and_discard(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    claude = shell_claude(tmp_path / "claude", tmp_path / "sync", together=2)
    with running_engine(tmp_path / "home", ISOLATED, environ=env_with(claude)) as engine:
        first = engine.control.add(
            "printf 'first job\\n' > shared.txt\nsecond line", workflow="isolated", cwd=repo
        )
        second = engine.control.add("printf 'second job\\n' > shared.txt", workflow="isolated", cwd=repo)
        first = wait_job(engine, first.id, JobState.SUCCEEDED, JobState.FAILED)
        second = wait_job(engine, second.id, JobState.SUCCEEDED, JobState.FAILED)
        assert first.state is second.state is JobState.SUCCEEDED, (first.error, second.error)
        # each ran in its own worktree, at the same time, and the repository itself is untouched
        assert first.worktree != second.worktree
        assert (Path(first.worktree or "") / "shared.txt").read_text() == "first job\n"
        assert (Path(second.worktree or "") / "shared.txt").read_text() == "second job\n"
        assert (repo / "shared.txt").read_text() == "original\n"
        assert git(repo, "status", "--porcelain") == ""
        assert (first.branch, first.base_branch) == (f"flowtui/job-{first.id}", "main")
        assert first.base_commit == git(repo, "rev-parse", "HEAD").strip()
        assert first.changes_to_review and second.changes_to_review
        assert any("works in its own worktree" in event.reason for event in engine.ledger.events(first.id))

        changes = engine.control.changes(first.id)
        assert [change.to_dict() for change in changes.files] == [
            {"path": "shared.txt", "added": 1, "removed": 1}
        ]
        diff = engine.control.diff(first.id)
        assert "-original\n+first job\n" in diff and "--- a/shared.txt" in diff

        kept = engine.control.keep(first.id, by="test")
        assert kept.review == "kept" and not kept.changes_to_review
        assert (repo / "shared.txt").read_text() == "first job\n"
        assert (
            git(repo, "log", "-1", "--format=%s").strip()
            == f"printf 'first job\\n' > shared.txt (flowtui job #{first.id})"
        )
        assert git(repo, "status", "--porcelain") == ""
        assert engine.control.keep(first.id).review == "kept"  # again: nothing more happens
        assert git(repo, "rev-list", "--count", "HEAD").strip() == "2"

        branch_before = git(repo, "rev-parse", f"flowtui/job-{second.id}")
        head_before = git(repo, "rev-parse", "HEAD")
        with pytest.raises(InputError) as refused:
            engine.control.keep(second.id)
        message = str(refused.value)
        assert "\n" not in message and "shared.txt" in message and "conflict" in message
        # nothing changed on either side: no markers, the second job's change intact
        assert (repo / "shared.txt").read_text() == "first job\n"
        assert (Path(second.worktree or "") / "shared.txt").read_text() == "second job\n"
        assert git(repo, "status", "--porcelain") == "" and not (repo / ".git" / "MERGE_HEAD").exists()
        assert git(repo, "rev-parse", f"flowtui/job-{second.id}") == branch_before
        assert git(repo, "rev-parse", "HEAD") == head_before
        assert engine.ledger.require(second.id).changes_to_review

        discarded = engine.control.discard(second.id, by="test")
        assert discarded.review == "discarded" and not discarded.changes_to_review
        assert not Path(second.worktree or "").exists()
        assert str(second.worktree) not in worktree_paths(repo)
        assert git(repo, "branch", "--list", f"flowtui/job-{second.id}") == ""
        assert engine.control.discard(second.id).review == "discarded"  # again: nothing to do
        reasons = [event.reason for event in engine.ledger.events(second.id)]
        assert any(reason.startswith("discarded by test") for reason in reasons)
        assert any(
            reason.startswith("kept by test") for reason in (e.reason for e in engine.ledger.events(first.id))
        )


def test_isolation_outside_git_fails_before_claude_starts(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    started = tmp_path / "started"
    claude = write_script(tmp_path / "claude", f"touch {started}\necho '{result_line()}'\n")
    with running_engine(tmp_path / "home", ISOLATED, environ=env_with(claude)) as engine:
        job = engine.control.add("anything", workflow="isolated", cwd=plain)
        failed = wait_job(engine, job.id, JobState.FAILED, JobState.SUCCEEDED)
    assert failed.state is JobState.FAILED and not started.exists()
    assert failed.error is not None and "\n" not in failed.error
    assert 'isolation = "worktree" needs a git repository' in failed.error and str(plain) in failed.error


def test_a_plain_jobs_diff_counts_untracked_files_and_never_touches_the_index(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "staged.txt").write_text("staged by the user\n")
    git(repo, "add", "staged.txt")
    index_before = (repo / ".git" / "index").read_bytes()
    claude = shell_claude(tmp_path / "claude")
    with running_engine(tmp_path / "home", environ=env_with(claude)) as engine:
        job = engine.control.add(
            "printf 'new\\nfile\\n' > brand_new.py; printf 'more\\n' >> ../shared.txt", cwd=repo / "src"
        )
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.worktree is None and done.git_root == str(repo) and done.review is None
        assert done.tree_before and done.tree_after and done.tree_before != done.tree_after
        files = {
            change.path: (change.added, change.removed) for change in engine.control.changes(job.id).files
        }
        assert files == {"src/brand_new.py": (2, 0), "shared.txt": (1, 0)}
        assert "+++ b/src/brand_new.py" in engine.control.diff(job.id)
        assert any("2 files changed (+3 -0)" in event.reason for event in engine.ledger.events(job.id))
        with pytest.raises(InputError, match="no worktree of its own"):
            engine.control.keep(job.id)
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert sorted(git(repo, "status", "--porcelain").splitlines()) == [
        " M shared.txt",
        "?? src/brand_new.py",
        "A  staged.txt",
    ]


def test_a_follow_up_continues_in_the_same_worktree_and_keep_takes_both(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    claude = shell_claude(tmp_path / "claude")
    with running_engine(tmp_path / "home", ISOLATED, environ=env_with(claude)) as engine:
        first = engine.control.add("printf 'one\\n' > one.txt", workflow="isolated", cwd=repo / "src")
        first = wait_job(engine, first.id, JobState.SUCCEEDED, JobState.FAILED)
        assert first.state is JobState.SUCCEEDED, first.error
        assert first.run_directory == str(Path(first.worktree or "") / "src")
        assert (Path(first.worktree or "") / "src" / "one.txt").read_text() == "one\n"
        follow = engine.control.followup(first.id, "printf 'two\\n' > two.txt")
        follow = wait_job(engine, follow.id, JobState.SUCCEEDED, JobState.FAILED)
        assert follow.state is JobState.SUCCEEDED, follow.error
        assert (follow.worktree, follow.branch) == (first.worktree, first.branch)
        assert (Path(first.worktree or "") / "src" / "two.txt").read_text() == "two\n"
        # the follow-up's own diff is its own change; keeping it keeps the worktree's whole work
        assert [change.path for change in engine.control.changes(follow.id).files] == ["src/two.txt"]
        with pytest.raises(InputError):
            engine.control.followup(first.id, "")
        engine.control.keep(follow.id, by="test")
        assert (repo / "src" / "one.txt").read_text() == "one\n" and (
            repo / "src" / "two.txt"
        ).read_text() == "two\n"
        assert engine.ledger.require(first.id).review == engine.ledger.require(follow.id).review == "kept"
        engine.control.discard(first.id)
        assert not Path(first.worktree or "").exists()
        with pytest.raises(InputError, match=r"discarded|gone"):
            engine.control.followup(first.id, "more")


def test_the_cli_prints_diff_stat_json_changes_keep_and_discard(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    claude = shell_claude(tmp_path / "claude")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(ISOLATED)
    flowtui = Flowtui(home, claude)
    with running_engine(home, ISOLATED, environ=env_with(claude)) as engine:
        job = engine.control.add(
            "printf 'changed\\n' > shared.txt; printf 'x\\n' > added.txt", workflow="isolated", cwd=repo
        )
        wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        stat = flowtui.ok("diff", str(job.id), "--stat")
        assert "+1 -1  shared.txt" in stat and "+1 -0  added.txt" in stat and "2 files changed, +2 -1" in stat
        assert "+changed" in flowtui.ok("diff", str(job.id))
        shown = json.loads(flowtui.ok("show", str(job.id), "--json"))
        assert shown["changes"] == [
            {"path": "added.txt", "added": 1, "removed": 0},
            {"path": "shared.txt", "added": 1, "removed": 1},
        ]
        assert shown["changes_to_review"] is True and shown["worktree"] and shown["base_branch"] == "main"
        listed = json.loads(flowtui.ok("jobs", "--json"))
        assert listed[0]["changes_to_review"] is True
        assert "changes to review" in flowtui.ok("show", str(job.id))
        (repo / "shared.txt").write_text("edited by the user meanwhile\n")
        refused = flowtui.run("keep", str(job.id))
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
        assert "uncommitted changes in shared.txt" in refused.stderr
        assert (repo / "shared.txt").read_text() == "edited by the user meanwhile\n"
        git(repo, "checkout", "--", "shared.txt")
        assert flowtui.ok("keep", str(job.id)).startswith(f"kept #{job.id}")
        assert (repo / "added.txt").read_text() == "x\n"
        assert json.loads(flowtui.ok("show", str(job.id), "--json"))["changes_to_review"] is False
        assert flowtui.ok("discard", str(job.id)).startswith(f"discarded #{job.id}")
        assert worktree_paths(repo) == [str(repo)]


def test_a_run_killed_mid_way_runs_again_in_the_same_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    runs = tmp_path / "runs"
    # The first run writes, says it is busy, and hangs; the run after the crash finishes.
    claude = write_script(
        tmp_path / "claude",
        f'echo run >> "{runs}"\n'
        f'if [ "$(wc -l < "{runs}")" -eq 1 ]; then\n'
        "  printf 'first run\\n' > work.txt\n"
        '  echo \'{"type":"system","subtype":"init","session_id":"s1"}\'\n'
        "  sleep 300\n"
        "fi\n"
        "printf 'second run\\n' >> work.txt\n"
        f"echo '{result_line(result='done')}'\n",
    )
    config = ISOLATED.replace("retries = 0", "retries = 1")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(config)
    flowtui = Flowtui(home, claude)
    serving = flowtui.serve()
    try:
        job_id = int(flowtui.ok("add", "work", "--workflow", "isolated", "--cwd", str(repo)))
        worktree = home / "worktrees" / f"job-{job_id}"
        wait_for(lambda: (worktree / "work.txt").exists(), what="the first run to write")
    finally:
        serving.kill()  # kill -9: no clean stop, the job is left running
        serving.wait(timeout=10)
    with running_engine(home, config, environ=env_with(claude)) as engine:
        done = wait_job(engine, job_id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.attempts == 2 and done.worktree == str(worktree)
        assert (worktree / "work.txt").read_text() == "first run\nsecond run\n"
        assert [change.path for change in engine.control.changes(job_id).files] == ["work.txt"]
        assert "+first run\n+second run\n" in engine.control.diff(job_id)
    assert worktree_paths(repo) == [str(repo), str(worktree)]
    assert git(repo, "status", "--porcelain") == ""


def test_a_worktree_whose_folder_went_is_made_again_from_its_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    head = git(repo, "rev-parse", "HEAD").strip()
    path = tmp_path / "data" / "job-7"
    open_worktree(repo, path, "flowtui/job-7", head)
    open_worktree(repo, path, "flowtui/job-7", head)  # found again: nothing to do
    (path / "kept.txt").write_text("committed on the branch\n")
    git(path, "add", "kept.txt")
    git(path, "commit", "-q", "-m", "on the branch")
    shutil.rmtree(path)
    open_worktree(repo, path, "flowtui/job-7", head)
    assert (path / "kept.txt").read_text() == "committed on the branch\n"
    assert remove_worktree(repo, path, "flowtui/job-7") and not remove_worktree(repo, path, "flowtui/job-7")
    assert git(repo, "branch", "--list", "flowtui/*") == "" and not path.exists()


def test_outside_git_the_changes_are_the_files_edits_named(tmp_path: Path) -> None:
    transcript = tmp_path / "job-1-attempt-1.jsonl"

    def call(name: str, **tool_input: object) -> str:
        block = {"type": "tool_use", "id": name, "name": name, "input": tool_input}
        return json.dumps({"type": "assistant", "message": {"content": [block]}})

    transcript.write_text(
        "\n".join(
            [
                call("Write", file_path="/x/new.py", content="a"),
                call("Bash", command="rm -rf /x/gone"),
                call("Edit", file_path="/x/old.py", old_string="a", new_string="b"),
                call("MultiEdit", file_path="/x/new.py", edits=[]),
                "not json",
            ]
        )
        + "\n"
    )
    assert touched_files([transcript, tmp_path / "missing.jsonl"]) == ["/x/new.py", "/x/old.py"]


def refs(repo: Path, job_id: int) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", f"refs/flowtui/job-{job_id}/")
    return {
        ref.rpartition("/")[2]: tree for ref, _, tree in (line.partition(" ") for line in lines.splitlines())
    }


def test_recorded_trees_are_referenced_so_gc_keeps_them_and_keep_or_discard_drops_the_refs(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    claude = shell_claude(tmp_path / "claude")
    with running_engine(tmp_path / "home", ISOLATED, environ=env_with(claude)) as engine:
        plain = engine.control.add("printf 'only in the tree\\n' > untracked.txt", cwd=repo)
        kept = engine.control.add("printf 'kept\\n' > kept.txt", workflow="isolated", cwd=repo)
        dropped = engine.control.add("printf 'dropped\\n' > dropped.txt", workflow="isolated", cwd=repo)
        jobs = [
            wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED) for job in (plain, kept, dropped)
        ]
        assert all(job.state is JobState.SUCCEEDED for job in jobs), [job.error for job in jobs]
        for job in jobs:
            assert refs(repo, job.id) == {"before": job.tree_before, "after": job.tree_after}
        # a worktree checked out for the job starts as its branch's tree, taken without reading it back
        assert jobs[1].tree_before == jobs[2].tree_before == git(repo, "rev-parse", "HEAD^{tree}").strip()
        diff = engine.control.diff(plain.id)
        # the untracked file's content lives only in the recorded tree: gc would prune it unreferenced
        (repo / "untracked.txt").unlink()
        git(repo, "gc", "-q", "--prune=now")
        assert engine.control.diff(plain.id) == diff and "+only in the tree" in diff

        engine.control.keep(kept.id, by="test")
        assert refs(repo, kept.id) == {}  # both trees are in the history now
        engine.control.discard(dropped.id, by="test")
        assert refs(repo, dropped.id) == {}
        assert refs(repo, plain.id) == {"before": jobs[0].tree_before, "after": jobs[0].tree_after}


def test_a_crash_part_way_through_worktree_add_is_repaired_on_the_retry(tmp_path: Path) -> None:
    """A real `git worktree add` killed (SIGKILL, its whole process group) in the middle of its
    checkout: a smudge filter announces itself, then blocks, so the kill lands mid-checkout."""
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitattributes").write_text("*.txt filter=slow\n")
    for number in range(20):
        (repo / f"file{number:02}.txt").write_text(f"content {number}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "many files")
    head = git(repo, "rev-parse", "HEAD").strip()
    marker = tmp_path / "checkout-started"
    filter_script = tmp_path / "slow-smudge"
    filter_script.write_text(f'#!/bin/sh\n[ -e "{marker}" ] || {{ touch "{marker}"; sleep 60; }}\nexec cat\n')
    filter_script.chmod(0o755)
    git(repo, "config", "filter.slow.smudge", str(filter_script))
    path = tmp_path / "data" / "job-7"
    path.parent.mkdir(parents=True)
    adding = subprocess.Popen(
        ["git", "-C", str(repo), "worktree", "add", "--quiet", "-b", "flowtui/job-7", str(path), head],
        env={**os.environ, "LC_ALL": "C"},
        start_new_session=True,
    )
    try:
        wait_for(marker.exists, what="the checkout to start")
    finally:
        os.killpg(adding.pid, signal.SIGKILL)
        adding.wait()
    assert "locked initializing" in git(repo, "worktree", "list", "--porcelain")  # registered, unfinished
    assert not (path / "file19.txt").exists()

    opened = open_worktree(repo, path, "flowtui/job-7", head)
    assert opened.made and opened.repaired is not None
    assert "cut `git worktree add` short" in opened.repaired
    assert "locked" not in git(repo, "worktree", "list", "--porcelain")
    assert all((path / f"file{n:02}.txt").read_text() == f"content {n}\n" for n in range(20))
    assert git(path, "status", "--porcelain") == ""
    assert record_tree(path) == git(repo, "rev-parse", "HEAD^{tree}").strip()
    again = open_worktree(repo, path, "flowtui/job-7", head)  # healthy now: found as it is
    assert (again.made, again.repaired) == (False, None)


def test_a_folder_left_where_the_worktree_goes_is_moved_aside_never_deleted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    head = git(repo, "rev-parse", "HEAD").strip()
    path = tmp_path / "data" / "job-8"
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("someone's file\n")
    repaired = open_worktree(repo, path, "flowtui/job-8", head).repaired
    assert repaired is not None and "moved to job-8.leftover-1" in repaired
    assert (path.parent / "job-8.leftover-1" / "notes.txt").read_text() == "someone's file\n"
    assert (path / "shared.txt").read_text() == "original\n" and not (path / "notes.txt").exists()
    assert str(path) in worktree_paths(repo)
