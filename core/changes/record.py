"""A working tree recorded as a git tree object, and what changed between two of them.

The tree is written through a temporary index (``GIT_INDEX_FILE``): untracked files count,
ignored ones do not, and the user's own index is never read for writing nor changed. The
temporary index starts as a copy of the real one so git re-reads only files whose stat changed.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.changes.git import git_text, run_git, split_z

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""Git's empty tree: what a directory with nothing in it records as."""

_QUIET = ("-c", "advice.addEmbeddedRepo=false", "-c", "core.quotepath=false")


@dataclass(frozen=True)
class FileChange:
    """One changed file: lines added and removed (None for a binary file)."""

    path: str
    added: int | None
    removed: int | None

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "added": self.added, "removed": self.removed}


def record_tree(root: Path | str) -> str:
    """The working tree at ``root`` (the top of a repository or worktree) as a tree object id."""
    index = _index_file(Path(root))
    with tempfile.TemporaryDirectory(prefix="flowtui-index-") as scratch:
        temp_index = Path(scratch) / "index"
        if index.is_file():
            shutil.copyfile(index, temp_index)
        env = {"GIT_INDEX_FILE": str(temp_index)}
        run_git(root, [*_QUIET, "add", "--all", "--", ":/"], env=env)
        return git_text(root, ["write-tree"], env=env)


PIN_PREFIX = "refs/flowtui/job-"
"""Recorded trees are referenced as ``refs/flowtui/job-ID/before`` and ``.../after``: git gc
prunes unreferenced objects, and a job's diff must stay readable."""


def pin_ref(job_id: int, which: str) -> str:
    return f"{PIN_PREFIX}{job_id}/{which}"


def pin_trees(root: Path | str, job_id: int, trees: dict[str, str]) -> None:
    """Reference each tree as job ``job_id``'s ``before`` or ``after`` tree, in one transaction."""
    commands = "".join(f"update {pin_ref(job_id, which)} {tree}\n" for which, tree in trees.items())
    run_git(root, ["update-ref", "-m", f"flowtui: job #{job_id}", "--stdin"], stdin=commands.encode())


def unpin_trees(root: Path | str, refs: list[str]) -> None:
    """Drop these pins (missing ones are no error), in one transaction."""
    if refs:
        commands = "".join(f"delete {ref}\n" for ref in refs).encode()
        run_git(root, ["update-ref", "--stdin"], stdin=commands)


def pinned(root: Path | str, job_id: int) -> dict[str, str]:
    """which -> tree, for the job's pins."""
    output = git_text(root, ["for-each-ref", "--format=%(refname) %(objectname)", f"{PIN_PREFIX}{job_id}/"])
    return {
        ref.rpartition("/")[2]: tree for ref, _, tree in (line.partition(" ") for line in output.splitlines())
    }


def _index_file(root: Path) -> Path:
    """The index of the repository or worktree at ``root``: read from its ``.git`` (a folder, or
    a worktree's ``gitdir:`` file) without starting git; git itself says when neither is there."""
    dot_git = root / ".git"
    try:
        if dot_git.is_dir():
            return dot_git / "index"
        text = dot_git.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        text = ""
    if text.startswith("gitdir: ") and "\n" not in text.strip():
        return (root / text.removeprefix("gitdir: ").strip()) / "index"
    return root / git_text(root, ["rev-parse", "--git-path", "index"])


def changed_files(root: Path | str, before: str, after: str) -> list[FileChange]:
    """Each file that differs between two recorded trees, with its line counts."""
    output = run_git(root, [*_QUIET, "diff", "--numstat", "-z", "--no-renames", before, after]).stdout
    found = []
    for entry in split_z(output):
        added, removed, path = entry.split("\t", 2)
        found.append(
            FileChange(
                path=path,
                added=None if added == "-" else int(added),
                removed=None if removed == "-" else int(removed),
            )
        )
    return found


def unified_diff(root: Path | str, before: str, after: str) -> str:
    """The changes between two recorded trees as a unified diff (no colour, no external tool)."""
    output = run_git(
        root, [*_QUIET, "diff", "--no-color", "--no-ext-diff", "--no-renames", before, after]
    ).stdout
    return output.decode("utf-8", "replace")


def describe_changes(changes: list[FileChange]) -> str:
    """``2 files changed (+5 -1)``, or ``no changes``."""
    if not changes:
        return "no changes"
    added = sum(change.added or 0 for change in changes)
    removed = sum(change.removed or 0 for change in changes)
    files = f"{len(changes)} file{'s' if len(changes) != 1 else ''}"
    return f"{files} changed (+{added} -{removed})"
