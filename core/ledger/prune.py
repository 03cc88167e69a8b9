"""Deleting old finished jobs from the SQLite ledger, and giving their space back.

What may go is decided inside one write transaction, so a job that a retry or follow-up
is made from in the meantime, or whose state changes, is never taken: only finished jobs,
never one whose worktree changes wait for review, never one another (kept) job was made
from. The Redis ledger applies the same rules (``core.ledger.redis``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from core.jobs import JOB_COLUMNS, REVIEW_PENDING, Job

FINAL_STATES_SQL = "('succeeded', 'failed', 'cancelled')"


@dataclass(frozen=True)
class DeletedJobs:
    """What a prune deleted from the ledger (or, in a dry run, would delete)."""

    jobs: list[Job] = field(default_factory=list)
    """The jobs as they were, oldest first (their transcripts and worktrees go next)."""
    events: int = 0
    inputs: int = 0
    kept_for_review: int = 0
    """Old enough, but their worktree changes are neither kept nor discarded yet."""
    kept_as_parent: int = 0
    """Old enough, but a newer or unfinished job was made from them (a retry, a follow-up)."""


@dataclass(frozen=True)
class Reclaimed:
    """The space deleted rows left, and where it went."""

    bytes: int | None
    """None: the storage does not say (Redis frees a deleted key's memory at once)."""
    returned_to_disk: bool
    """True: the file shrank; False: the space stays in the file for new rows."""


def delete_finished(conn: sqlite3.Connection, before_utc: str, dry_run: bool) -> DeletedJobs:
    """In the caller's write transaction: delete jobs finished before ``before_utc`` with
    their events and inputs (see the module for which are kept)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM prune_ids")
    try:
        old = f"state IN {FINAL_STATES_SQL} AND finished_at IS NOT NULL AND finished_at < ?"
        (for_review,) = conn.execute(
            f"SELECT count(*) FROM jobs WHERE {old} AND review = ?", (before_utc, REVIEW_PENDING)
        ).fetchone()
        conn.execute(
            f"INSERT INTO prune_ids SELECT id FROM jobs WHERE {old} AND review IS NOT ?",
            (before_utc, REVIEW_PENDING),
        )
        as_parent = _drop_parents_of_kept(conn)
        events = _count(conn, "job_events")
        inputs = _count(conn, "job_inputs")
        rows = conn.execute(
            f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE id IN (SELECT id FROM prune_ids) ORDER BY id"
        ).fetchall()
        if not dry_run:
            for table in ("job_inputs", "job_events"):
                conn.execute(f"DELETE FROM {table} WHERE job_id IN (SELECT id FROM prune_ids)")
            conn.execute("DELETE FROM jobs WHERE id IN (SELECT id FROM prune_ids)")
    finally:
        conn.execute("DELETE FROM prune_ids")
    return DeletedJobs(
        jobs=[Job.from_row(row) for row in rows],
        events=events,
        inputs=inputs,
        kept_for_review=for_review,
        kept_as_parent=as_parent,
    )


def _drop_parents_of_kept(conn: sqlite3.Connection) -> int:
    """Take out of ``prune_ids`` every job a job staying in the ledger names as its parent,
    until none is left (a kept grandchild keeps its parent, which keeps its own)."""
    dropped = 0
    while True:
        cursor = conn.execute(
            "DELETE FROM prune_ids WHERE id IN (SELECT parent_id FROM jobs WHERE parent_id IN"
            " (SELECT id FROM prune_ids) AND id NOT IN (SELECT id FROM prune_ids))"
        )
        if cursor.rowcount <= 0:
            return dropped
        dropped += cursor.rowcount


def _count(conn: sqlite3.Connection, table: str) -> int:
    (count,) = conn.execute(
        f"SELECT count(*) FROM {table} WHERE job_id IN (SELECT id FROM prune_ids)"
    ).fetchone()
    return int(count)


def reclaim(conn: sqlite3.Connection) -> Reclaimed:
    """Give the free pages back to the disk where the file allows it (incremental
    auto-vacuum), else say how much is free inside it."""
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    (free_pages,) = conn.execute("PRAGMA freelist_count").fetchone()
    (auto_vacuum,) = conn.execute("PRAGMA auto_vacuum").fetchone()
    if auto_vacuum == 2:  # INCREMENTAL (a few deleted rows may free no whole page: 0 bytes)
        conn.executescript("PRAGMA incremental_vacuum;")  # steps to the end: execute() frees one page
        (left,) = conn.execute("PRAGMA freelist_count").fetchone()
        return Reclaimed(bytes=(free_pages - left) * page_size, returned_to_disk=True)
    return Reclaimed(bytes=free_pages * page_size, returned_to_disk=False)
