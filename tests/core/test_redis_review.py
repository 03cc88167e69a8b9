"""Keep and discard across machines on one Redis: a job's worktree lives on the machine that ran
it, so the door on another machine has that machine's engine do it, or refuses naming it.

Two real engines on a real redis-server, each with a FLOWTUI_HOME of its own and a machine name
of its own (``FLOWTUI_MACHINE``, as two hosts would have different host names); real git in a
temp repository; a claude stand-in that runs its prompt as shell in its directory. The idle sweep
is set far beyond every wait, so a pass means the change channel carried each request.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from enginekit import running_engine, wait_for, wait_job
from fakeclaude import READ_PROMPT, result_line, write_script
from gitkit import git

from core.engine import outcomes
from core.engine.engine import Engine
from core.errors import InputError
from core.jobs import Job, JobState

CONFIG = """
[engine]
idle_sweep_seconds = 3600

[queue]
review_answer_seconds = 1

[workflows.isolated]
isolation = "worktree"
retries = 0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    where = tmp_path / "repo"
    where.mkdir()
    git(where, "init", "-q", "-b", "main")
    (where / "shared.txt").write_text("original\n")
    git(where, "add", ".")
    git(where, "commit", "-q", "-m", "first")
    return where


@pytest.fixture
def environ(tmp_path: Path, redis_url: str) -> dict[str, str]:
    claude = write_script(
        tmp_path / "claude",
        READ_PROMPT + f"sh -c \"$prompt\" >/dev/null 2>&1\necho '{result_line(result='done')}'\n",
    )
    return {**os.environ, "FLOWTUI_CLAUDE": str(claude), "FLOWTUI_QUEUE_URL": redis_url}


@contextmanager
def machine(tmp_path: Path, name: str, environ: dict[str, str]) -> Iterator[Engine]:
    with running_engine(tmp_path / name, CONFIG, {**environ, "FLOWTUI_MACHINE": name}) as engine:
        yield engine


def ran_on_alpha(alpha: Engine, repo: Path, prompt: str) -> int:
    job = alpha.control.add(prompt, workflow="isolated", cwd=repo)
    done = wait_job(alpha, job.id, JobState.SUCCEEDED, JobState.FAILED)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.git_host == "alpha" and done.changes_to_review
    return job.id


def test_keep_asked_on_another_machine_is_done_by_the_machine_with_the_worktree(
    tmp_path: Path, repo: Path, environ: dict[str, str]
) -> None:
    with machine(tmp_path, "alpha", environ) as alpha:
        job_id = ran_on_alpha(alpha, repo, "printf 'from alpha\\n' > shared.txt")
        second = ran_on_alpha(alpha, repo, "printf 'second\\n' > shared.txt")  # from the same base
        with machine(tmp_path, "beta", environ) as beta:
            kept = beta.control.keep(job_id, by="bob")
            assert kept.review == "kept"
            assert (repo / "shared.txt").read_text() == "from alpha\n"
            assert git(repo, "log", "-1", "--format=%s").strip().endswith(f"(flowtui job #{job_id})")
            reasons = [event.reason for event in beta.ledger.events(job_id)]
            assert any(reason.startswith("kept by bob (from machine beta): ") for reason in reasons)
            assert any(reason.endswith(", on machine alpha") for reason in reasons)
            assert beta.control.keep(job_id).review == "kept"  # again: nothing to carry

            # a refusal on alpha comes back to beta as alpha's own line, changing nothing
            refusal = f"job #{second} not kept: keeping would conflict in shared.txt"
            with pytest.raises(InputError, match=refusal):
                beta.control.keep(second, by="bob")
            assert beta.ledger.require(second).review == "pending"

            discarded = beta.control.discard(second, by="bob")
            assert discarded.review == "discarded"
            assert not Path(discarded.worktree or "").exists()
            assert git(repo, "branch", "--list", f"flowtui/job-{second}") == ""
            assert beta.control.discard(second).review == "discarded"


def test_with_no_engine_on_the_worktree_s_machine_keep_is_refused_naming_it_and_never_runs_later(
    tmp_path: Path, repo: Path, environ: dict[str, str]
) -> None:
    with machine(tmp_path, "alpha", environ) as alpha:
        job_id = ran_on_alpha(alpha, repo, "printf 'from alpha\\n' > shared.txt")
    with machine(tmp_path, "beta", environ) as beta:
        for verb in ("keep", "discard"):
            with pytest.raises(InputError) as refused:
                getattr(beta.control, verb)(job_id, by="bob")
            assert str(refused.value) == (
                f"job #{job_id}'s worktree is on machine alpha, and no flowtui engine there answered: "
                f"start flowtui there, or run `flowtui {verb} {job_id}` there"
            )
        assert beta.ledger.require(job_id).review == "pending"
    # alpha back: the requests it missed were taken back, so nothing happens behind anyone's back
    with machine(tmp_path, "alpha", environ) as alpha:
        alpha.on_shared_change()
        assert alpha.control.serve_review_requests() == 0
        assert alpha.ledger.require(job_id).review == "pending"
        assert Path(alpha.ledger.require(job_id).worktree or "").is_dir()
        assert (repo / "shared.txt").read_text() == "original\n"
        assert alpha.control.keep(job_id).review == "kept"  # on its own machine: done at once


def test_a_retry_of_an_isolated_job_runs_only_on_the_machine_that_holds_its_worktree(
    tmp_path: Path, repo: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcomes, "PINNED_RETRY_SECONDS", 0.2)
    with machine(tmp_path, "alpha", environ) as alpha:
        job_id = ran_on_alpha(alpha, repo, "printf 'from alpha\\n' >> shared.txt")
    waits = "waits for machine alpha, which holds its worktree"
    with machine(tmp_path, "beta", environ) as beta:
        retry = beta.control.retry(job_id)
        assert retry.git_host == "alpha" and retry.worktree
        parts = beta._started_parts
        assert parts is not None
        held = parts.outcomes.held_elsewhere
        offers: list[int] = []

        def counted(job: int, host: str) -> bool:
            answer = held(job, host)
            offers.append(job)
            return answer

        parts.outcomes.held_elsewhere = counted  # type: ignore[method-assign]
        claim = parts.ledger.claim
        claimed_on_beta: list[int] = []

        def recorded_claim(job: int, *args: Any, **kwargs: Any) -> Job | None:
            taken = claim(job, *args, **kwargs)
            if taken is not None:
                claimed_on_beta.append(job)
            return taken

        parts.ledger.claim = recorded_claim  # type: ignore[method-assign]
        wait_for(lambda: offers.count(retry.id) >= 3, what="beta taking the retry three times")
        waiting = beta.ledger.require(retry.id)
        assert waiting.state is JobState.QUEUED and waiting.attempts == 0
        assert [event.reason for event in beta.ledger.events(retry.id)].count(waits) == 1
        # alpha back, beta still running: alpha runs it, in its worktree
        with machine(tmp_path, "alpha", environ) as alpha:
            done = wait_job(alpha, retry.id, JobState.SUCCEEDED, JobState.FAILED)
            assert done.state is JobState.SUCCEEDED and done.attempts == 1
            assert retry.id not in claimed_on_beta
            worktree_file = Path(done.worktree or "") / "shared.txt"
            assert worktree_file.read_text() == "original\nfrom alpha\nfrom alpha\n"
