"""What a job changed, as every surface shows it: the files with their line counts and the
unified diff from its recorded trees (in git), or the files its editing tools named (outside)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.changes.git import GitError, rev_parse
from core.changes.record import FileChange, changed_files, pin_ref, record_tree, unified_diff, unpin_trees
from core.claude.touched import touched_files
from core.errors import InputError
from core.jobs import REVIEW_PENDING, Job, JobState
from core.paths import Paths


@dataclass(frozen=True)
class JobChanges:
    """A job's changes: per file in git; outside git only the names its tools gave."""

    in_git: bool
    files: list[FileChange] = field(default_factory=list)

    def to_list(self) -> list[dict[str, object]]:
        return [change.to_dict() for change in self.files]


def compared_trees(job: Job) -> tuple[str, str] | None:
    """The trees a job's diff compares: before its first attempt, and after its latest (now,
    for a running job, or for a worktree still to review, which is what keep would commit)."""
    workspace = job.workspace
    if workspace is None or job.tree_before is None:
        return None
    live = job.state is JobState.RUNNING or (
        workspace.isolated and job.review == REVIEW_PENDING and Path(workspace.recorded_root).is_dir()
    )
    after = record_tree(workspace.recorded_root) if live else job.tree_after
    return None if after is None else (job.tree_before, after)


def job_changes(job: Job, paths: Paths) -> JobChanges:
    """What the job changed; one line (InputError) when git cannot say."""
    workspace = job.workspace
    if workspace is None:
        transcripts = [paths.transcript_for(job.id, attempt) for attempt in range(1, job.attempts + 1)]
        return JobChanges(
            in_git=False,
            files=[FileChange(path, None, None) for path in touched_files(transcripts)],
        )
    try:
        trees = compared_trees(job)
        files = changed_files(workspace.git_root, *trees) if trees else []
    except (GitError, OSError) as error:
        raise InputError(f"cannot tell what job #{job.id} changed: {error}") from None
    return JobChanges(in_git=True, files=files)


def job_diff(job: Job) -> str:
    """The job's changes as a unified diff; empty when it changed nothing."""
    workspace = job.workspace
    if workspace is None:
        raise InputError(
            f"job #{job.id} ran outside git, so it has no diff: `flowtui show {job.id}` lists the "
            "files its edits named"
        )
    try:
        trees = compared_trees(job)
        return unified_diff(workspace.git_root, *trees) if trees else ""
    except (GitError, OSError) as error:
        raise InputError(f"cannot show what job #{job.id} changed: {error}") from None


def release_pins(root: str, jobs: list[Job], kept_commit: str | None) -> str | None:
    """Drop the refs that keep the jobs' recorded trees from git gc once nothing needs them:
    all of them on discard (``kept_commit`` None); on keep, those whose tree the merge made
    part of the history (the kept commit's, the base commit's), so every other job's diff stays
    readable. Returns the reason when git refused (the caller notes it), None when done."""
    if kept_commit is None:
        refs = [pin_ref(job.id, which) for job in jobs for which in ("before", "after")]
    else:
        in_history = {rev_parse(root, f"{kept_commit}^{{tree}}")}
        in_history |= {rev_parse(root, f"{job.base_commit}^{{tree}}") for job in jobs if job.base_commit}
        refs = [
            pin_ref(job.id, which)
            for job in jobs
            for which, tree in (("before", job.tree_before), ("after", job.tree_after))
            if tree is not None and tree in in_history
        ]
    try:
        unpin_trees(root, refs)
    except (GitError, OSError) as error:
        return f"the refs keeping its recorded trees stay: {error}"
    return None


def format_stat(changes: JobChanges) -> str:
    """A per-file summary: `` +3 -1  path`` lines and a total."""
    if not changes.files:
        return "no changes"
    if not changes.in_git:
        return "\n".join(f"  edited  {change.path}" for change in changes.files)
    lines = []
    for change in changes.files:
        counts = "binary" if change.added is None else f"+{change.added} -{change.removed}"
        lines.append(f"  {counts:>12}  {change.path}")
    added = sum(change.added or 0 for change in changes.files)
    removed = sum(change.removed or 0 for change in changes.files)
    count = len(changes.files)
    lines.append(f"{count} file{'s' if count != 1 else ''} changed, +{added} -{removed}")
    return "\n".join(lines)
