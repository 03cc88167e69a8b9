"""A finished job's files for Telegram (a workflow's ``send_files``): which of the files it created
or changed match, copied where nothing can change them before the outbox sends them.

In git the content is read from the tree recorded after the job (so an edit made since, a keep,
a discard or a removed worktree changes nothing); outside git, the files its editing tools named
are copied from disk. Only regular files go (no links, no submodules), each within Telegram's
size limit; the rest are named in lines for the finish message.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.changes.git import GitError, run_git, split_z
from core.config.send_files import send_files_spec
from core.errors import describe_os_error
from core.jobs import Job
from core.ops.review import JobChanges
from core.telegram.outbox import MAX_DOCUMENT_BYTES

log = logging.getLogger(__name__)

MAX_FILES_SENT = 20
"""A job sends at most this many files (each costs a paced message); the finish message counts the rest."""
_REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class OutFile:
    """One file to send: its path relative to the job's directory and where its copy is."""

    name: str
    copy: Path


@dataclass
class FilesOut:
    """What ``send_files`` gives for one job: the copies to send and what could not go."""

    files: list[OutFile] = field(default_factory=list)
    too_large: list[tuple[str, int]] = field(default_factory=list)
    left_out: int = 0
    problems: list[str] = field(default_factory=list)
    limit: int = MAX_DOCUMENT_BYTES

    def lines(self) -> list[str]:
        """The finish message's lines about files not sent (nothing when all went)."""
        lines = [
            f"file not sent: {name} is {_megabytes(size)}, over the {_megabytes(self.limit)} a bot may send"
            for name, size in self.too_large
        ]
        if self.left_out:
            lines.append(
                f"files not sent: {self.left_out} more matched send_files (at most {MAX_FILES_SENT} go)"
            )
        lines.extend(f"file not sent: {problem}" for problem in self.problems)
        return lines


def collect_files(
    job: Job,
    changes: JobChanges | None,
    globs: Sequence[str],
    copies: Path,
    limit: int = MAX_DOCUMENT_BYTES,
) -> FilesOut:
    """The job's changed files matching ``globs``, copied under ``copies`` (replaced whole);
    a file over ``limit`` bytes is only named."""
    found = FilesOut(limit=limit)
    if not globs or changes is None or not changes.files:
        return found
    spec = send_files_spec(globs)
    matched: list[tuple[str, str]] = []  # (name relative to the job's directory, path as changes say)
    for change in changes.files:
        name = _relative_name(job, changes, change.path)
        if name is not None and spec.match_file(name):
            matched.append((name, change.path))
    shutil.rmtree(copies, ignore_errors=True)
    if not matched:
        return found
    workspace = job.workspace
    if changes.in_git and workspace is not None and job.tree_after is not None:
        _from_tree(workspace.git_root, job.tree_after, matched, copies, found)
    else:
        _from_disk(job, matched, copies, found)
    return found


def _relative_name(job: Job, changes: JobChanges, path: str) -> str | None:
    """``path`` relative to the job's directory with ``/``; None when it lies outside it."""
    directory = Path(job.run_directory)
    workspace = job.workspace
    if changes.in_git and workspace is not None:
        absolute = Path(workspace.recorded_root) / path
    else:
        absolute = Path(path) if os.path.isabs(path) else directory / path
    relative = os.path.relpath(absolute, directory)
    if relative == os.curdir or relative.split(os.sep)[0] == os.pardir:
        return None
    return PurePosixPath(*Path(relative).parts).as_posix()


def _from_tree(
    git_root: str, tree: str, matched: list[tuple[str, str]], copies: Path, found: FilesOut
) -> None:
    """Copy each matched file's blob from the recorded ``tree`` (a deleted file is not in it)."""
    wanted = dict((path, name) for name, path in matched)
    try:
        listing = run_git(
            git_root,
            ["--literal-pathspecs", "ls-tree", "-l", "-z", "--full-tree", tree, "--", *wanted],
        ).stdout
    except (GitError, OSError) as error:
        found.problems.append(f"cannot read the job's recorded files: {error}")
        return
    for entry in split_z(listing):
        meta, _, path = entry.partition("\t")
        mode, kind, blob, size = meta.split()
        name = wanted.get(path)
        if name is None or kind != "blob" or mode not in _REGULAR_MODES:
            continue
        if not _room(found, name, int(size)):
            continue
        try:
            data = run_git(git_root, ["cat-file", "blob", blob]).stdout
            _write_copy(copies, name, data, found)
        except (GitError, OSError) as error:
            found.problems.append(f"{name}: {error}")


def _from_disk(job: Job, matched: list[tuple[str, str]], copies: Path, found: FilesOut) -> None:
    for name, path in matched:
        source = Path(path) if os.path.isabs(path) else Path(job.run_directory) / path
        try:
            status = source.lstat()
        except FileNotFoundError:
            continue  # deleted since it was edited: nothing to send
        except OSError as error:
            found.problems.append(f"{name}: {describe_os_error(error)}")
            continue
        if not source.is_file() or source.is_symlink():
            continue
        if not _room(found, name, status.st_size):
            continue
        try:
            _write_copy(copies, name, source.read_bytes(), found)
        except OSError as error:
            found.problems.append(f"{name}: {describe_os_error(error)}")


def _room(found: FilesOut, name: str, size: int) -> bool:
    """Whether a file of ``size`` bytes may still go; records why not."""
    if size > found.limit:
        found.too_large.append((name, size))
        return False
    if len(found.files) >= MAX_FILES_SENT:
        found.left_out += 1
        return False
    return True


def _write_copy(copies: Path, name: str, data: bytes, found: FilesOut) -> None:
    target = copies / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    found.files.append(OutFile(name, target))


def _megabytes(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1000:.1f} kB" if size >= 1000 else f"{size} bytes"
