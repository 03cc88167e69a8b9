"""Worktree set-up and change recording per job, on a repository of 10,000 files.

What is measured, per job, on one generated repository (10,000 files in 100 folders, one commit):

- ours: what the engine does for a job of an ``isolation = "worktree"`` workflow, through the
  same functions on a real ledger file: the worktree made on a new branch and the tree before
  recorded (``start_recording``: a worktree checked out just now is its branch's tree, taken
  as it is), the job's edit (one file changed, one added), the tree after (``record_after``:
  ``record_tree`` through a temporary index, the history line's counts, and the refs that keep
  both trees from git gc), then the files with counts and the diff between the recorded trees.
  (A view of a worktree still to review records its live tree once more, so it shows what
  keep would commit: one ``record_tree``, about one ``git diff``'s cost.)
- bare: ``git worktree add -b BRANCH PATH HEAD``, the same edit, ``git add -N`` of the new
  file (so plain ``git diff`` shows it too), ``git diff --numstat`` and ``git diff``.

Both sides alternate job by job in the same run (each on a new worktree, removed after; the
removal and a ``sync`` are not timed, so one job's writeback never stalls the next), so the
machine's load falls on both alike. Reported: the median and the best per-job time of each
side, the median of ours minus bare within a round (what recording costs beyond a bare diff),
and the ratio of the medians; the target is ours <= 1.2x bare.

Run: ``uv run python bench/worktree.py [--files 10000] [--jobs 9] [--dir /dev/shm]``. On a disk
other processes write to, ``git worktree add`` of 10,000 files swings by seconds from job to
job, more than either side costs; in memory (``--dir /dev/shm``) only git's and flowtui's own
work is left. No asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from core.changes.git import git_environment
from core.changes.record import changed_files, unified_diff
from core.changes.worktree import remove_worktree
from core.config.settings import WorkflowSettings
from core.engine.workspace import record_after, start_recording
from core.ledger.sqlite import Ledger, NewJob
from core.paths import Paths


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        capture_output=True,
        check=True,
        env=git_environment(),
    )
    return done.stdout.decode()


def make_repository(root: Path, files: int) -> str:
    """``files`` small text files in folders of 100, committed once; returns the commit."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for number in range(files):
        folder = root / f"pkg{number // 100:03}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{number % 100:02}.py").write_text(
            f'"""Module {number}."""\n\nVALUE = {number}\n\n\ndef value() -> int:\n    return VALUE\n'
        )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "10,000 files")
    return git(root, "rev-parse", "HEAD").strip()


def edit(worktree: Path) -> None:
    """What the job does: one file changed, one new file."""
    changed = worktree / "pkg000" / "module00.py"
    changed.write_text(changed.read_text().replace("VALUE = 0", "VALUE = 42"))
    (worktree / "pkg000" / "added.py").write_text("ADDED = True\n")


class Ours:
    """The engine's own path for a job, on a real ledger file: the worktree made and the tree
    before recorded (``start_recording``), the edit, the tree after (``record_after``, with the
    refs that keep both from git gc), then the files and the diff as every surface asks."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root = root
        self.paths = Paths.under(data_dir)
        self.paths.ensure_data_dir()
        self.ledger = Ledger(self.paths.ledger_db)
        self.workflow = WorkflowSettings(isolation="worktree")
        self.last_job = 0

    def run(self) -> None:
        new = NewJob(prompt="edit", workflow="isolated", source="cli", cwd=str(self.root), max_attempts=1)
        job = self.ledger.claim(self.ledger.create(new, "bench").id, os.getpid())
        assert job is not None
        self.last_job = job.id
        job, before = start_recording(job, self.workflow, self.paths, self.ledger, "bench")
        edit(Path(job.run_directory))
        record_after(job, before, self.ledger)
        job = self.ledger.require(job.id)
        assert job.tree_before is not None and job.tree_after is not None
        changes = changed_files(self.root, job.tree_before, job.tree_after)
        diff = unified_diff(self.root, job.tree_before, job.tree_after)
        assert len(changes) == 2 and "VALUE = 42" in diff, changes

    def clean_up(self) -> None:
        job_id = self.last_job
        remove_worktree(self.root, self.paths.worktree_for(job_id), f"flowtui/job-{job_id}")
        git(self.root, "update-ref", "-d", f"refs/flowtui/job-{job_id}/before")
        git(self.root, "update-ref", "-d", f"refs/flowtui/job-{job_id}/after")


class Bare:
    """``git worktree add`` and ``git diff``: the floor for the same job."""

    def __init__(self, root: Path, head: str, place: Path) -> None:
        self.root, self.head, self.place = root, head, place
        self.count = 0

    def run(self) -> None:
        self.count += 1
        path = self.place / f"job-{self.count}"
        git(self.root, "worktree", "add", "--quiet", "-b", f"bare/job-{self.count}", str(path), self.head)
        edit(path)
        git(path, "add", "-N", "pkg000/added.py")
        numstat = git(path, "diff", "--numstat")
        diff = git(path, "diff")
        assert len(numstat.splitlines()) == 2 and "VALUE = 42" in diff, numstat

    def clean_up(self) -> None:
        git(self.root, "worktree", "remove", "--force", str(self.place / f"job-{self.count}"))
        git(self.root, "branch", "-D", "-q", f"bare/job-{self.count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=9, help="jobs per side (after one warm-up each)")
    parser.add_argument(
        "--dir", default=None, help="where the repository goes (/dev/shm takes a busy disk out of it)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowtui-bench-worktree-", dir=args.dir) as scratch:
        base = Path(scratch)
        root = base / "repo"
        started = time.perf_counter()
        head = make_repository(root, args.files)
        print(f"repository: {args.files:,} files, made in {time.perf_counter() - started:.1f} s")
        (base / "bare").mkdir()
        sides: dict[str, Ours | Bare] = {
            "ours": Ours(root, base / "data"),
            "bare": Bare(root, head, base / "bare"),
        }
        times: dict[str, list[float]] = {"ours": [], "bare": []}
        for job in range(args.jobs + 1):
            for name in ("ours", "bare") if job % 2 == 0 else ("bare", "ours"):
                side = sides[name]
                begin = time.perf_counter()
                side.run()
                elapsed = (time.perf_counter() - begin) * 1000
                side.clean_up()
                os.sync()  # the removed worktree's writeback must not stall the next side's job
                if job > 0:  # the first of each is a warm-up (the page cache, git's start)
                    times[name].append(elapsed)
        for name, values in times.items():
            print(f"{name:>5}: median {statistics.median(values):7.1f} ms/job, best {min(values):7.1f} ms")
        extra = [mine - theirs for mine, theirs in zip(times["ours"], times["bare"], strict=True)]
        print(f"ours - bare, the same round: median {statistics.median(extra):+.1f} ms/job")
        ratio = statistics.median(times["ours"]) / statistics.median(times["bare"])
        verdict = "within" if ratio <= 1.2 else "over"
        print(f"ratio ours/bare: {ratio:.2f}x ({verdict} the 1.2x target)")


if __name__ == "__main__":
    main()
