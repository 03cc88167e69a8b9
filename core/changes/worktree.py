"""A job's own worktree: made on a new branch from the repository's ``HEAD``, found again after
a crash, its changes kept (committed on the branch and merged) or discarded (worktree and
branch removed). Keeping checks first and changes nothing on either side when it would not
merge cleanly, or when the repository has uncommitted changes in the same files.

A crash part-way through ``git worktree add`` leaves the worktree registered and locked
"initializing" (git removes that lock only once the checkout is complete), with a partial
checkout: nothing of the job ran there yet, so the retry removes it and makes it again. A
folder left at the worktree's place that git does not know is moved aside, never deleted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.changes.git import GitError, git_text, identity_env, rev_parse, run_git, split_z
from core.changes.record import record_tree

BRANCH_PREFIX = "flowtui/job-"
INITIALIZING = "initializing"
"""The lock reason ``git worktree add`` writes until its checkout is complete (in the C locale,
which flowtui runs it in)."""


class KeepRefused(Exception):
    """Keeping would conflict or overwrite the user's work; one line naming the files."""


def branch_for(job_id: int) -> str:
    return f"{BRANCH_PREFIX}{job_id}"


def worktrees(root: Path | str) -> dict[Path, str | None]:
    """The repository's worktrees: path -> the branch checked out there (None: detached)."""
    return {path: branch for path, (branch, _) in _listing(root).items()}


def _listing(root: Path | str) -> dict[Path, tuple[str | None, str | None]]:
    """path -> (its branch, its lock reason: None when unlocked, "" when locked without one)."""
    output = run_git(root, ["worktree", "list", "--porcelain", "-z"]).stdout
    found: dict[Path, tuple[str | None, str | None]] = {}
    current: Path | None = None
    for field in split_z(output):
        if field.startswith("worktree "):
            current = _real(field.removeprefix("worktree "))
            found[current] = (None, None)
        elif current is None:
            continue
        elif field.startswith("branch "):
            found[current] = (field.removeprefix("branch refs/heads/"), found[current][1])
        elif field == "locked" or field.startswith("locked "):
            found[current] = (found[current][0], field.removeprefix("locked").strip())
    return found


@dataclass(frozen=True)
class Opened:
    """What :func:`open_worktree` did."""

    made: bool
    """The worktree was checked out now: it holds exactly its branch's tree."""
    repaired: str | None = None
    """What a crash had left and was repaired on the way (a history line)."""


def open_worktree(root: Path | str, path: Path, branch: str, base_commit: str) -> Opened:
    """Make ``path`` a worktree of the repository at ``root`` on a new ``branch`` from
    ``base_commit``, or find the one an earlier run (interrupted, even by a crash) made."""
    path = _real(path)
    listed = _listing(root)
    if path in listed and not (path / ".git").exists():
        run_git(root, ["worktree", "prune"])  # its folder went (or a crash cut `worktree add` short)
        listed = _listing(root)
    repaired = None
    if path in listed and listed[path][1] == INITIALIZING:
        _remove_unfinished(root, path)
        listed = _listing(root)
        repaired = f"a crash had cut `git worktree add` short at {path}: made it again"
    if path in listed:
        on = listed[path][0]
        if on != branch:
            raise GitError(f"{path} is a worktree on {on or 'a detached HEAD'}, not on {branch}")
        return Opened(made=False, repaired=repaired)
    elsewhere = [where for where, (on, _) in listed.items() if on == branch]
    if elsewhere and not all((where / ".git").exists() for where in elsewhere):
        run_git(root, ["worktree", "prune"])  # a registration whose folder went
        elsewhere = [where for where, (on, _) in _listing(root).items() if on == branch]
    if elsewhere:
        raise GitError(f"branch {branch} is checked out in another worktree, {elsewhere[0]}")
    if path.exists():
        if any(path.iterdir()):
            aside = _move_aside(path)
            repaired = f"{path} was left there, unknown to git: moved to {aside.name}, worktree made again"
        else:
            path.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The C locale, so the lock reason of an add cut short reads "initializing" whatever the user's.
    c_locale = {"LC_ALL": "C"}
    if rev_parse(root, f"refs/heads/{branch}") is not None:
        run_git(root, ["worktree", "add", "--quiet", str(path), branch], env=c_locale)
    else:
        run_git(root, ["worktree", "add", "--quiet", "-b", branch, str(path), base_commit], env=c_locale)
    return Opened(made=True, repaired=repaired)


def _remove_unfinished(root: Path | str, path: Path) -> None:
    """A worktree whose ``git worktree add`` never finished: its checkout is partial and no
    job ran there yet (flowtui starts Claude only after the add), so it goes whole."""
    run_git(root, ["worktree", "unlock", str(path)], ok_codes=(0, 128))
    if path.exists():
        shutil.rmtree(path)
    run_git(root, ["worktree", "prune"])


def _move_aside(path: Path) -> Path:
    """A folder at the worktree's place that git does not know: kept, under a new name."""
    for number in range(1, 1000):
        aside = path.with_name(f"{path.name}.leftover-{number}")
        if not aside.exists():
            path.rename(aside)
            return aside
    raise GitError(f"{path} exists and is not a worktree: move it away")


