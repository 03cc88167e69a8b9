"""The ledger file's tables, and bringing a file written by an older flowtui up to them."""

from __future__ import annotations

import sqlite3

from core.jobs import JOB_COLUMNS, JobSource
from core.ledger.notifications import migrate_notifications

SCHEMA_VERSION = 8
"""8: ``notifications`` gained ``channel`` and ``payload`` (:func:`migrate_notifications`)."""

SOURCE_CHECK = "CHECK (source IN ({}))".format(", ".join(f"'{source}'" for source in JobSource))
"""Built from :class:`JobSource`: a source added there is accepted by the file (after a rebuild)."""

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow         TEXT    NOT NULL,
    prompt           TEXT    NOT NULL,
    source           TEXT    NOT NULL
                     SOURCE_CHECK,
    cwd              TEXT    NOT NULL,
    trigger          TEXT,
    state            TEXT    NOT NULL
                     CHECK (state IN ('awaiting_approval', 'queued', 'running', 'succeeded', 'failed',
                                      'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT    NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    run_after        TEXT,
    exit_code        INTEGER,
    error            TEXT,
    cost_usd         REAL,
    input_tokens     INTEGER,
    output_tokens    INTEGER,
    turns            INTEGER,
    session_id       TEXT,
    resume_session_id TEXT,
    answer           TEXT,
    transcript_path  TEXT,
    parent_id        INTEGER REFERENCES jobs(id),
    owner_pid        INTEGER,
    owner_host       TEXT,
    lease_until      TEXT,
    claude_pid       INTEGER,
    claude_started   REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    waiting_for      TEXT,
    always_allowed   TEXT,
    git_root         TEXT,
    worktree         TEXT,
    branch           TEXT,
    base_branch      TEXT,
    base_commit      TEXT,
    tree_before      TEXT,
    tree_after       TEXT,
    review           TEXT
                     CHECK (review IS NULL OR review IN ('pending', 'kept', 'discarded')),
    structured_output TEXT,
    git_host         TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, priority DESC, id);
CREATE TABLE IF NOT EXISTS job_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL REFERENCES jobs(id),
    at      TEXT    NOT NULL,
    state   TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    cost_usd REAL
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, id);
CREATE TABLE IF NOT EXISTS job_inputs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL REFERENCES jobs(id),
    at      TEXT    NOT NULL,
    entry   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS job_inputs_by_job ON job_inputs (job_id, id);
CREATE TABLE IF NOT EXISTS engine_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
).replace("SOURCE_CHECK", SOURCE_CHECK)


def create_or_migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, or migrate older ones keeping every row (inside a transaction)."""
    _migrate_jobs_table(conn)
    migrate_notifications(conn)  # the outbox's table shares the file (its store creates it)
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _migrate_jobs_table(conn: sqlite3.Connection) -> None:
    """Bring an older ``jobs`` table to this schema, keeping every row (SQLite's
    documented rebuild: create new, copy, drop old, rename)."""
    event_columns = [row[1] for row in conn.execute("PRAGMA table_info(job_events)")]
    if event_columns and "cost_usd" not in event_columns:
        conn.execute("ALTER TABLE job_events ADD COLUMN cost_usd REAL")
    existing = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    if not existing:
        return
    (table_sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
    ).fetchone()
    if set(existing) == set(JOB_COLUMNS) and SOURCE_CHECK in table_sql:
        return
    create_jobs = SCHEMA.split(";")[0].replace("IF NOT EXISTS jobs", "jobs_migrated")
    conn.execute(create_jobs)
    common = ", ".join(column for column in JOB_COLUMNS if column in existing)
    conn.execute(f"INSERT INTO jobs_migrated ({common}) SELECT {common} FROM jobs")
    conn.execute("DROP TABLE jobs")
    conn.execute("ALTER TABLE jobs_migrated RENAME TO jobs")
