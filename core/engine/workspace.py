"""Where an attempt runs in git, and what it changed.

A job of an ``isolation = "worktree"`` workflow gets its own worktree on ``flowtui/job-ID`` from
the repository's ``HEAD`` (its retries and follow-ups, and a run after a crash, find it again);
any job in a repository has its working tree recorded before and after each attempt, so every
job has a diff. Recording never fails a run: a git that cannot record is a history line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core.changes.git import GitError, repo_state, rev_parse
from core.changes.record import changed_files, describe_changes, pin_trees, record_tree
from core.changes.worktree import Opened, branch_for, open_worktree
from core.config.settings import WorkflowSettings
from core.jobs import Job, Workspace
from core.ledger.store import LedgerStore
from core.paths import Paths

log = logging.getLogger(__name__)


class WorkspaceFailed(Exception):
    """The job cannot run where its workflow asks (isolation outside git): one line why."""


def prepare_workspace(
    job: Job, workflow: WorkflowSettings, paths: Paths, ledger: LedgerStore, host: str | None = None
) -> Job:
    """The job with its place in git recorded (its worktree made or found again), before Claude
    starts, on the machine named ``host``; a job outside git, not isolated, is returned as it is."""
    return _prepare(job, workflow, paths, ledger, host)[0]


def start_recording(
    job: Job, workflow: WorkflowSettings, paths: Paths, ledger: LedgerStore, host: str | None = None
) -> tuple[Job, str | None]:
    """:func:`prepare_workspace`, then :func:`record_before`: the job, and the tree its diff
    starts from. A worktree checked out just now holds exactly its branch's tree, so that tree
    is taken as it is instead of reading 10,000 files back."""
    job, fresh_tree = _prepare(job, workflow, paths, ledger, host)
    return job, record_before(job, ledger, fresh_tree)


def _prepare(
    job: Job, workflow: WorkflowSettings, paths: Paths, ledger: LedgerStore, host: str | None
) -> tuple[Job, str | None]:
    """The job, and its worktree's tree when the worktree was checked out just now."""
    known = job.workspace
    if known is not None and known.isolated:
        return job, _reopen(job, known, ledger)
    if known is not None:
        return job, None
    if workflow.isolation == "worktree":
        return _isolate(job, paths, ledger, host)
    try:
        repo = repo_state(job.cwd)
    except GitError as error:
        log.warning("job #%s: cannot tell whether %s is in git: %s", job.id, job.cwd, error)
        return job, None
    if repo is None:
        return job, None
    workspace = Workspace(str(repo.root), base_branch=repo.branch, base_commit=repo.head, host=host)
    return ledger.set_workspace(job.id, workspace, None), None


def _isolate(job: Job, paths: Paths, ledger: LedgerStore, host: str | None) -> tuple[Job, str | None]:
    try:
        repo = repo_state(job.cwd)
    except GitError as error:
        raise WorkspaceFailed(f'isolation = "worktree" needs git: {error}') from None
    if repo is None:
        raise WorkspaceFailed(
            f'isolation = "worktree" needs a git repository, and {job.cwd} is not in one: '
            "run the job in a repository, or with a workflow without isolation"
        )
    if repo.head is None:
        raise WorkspaceFailed(
            f"{repo.root} has no commit yet: commit once so the job's worktree can branch from it"
        )
    path = paths.worktree_for(job.id)
    branch = branch_for(job.id)
    try:
        opened = open_worktree(repo.root, path, branch, repo.head)
        fresh_tree = _fresh_tree(job, repo.root, branch, opened)
    except (GitError, OSError) as error:
        raise WorkspaceFailed(f"cannot make the job's worktree: {error}") from None
    if opened.repaired:
        ledger.note(job.id, opened.repaired)
    workspace = Workspace(str(repo.root), str(path), branch, repo.branch, repo.head, host)
    job = ledger.set_workspace(
        job.id,
        workspace,
        f"works in its own worktree {path} on {branch}, "
        f"from {repo.branch or 'a detached HEAD'} at {repo.head[:12]}"
        + (f", on machine {host}" if host else ""),
    )
    _make_run_directory(job)
    return job, fresh_tree


def _reopen(job: Job, workspace: Workspace, ledger: LedgerStore) -> str | None:
    """An earlier attempt's (or the parent job's) worktree, made again when only its branch is left."""
    if workspace.worktree is None or workspace.branch is None or workspace.base_commit is None:
        raise WorkspaceFailed(f"job #{job.id}'s worktree record is incomplete: add the job again")
    try:
        opened = open_worktree(
            workspace.git_root, Path(workspace.worktree), workspace.branch, workspace.base_commit
        )
        fresh_tree = _fresh_tree(job, workspace.git_root, workspace.branch, opened)
    except (GitError, OSError) as error:
        raise WorkspaceFailed(f"cannot open the job's worktree again: {error}") from None
    if opened.repaired:
        ledger.note(job.id, opened.repaired)
    _make_run_directory(job)
    return fresh_tree


def _fresh_tree(job: Job, root: Path | str, branch: str, opened: Opened) -> str | None:
    """The tree of a worktree checked out just now, for a job with no tree recorded yet."""
    if not opened.made or job.tree_before is not None:
        return None
    return rev_parse(root, f"refs/heads/{branch}^{{tree}}")


def _make_run_directory(job: Job) -> None:
    """A directory git does not track (empty, or ignored) is not in a new worktree: make it."""
    try:
        os.makedirs(job.run_directory, exist_ok=True)
    except OSError as error:
        raise WorkspaceFailed(
            f"cannot make {job.run_directory} in the job's worktree: {error.strerror}"
        ) from None


def record_before(job: Job, ledger: LedgerStore, known_tree: str | None = None) -> str | None:
    """The working tree before this attempt (``known_tree`` when the caller knows it already);
    returns the job's first recorded tree (the diff's base). Its ref is made with the after
    tree's, in one git call."""
    workspace = job.workspace
    if workspace is None:
        return None
    try:
        tree = known_tree or record_tree(workspace.recorded_root)
    except (GitError, OSError) as error:
        ledger.note(job.id, f"cannot record the working tree before attempt {job.attempts}: {error}")
        return job.tree_before
    ledger.record_trees(job.id, tree, None, None)
    return job.tree_before or tree


def record_after(job: Job, before: str | None, ledger: LedgerStore) -> None:
    """The working tree after this attempt, with a history line saying what changed so far."""
    workspace = job.workspace
    if workspace is None or before is None:
        return
    root = workspace.recorded_root
    try:
        tree = record_tree(root)
        summary = describe_changes(changed_files(root, before, tree))
    except (GitError, OSError) as error:
        ledger.note(job.id, f"cannot record the working tree after attempt {job.attempts}: {error}")
        return
    ledger.record_trees(job.id, None, tree, f"after attempt {job.attempts}: {summary}")
    try:  # refs to both trees, so `git gc` never prunes what the job's diff compares
        pin_trees(workspace.git_root, job.id, {"before": before, "after": tree})
    except (GitError, OSError) as error:
        ledger.note(job.id, f"cannot keep the recorded trees from git gc: {error}")