def remove_worktree(root: Path | str, path: Path, branch: str) -> bool:
    """Remove the worktree and its branch, whatever is left of them; False when both were gone."""
    removed = False
    path = _real(path)
    if path in worktrees(root):
        run_git(root, ["worktree", "remove", "--force", "--force", str(path)])
        removed = True
    elif path.exists():
        shutil.rmtree(path)  # flowtui's own folder, never registered with git
        removed = True
    run_git(root, ["worktree", "prune"])
    if rev_parse(root, f"refs/heads/{branch}") is not None:
        run_git(root, ["branch", "-D", "--quiet", branch])
        removed = True
    return removed


@dataclass(frozen=True)
class Kept:
    """What ``keep`` did: the branch's commit, and the base branch's head after the merge."""

    commit: str
    merged_head: str
    already: bool
    """The branch was merged before (keep asked again): nothing was done."""


def keep_worktree(root: Path | str, path: Path, branch: str, base_branch: str | None, message: str) -> Kept:
    """Commit the worktree's changes on ``branch`` and merge it into ``base_branch`` in the
    repository at ``root`` (which must have it checked out). Refuses (:class:`KeepRefused`)
    before changing anything when the merge would conflict or the repository has uncommitted
    changes in the files it would change."""
    if base_branch is None:
        raise KeepRefused(
            f"the repository had no branch checked out when the job started: merge {branch} by hand"
        )
    checked_out = run_git(root, ["symbolic-ref", "-q", "--short", "HEAD"], ok_codes=(0, 1)).stdout
    if checked_out.decode("utf-8", "surrogateescape").strip() != base_branch:
        raise KeepRefused(f"{root} no longer has {base_branch} checked out: check it out, then keep again")
    branch_head = rev_parse(root, f"refs/heads/{branch}")
    if branch_head is None:
        raise GitError(f"branch {branch} is gone from {root}: nothing left to keep")
    identity = identity_env(root)
    commit = branch_head
    if path.is_dir():
        tree = record_tree(path)
        if tree != rev_parse(root, f"{branch_head}^{{tree}}"):
            # An object only, until the checks pass: no ref moves before then.
            commit = git_text(root, ["commit-tree", tree, "-p", branch_head, "-m", message], env=identity)
    base_head = git_text(root, ["rev-parse", "HEAD"])
    if commit == branch_head and _is_ancestor(root, commit, base_head):
        return Kept(commit=commit, merged_head=base_head, already=True)
    merged_tree = _check_merge(root, base_head, commit)
    _check_uncommitted(root, base_head, merged_tree)
    if commit != branch_head:
        run_git(root, ["update-ref", "-m", "flowtui keep", f"refs/heads/{branch}", commit, branch_head])
        if path.is_dir():
            run_git(path, ["reset", "--quiet"])  # the worktree's index matches its new commit
    merge = run_git(
        root,
        ["merge", "--quiet", "--no-edit", "-m", message, branch],
        env=identity,
        ok_codes=(0, 1, 2, 128),
    )
    if merge.returncode != 0:
        if rev_parse(root, "MERGE_HEAD") is not None:
            run_git(root, ["merge", "--abort"])
        raise GitError(f"git merge failed in {root}: {merge.stderr.decode('utf-8', 'replace').strip()}")
    return Kept(commit=commit, merged_head=git_text(root, ["rev-parse", "HEAD"]), already=False)


def _is_ancestor(root: Path | str, commit: str, of: str) -> bool:
    return run_git(root, ["merge-base", "--is-ancestor", commit, of], ok_codes=(0, 1)).returncode == 0


def _check_merge(root: Path | str, base_head: str, commit: str) -> str:
    """The tree the merge would make (git's in-memory merge), or KeepRefused naming the files."""
    result = run_git(
        root,
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", base_head, commit],
        ok_codes=(0, 1, 129),
    )
    if result.returncode == 129:  # usage error: a git older than 2.38 has no --write-tree
        raise KeepRefused(
            "keep checks the merge with `git merge-tree --write-tree`: it needs git 2.38 or newer"
        )
    lines = split_lines(result.stdout)
    if result.returncode == 1:
        conflicted = sorted(set(lines[1:]))
        raise KeepRefused(
            f"keeping would conflict in {_names(conflicted)}: changed on both sides since the job "
            "started; its changes stay on its branch (follow up, or merge it by hand)"
        )
    return lines[0]


def _check_uncommitted(root: Path | str, base_head: str, merged_tree: str) -> None:
    """Refuse when the merge would touch a file the user changed, staged or created."""
    touched = set(
        split_z(run_git(root, ["diff", "--name-only", "-z", "--no-renames", base_head, merged_tree]).stdout)
    )
    status = run_git(root, ["status", "--porcelain", "-z", "--untracked-files=all", "--no-renames"]).stdout
    dirty = {entry[3:] for entry in split_z(status)}
    overlap = sorted(touched & dirty)
    if overlap:
        raise KeepRefused(
            f"the repository has uncommitted changes in {_names(overlap)}: "
            "commit or stash them, then keep again"
        )


def split_lines(output: bytes) -> list[str]:
    return [line for line in output.decode("utf-8", "surrogateescape").splitlines() if line]


def _names(paths: Iterable[str]) -> str:
    shown = list(paths)
    return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))
