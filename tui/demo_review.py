"""A job whose worktree waits for review, made with real git the way the engine makes one: its
worktree opened, the tree recorded before and after it edits, then finished. The Diff view's
pictures and its tests start from it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from core.clock import Clock
from core.config.settings import WorkflowSettings
from core.engine.workspace import prepare_workspace, record_after, record_before
from core.jobs import Job, JobSource, JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob
from core.paths import Paths
from tui.app import FlowtuiApp
from tui.demo import DEMO_CLOCK, demo_app, freeze_times

ISOLATED = WorkflowSettings(isolation="worktree")
IDENTITY = ("-c", "user.name=flowtui demo", "-c", "user.email=demo@flowtui.invalid")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (argv only) with a fixed identity; its output."""
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(where: Path, files: Mapping[str, str]) -> Path:
    """A repository on ``main`` with ``files`` committed."""
    where.mkdir(parents=True, exist_ok=True)
    git(where, "init", "-q", "-b", "main")
    for name, content in files.items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(where, "add", "--all")
    git(where, "commit", "-q", "-m", "first")
    return where


def isolated_job(
    paths: Paths,
    repo: Path,
    prompt: str,
    edits: Mapping[str, str | None],
    clock: Clock | None = None,
    answer: str = "Done.",
) -> Job:
    """A finished job of an isolated workflow that wrote ``edits`` (path -> new text, None
    deletes it) in its own worktree, its trees recorded around the attempt as the engine
    records them: its changes wait for review."""
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db, clock=clock) if clock is not None else Ledger(paths.ledger_db)
    try:
        job = ledger.create(NewJob(prompt, "isolated", JobSource.TUI, str(repo), max_attempts=1), "added")
        claimed = ledger.claim(job.id, owner_pid=1)
        assert claimed is not None
        job = prepare_workspace(claimed, ISOLATED, paths, ledger)
        before = record_before(job, ledger)
        worktree = Path(job.run_directory)
        for name, content in edits.items():
            path = worktree / name
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
        record_after(job, before, ledger)
        return ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, exit_code=0, answer=answer))
    finally:
        ledger.close()


DEMO_REPO_FILES = {
    "README.md": "# shop\n\nExports orders as CSV.\n",
    "export/csv.py": (
        '"""Orders as CSV."""\n\nimport csv\n\n\ndef write_rows(rows, out):\n'
        "    writer = csv.writer(out)\n    for row in rows:\n"
        "        writer.writerow([row.id, row.total])\n"
    ),
}
DEMO_EDITS: dict[str, str | None] = {
    "export/csv.py": (
        '"""Orders as CSV, in the locale\'s number format."""\n\nimport csv\nimport locale\n\n\n'
        "def write_rows(rows, out):\n    writer = csv.writer(out, delimiter=';')\n"
        "    for row in rows:\n        writer.writerow([row.id, locale.str(row.total)])\n"
    ),
    "tests/test_csv.py": (
        "import io\n\nfrom export.csv import write_rows\n\n\ndef test_semicolons():\n"
        "    out = io.StringIO()\n    write_rows([], out)\n    assert out.getvalue() == ''\n"
    ),
}
DEMO_PROMPT = "Use the locale's decimal separator in the CSV export, with a test"


def seed_review_job(paths: Paths, root: Path, clock: Clock) -> Job:
    """The demo's sixth job: it fixed the CSV export in its own worktree, to review."""
    repo = make_repo(root / "work" / "shop", DEMO_REPO_FILES)
    return isolated_job(paths, repo, DEMO_PROMPT, DEMO_EDITS, clock, "The export now follows the locale.")


def review_app(root: Path) -> FlowtuiApp:
    """The demo state with a sixth job whose worktree waits for review (the Diff view's scenes)."""
    app = demo_app(root, seed=True)
    paths = Paths.under(root)
    job = seed_review_job(paths, root, DEMO_CLOCK)
    ledger = Ledger(paths.ledger_db, clock=DEMO_CLOCK)
    try:
        freeze_times(ledger, job.id, ("09:20:00", "09:20:01", "09:24:12"), session=None)
    finally:
        ledger.close()
    return app
