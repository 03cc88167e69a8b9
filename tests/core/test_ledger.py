"""The ledger file itself: schema, migration of an older file, and what sqlite3 users see."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.jobs import JOB_COLUMNS, JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob

OLD_JOBS_TABLE = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, workflow TEXT NOT NULL, prompt TEXT NOT NULL,
    source TEXT NOT NULL, cwd TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, run_after TEXT, exit_code INTEGER,
    error TEXT, cost_usd REAL, input_tokens INTEGER, output_tokens INTEGER, turns INTEGER,
    session_id TEXT, answer TEXT, transcript_path TEXT, parent_id INTEGER REFERENCES jobs(id),
    owner_pid INTEGER, claude_pid INTEGER, claude_started REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
)
"""


def test_schema_has_every_job_field_and_uses_wal(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db", "full")
    ledger.close()
    conn = sqlite3.connect(tmp_path / "ledger.db")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    assert set(columns) == set(JOB_COLUMNS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "jobs",
        "job_events",
        "engine_state",
    }


def test_an_older_ledger_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute(OLD_JOBS_TABLE)
    conn.execute(
        "INSERT INTO jobs (workflow, prompt, source, cwd, state, max_attempts, created_at, answer)"
        " VALUES ('default', 'old job', 'cli', '/', 'succeeded', 3, '2026-01-01T00:00:00.000Z', 'kept')"
    )
    conn.commit()
    conn.close()
    ledger = Ledger(tmp_path / "ledger.db")
    old = ledger.require(1)
    assert (old.prompt, old.state, old.answer, old.trigger) == ("old job", JobState.SUCCEEDED, "kept", None)
    new = ledger.create(NewJob("new", "default", "cli", "/", 3, awaiting_approval=True), "test")
    assert new.id == 2 and new.state is JobState.AWAITING_APPROVAL


def test_every_state_change_is_an_event_with_a_reason(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    job = ledger.create(NewJob("p", "default", "cli", "/", 2), "added by test")
    assert ledger.claim(job.id, owner_pid=1) is not None
    assert ledger.claim(job.id, owner_pid=1) is None  # a duplicate queue entry cannot run it twice
    ledger.requeue(job.id, "try again", None)
    ledger.claim(job.id, owner_pid=1)
    done = ledger.finish(job.id, RunOutcome(JobState.FAILED, error="boom", exit_code=1))
    assert (done.state, done.attempts, done.error, done.owner_pid) == (JobState.FAILED, 2, "boom", None)
    assert [(event.state, event.reason) for event in ledger.events(job.id)] == [
        ("queued", "added by test"),
        ("running", "attempt 1 of 2 started"),
        ("queued", "try again"),
        ("running", "attempt 2 of 2 started"),
        ("failed", "boom"),
    ]
