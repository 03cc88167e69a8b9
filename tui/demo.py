"""Demo states of the shared state, used by the snapshot tests and the screenshot command.

Everything is fixed (times, costs, ids) so pictures are the same on every machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.jobs import JobState, RunOutcome
from core.ledger import Ledger, NewJob
from core.paths import Paths
from core.session import Session
from core.settings import Settings
from tui.app import FlowtuiApp, build_app

DEMO_NOW = datetime(2026, 11, 25, 9, 30, 0, tzinfo=UTC)

_DEMO_JOBS: list[tuple[str, str, str, JobState, RunOutcome | None, tuple[str, str | None, str | None]]] = [
    (
        "Summarise the changes in notes/today.md",
        "default",
        "watch",
        JobState.SUCCEEDED,
        RunOutcome(JobState.SUCCEEDED, exit_code=0, cost_usd=0.0213, answer="Three notes added."),
        ("09:01:00", "09:01:02", "09:01:31"),
    ),
    (
        "Fix the failing test in tests/test_parser.py",
        "fix-tests",
        "telegram",
        JobState.FAILED,
        RunOutcome(JobState.FAILED, error="API Error: 400 prompt is too long", exit_code=1, cost_usd=0.0042),
        ("09:10:00", "09:10:01", "09:10:03"),
    ),
    (
        "Draft a reply to the landlord about the boiler",
        "default",
        "cli",
        JobState.CANCELLED,
        RunOutcome(JobState.CANCELLED, error="cancelled by the user"),
        ("09:12:00", "09:12:01", "09:13:00"),
    ),
    (
        "Review the diff of feature/export and list risks",
        "review",
        "cli",
        JobState.RUNNING,
        None,
        ("09:28:00", "09:28:40", None),
    ),
    (
        "Rename photos in ~/Pictures/2026 by date taken",
        "default",
        "schedule",
        JobState.QUEUED,
        None,
        ("09:29:30", None, None),
    ),
]


def seed_demo_jobs(paths: Paths) -> None:
    """Five jobs, one in every state, with fixed times."""
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    try:
        for prompt, workflow, source, state, outcome, times in _DEMO_JOBS:
            job = ledger.create(NewJob(prompt, workflow, source, "/", max_attempts=3), "demo")
            if state is not JobState.QUEUED:
                ledger.claim(job.id, owner_pid=1)
            if outcome is not None:
                ledger.finish(job.id, outcome)
            created, started, finished = (f"2026-11-25T{t}.000Z" if t else None for t in times)
            ledger._conn.execute(  # fixed times so the pictures never change
                "UPDATE jobs SET created_at = ?, started_at = ?, finished_at = ?, owner_pid = NULL"
                " WHERE id = ?",
                (created, started, finished, job.id),
            )
    finally:
        ledger.close()


def demo_app(root: Path, seed: bool) -> FlowtuiApp:
    """The production app over a demo data dir, with no engine and a frozen clock."""
    paths = Paths(config_file=root / "config.toml", data_dir=root)
    if seed:
        seed_demo_jobs(paths)
    settings = Settings.model_validate({"workflows": {"fix-tests": {}, "review": {}}})
    return build_app(settings, paths, lambda: Session.detached(settings, paths), clock=lambda: DEMO_NOW)
