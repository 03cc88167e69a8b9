"""The job ledger: a SQLite file that is the truth about every job.

Huey's queue only carries job ids; whatever happens to a queue entry (a crash takes
it, a duplicate appears), the ledger's conditional state changes decide what runs.
Every state change also appends a row to ``job_events`` with its time and reason.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.clock import SYSTEM_CLOCK, Clock, to_iso
from core.jobs import JOB_COLUMNS, REVIEW_PENDING, Job, JobEvent, JobState, RunOutcome, Workspace
from core.ledger.prune import DeletedJobs, Reclaimed, delete_finished, reclaim
from core.ledger.schema import create_or_migrate
from core.ledger.stats import Stats, collect_stats

DEFAULT_LEASE = 30.0
"""Seconds a running job's lease lasts without renewal (``[queue] lease_seconds``)."""

_SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
# Writes return the changed row in the same statement instead of reading it again.
_RETURNING_JOB = f" RETURNING {', '.join(JOB_COLUMNS)}"


class LedgerError(Exception):
    """The ledger could not do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class NewJob:
    """What a trigger asks for; the ledger turns it into a queued job."""

    prompt: str
    workflow: str
    source: str
    cwd: str
    max_attempts: int
    priority: int = 0
    parent_id: int | None = None
    trigger: str | None = None
    """What started it, for people: the changed file, the chat, the schedule."""
    resume_session_id: str | None = None
    """A follow-up continues this Claude session (``--resume``)."""
    awaiting_approval: bool = False
    always_allowed: tuple[str, ...] = ()
    """Tools already allowed for the whole job (a follow-up keeps its parent's)."""
    workspace: Workspace | None = None
    """A follow-up or retry of an isolated job continues in its worktree."""


class Ledger:
    """Thread-safe access to the ledger file; one connection, short transactions."""

    def __init__(self, path: Path, synchronous: str = "normal", clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        if self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            # Only a new file takes it (before WAL): pruning gives deleted rows' pages back to the disk.
            self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        with self._write():
            create_or_migrate(self._conn)
        self._conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is taken up front, so no upgrade deadlock.
        Nested calls (from this thread) join the transaction already open."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _event(
        self, conn: sqlite3.Connection, job_id: int, state: str, reason: str, cost_usd: float | None = None
    ) -> None:
        """A history line; the one ending an attempt carries that attempt's cost (for budgets)."""
        conn.execute(
            "INSERT INTO job_events (job_id, at, state, reason, cost_usd) VALUES (?, ?, ?, ?, ?)",
            (job_id, self.clock.iso(), state, reason, cost_usd),
        )

    # -- reading ---------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._conn.execute(f"{_SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def require(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job is None:
            raise LedgerError(f"no job #{job_id}: see `flowtui jobs` for the ids that exist")
        return job

    def list_jobs(self, states: Sequence[JobState] = (), limit: int | None = None) -> list[Job]:
        """Jobs newest first, optionally only those in the given states."""
        query = _SELECT_JOB
        params: list[object] = []
        if states:
            query += f" WHERE state IN ({', '.join('?' for _ in states)})"
            params.extend(str(state) for state in states)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [Job.from_row(row) for row in rows]

    def events(self, job_id: int) -> list[JobEvent]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, job_id, at, state, reason, cost_usd FROM job_events WHERE job_id = ? ORDER BY id",
                (job_id,),
            ).fetchall()
        return [JobEvent(**dict(row)) for row in rows]

    def counts(self) -> dict[JobState, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
        found = {JobState(state): count for state, count in rows}
        return {state: found.get(state, 0) for state in JobState}

    def cancel_requested_ids(self) -> list[int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM jobs WHERE state = 'running' AND cancel_requested = 1"
            ).fetchall()
        return [row[0] for row in rows]

    def stats(self, days: int) -> Stats:
        with self._lock:
            return collect_stats(self._conn, days, self.clock)

    def integrity_problems(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return [row[0] for row in rows if row[0] != "ok"]

    # -- engine flags (pause survives a restart) ---------------------------------

    def get_flag(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM engine_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def flags_with_prefix(self, prefix: str) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM engine_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def set_flag(self, key: str, value: str | None) -> None:
        with self._write() as conn:
            if value is None:
                conn.execute("DELETE FROM engine_state WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO engine_state (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    (key, value, self.clock.iso()),
                )

    # -- state changes ---------------------------------------------------------

    def create(self, new: NewJob, reason: str) -> Job:
        with self._write() as conn:
            state = "awaiting_approval" if new.awaiting_approval else "queued"
            workspace = workspace_columns(new.workspace)
            cursor = conn.execute(
                "INSERT INTO jobs (workflow, prompt, source, cwd, trigger, state, max_attempts,"
                " priority, created_at, parent_id, resume_session_id, always_allowed, "
                + ", ".join(workspace)
                + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                + ", ?" * len(workspace)
                + ")"
                + _RETURNING_JOB,
                (
                    new.workflow,
                    new.prompt,
                    new.source,
                    new.cwd,
                    new.trigger,
                    state,
                    new.max_attempts,
                    new.priority,
                    self.clock.iso(),
                    new.parent_id,
                    new.resume_session_id,
                    encode_tools(new.always_allowed),
                    *workspace.values(),
                ),
            )
            job = _single_job(cursor)
            self._event(conn, job.id, state, reason)
        return job

    def claim(
        self, job_id: int, owner_pid: int, owner_host: str = "", lease_seconds: float = DEFAULT_LEASE
    ) -> Job | None:
        """queued -> running, counting the attempt and taking a lease on it; None when the job
        is not queued any more (another worker has it, or it was cancelled)."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?,"
                " finished_at = NULL, run_after = NULL, owner_pid = ?, owner_host = ?, lease_until = ?,"
                " claude_pid = NULL, claude_started = NULL, cancel_requested = 0, waiting_for = NULL"
                " WHERE id = ? AND state = 'queued'" + _RETURNING_JOB,
                (self.clock.iso(), owner_pid, owner_host, lease_deadline(self.clock, lease_seconds), job_id),
            )
            rows = cursor.fetchall()
            if not rows:
                return None
            job = Job.from_row(rows[0])
            self._event(conn, job_id, "running", f"attempt {job.attempts} of {job.max_attempts} started")
        return job

    def record_process(self, job_id: int, pid: int, started: float, transcript_path: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET claude_pid = ?, claude_started = ?, transcript_path = ? WHERE id = ?",
                (pid, started, transcript_path, job_id),
            )
            self._event(conn, job_id, "running", f"claude started (pid {pid})")

    def finish(self, job_id: int, outcome: RunOutcome) -> Job:
        """running -> a final state, with what the run reported."""
        reason = outcome.error or ("cancelled" if outcome.state is JobState.CANCELLED else "done")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, exit_code = ?, error = ?,"
                " cost_usd = coalesce(cost_usd + ?, ?, cost_usd), input_tokens = coalesce(?, input_tokens),"
                " output_tokens = coalesce(?, output_tokens), turns = coalesce(?, turns),"
                " session_id = coalesce(?, session_id), answer = ?, structured_output = ?,"
                " owner_pid = NULL, owner_host = NULL, lease_until = NULL, claude_pid = NULL,"
                " claude_started = NULL, waiting_for = NULL,"
                " cancel_requested = 0 WHERE id = ?" + _RETURNING_JOB,
                (
                    str(outcome.state),
                    self.clock.iso(),
                    outcome.exit_code,
                    outcome.error,
                    outcome.cost_usd,
                    outcome.cost_usd,
                    outcome.input_tokens,
                    outcome.output_tokens,
                    outcome.turns,
                    outcome.session_id,
                    outcome.answer,
                    outcome.structured_output,
                    job_id,
                ),
            )
            job = _single_job(cursor)
            conn.execute("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))
            self._event(conn, job_id, str(outcome.state), reason, outcome.cost_usd)
        return job

    def requeue(
        self,
        job_id: int,
        reason: str,
        run_after: str | None,
        refund_attempt: bool = False,
        outcome: RunOutcome | None = None,
    ) -> Job:
        """running -> queued again (a retry, or a run the engine itself interrupted); what the
        ended attempt reported (cost, session, error) is kept."""
        cost = outcome.cost_usd if outcome else None
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'queued', run_after = ?, owner_pid = NULL, owner_host = NULL,"
                " lease_until = NULL,"
                " claude_pid = NULL, claude_started = NULL, cancel_requested = 0, waiting_for = NULL,"
                " attempts = attempts - ?, cost_usd = coalesce(cost_usd + ?, ?, cost_usd),"
                " error = coalesce(?, error), session_id = coalesce(?, session_id)"
                " WHERE id = ?" + _RETURNING_JOB,
                (
                    run_after,
                    1 if refund_attempt else 0,
                    cost,
                    cost,
                    outcome.error if outcome else None,
                    outcome.session_id if outcome else None,
                    job_id,
                ),
            )
            job = _single_job(cursor)
            self._event(conn, job_id, "queued", reason, cost)
        return job

    def defer(self, job_id: int, run_after: str, reason: str) -> bool:
        """A queued job waits until ``run_after`` (a workflow over its budget)."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET run_after = ? WHERE id = ? AND state = 'queued'", (run_after, job_id)
            )
            if cursor.rowcount:
                self._event(conn, job_id, "queued", reason)
            return bool(cursor.rowcount)

    def spent_since(self, since_utc: str, workflow: str | None = None) -> float:
        """Recorded cost of attempts that ended at or after ``since_utc``."""
        query = "SELECT coalesce(sum(e.cost_usd), 0) FROM job_events e"
        params: list[object] = [since_utc]
        if workflow is not None:
            query += " JOIN jobs j ON j.id = e.job_id WHERE e.at >= ? AND j.workflow = ?"
            params.append(workflow)
        else:
            query += " WHERE e.at >= ?"
        with self._lock:
            return float(self._conn.execute(query, params).fetchone()[0])

    def approve(self, job_id: int, reason: str) -> bool:
        """awaiting_approval -> queued."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'awaiting_approval'",
                (job_id,),
            )
            if cursor.rowcount:
                self._event(conn, job_id, "queued", reason)
            return bool(cursor.rowcount)

    def cancel_queued(self, job_id: int, reason: str) -> bool:
        """queued (or awaiting approval) -> cancelled."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?, run_after = NULL"
                " WHERE id = ? AND state IN ('queued', 'awaiting_approval')",
                (self.clock.iso(), job_id),
            )
            if cursor.rowcount:
                self._event(conn, job_id, "cancelled", reason)
            return bool(cursor.rowcount)

    def request_cancel(self, job_id: int, reason: str) -> bool:
        """Mark a running job for cancelling; the engine that runs it ends it."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'",
                (job_id,),
            )
            if cursor.rowcount:
                self._event(conn, job_id, "running", f"cancel requested: {reason}")
            return bool(cursor.rowcount)

    # -- where in git a job works, and what it changed ----------------------------------

    def set_workspace(self, job_id: int, workspace: Workspace, reason: str | None) -> Job:
        """Record the repository (and worktree) a job works in; an isolated job's changes wait
        for review from here on."""
        columns = workspace_columns(workspace)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?" + _RETURNING_JOB,
                (*columns.values(), job_id),
            )
            job = _single_job(cursor)
            if reason:
                self._event(conn, job_id, str(job.state), reason)
        return job

    def record_trees(self, job_id: int, before: str | None, after: str | None, reason: str | None) -> None:
        """The working tree before an attempt (kept only from the first) and after it (the latest)."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET tree_before = coalesce(tree_before, ?), tree_after = coalesce(?, tree_after)"
                " WHERE id = ? RETURNING state",
                (before, after, job_id),
            )
            rows = cursor.fetchall()
            if rows and reason:
                self._event(conn, job_id, rows[0][0], reason)

    def set_review(self, job_id: int, review: str, reason: str) -> bool:
        """What became of the job's worktree changes; False when it has no worktree or is
        already so."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET review = ? WHERE id = ? AND worktree IS NOT NULL"
                " AND review IS NOT ? RETURNING state",
                (review, job_id, review),
            )
            rows = cursor.fetchall()
            if rows:
                self._event(conn, job_id, rows[0][0], reason)
            return bool(rows)

    # -- questions and messages of a running job ------------------------------------

    def set_waiting(self, job_id: int, question: str | None, reason: str | None) -> bool:
        """What a running job waits for (a JSON question), or None once it waits for nothing."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET waiting_for = ? WHERE id = ? AND state = 'running'", (question, job_id)
            )
            if cursor.rowcount and reason:
                self._event(conn, job_id, "running", reason)
            return bool(cursor.rowcount)

    def post_input(self, job_id: int, entry: str, reason: str) -> bool:
        """Keep an answer or a message for a running job until its engine takes it."""
        with self._write() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row[0] != "running":
                return False
            conn.execute(
                "INSERT INTO job_inputs (job_id, at, entry) VALUES (?, ?, ?)",
                (job_id, self.clock.iso(), entry),
            )
            self._event(conn, job_id, "running", reason)
            return True

    def input_job_ids(self) -> set[int]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT job_id FROM job_inputs").fetchall()
        return {row[0] for row in rows}

    def take_inputs(self, job_id: int) -> list[str]:
        """The job's kept inputs, oldest first, removed as they are taken (each is taken once)."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, entry FROM job_inputs WHERE job_id = ? ORDER BY id", (job_id,)
            ).fetchall()
            if rows:
                conn.execute("DELETE FROM job_inputs WHERE job_id = ? AND id <= ?", (job_id, rows[-1][0]))
        return [row[1] for row in rows]

    def allow_always(self, job_id: int, tool: str) -> None:
        """Remember that ``tool`` needs no question for the rest of the job."""
        with self._write() as conn:
            row = conn.execute("SELECT always_allowed FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return
            tools = decode_tools(row[0])
            if tool not in tools:
                conn.execute(
                    "UPDATE jobs SET always_allowed = ? WHERE id = ?", (encode_tools([*tools, tool]), job_id)
                )

    def renew_leases(
        self, job_ids: Sequence[int], owner_pid: int, owner_host: str, lease_seconds: float
    ) -> set[int]:
        """Extend the leases this worker holds; returns the ids it still owns (a job missing
        from the answer was taken back after its lease ran out, and must be stopped here)."""
        if not job_ids:
            return set()
        marks = ", ".join("?" for _ in job_ids)
        with self._write() as conn:
            rows = conn.execute(
                f"UPDATE jobs SET lease_until = ? WHERE id IN ({marks}) AND state = 'running'"
                " AND owner_pid = ? AND owner_host = ? RETURNING id",
                (lease_deadline(self.clock, lease_seconds), *job_ids, owner_pid, owner_host),
            ).fetchall()
        return {row[0] for row in rows}

    def expired_leases(self, now_utc: str) -> list[Job]:
        """Running jobs whose worker stopped renewing (it died, or lost its connection)."""
        with self._lock:
            rows = self._conn.execute(
                f"{_SELECT_JOB} WHERE state = 'running' AND lease_until IS NOT NULL AND lease_until < ?",
                (now_utc,),
            ).fetchall()
        return [Job.from_row(row) for row in rows]

    def orphans(self) -> list[Job]:
        """Jobs marked running: at engine start, none of them has a live owner."""
        return self.list_jobs(states=[JobState.RUNNING])

    def recover_orphan(self, job: Job, reason: str) -> JobState | None:
        """An interrupted job goes back to queued, or fails once its attempts are spent.

        Only while it is still the same run (running, same attempt, same owner): when two
        engines see the same expired lease, one recovers it and the other gets None.
        """
        with self._write():  # the check and the change in one transaction, across processes
            current = self.get(job.id)
            if current is None or not _same_run(current, job):
                return None
            return self._recover(current, reason)

    def _recover(self, job: Job, reason: str) -> JobState:
        if job.cancel_requested:
            self.finish(job.id, RunOutcome(state=JobState.CANCELLED, error=f"cancelled ({reason})"))
            return JobState.CANCELLED
        if job.attempts >= job.max_attempts:
            outcome = RunOutcome(
                state=JobState.FAILED,
                error=f"{reason}; all {job.max_attempts} attempts spent",
            )
            self.finish(job.id, outcome)
            return JobState.FAILED
        self.requeue(job.id, f"{reason}; will run again", run_after=None)
        return JobState.QUEUED

    def queued(self) -> list[Job]:
        """Queued jobs in the order they should run (priority, then age)."""
        with self._lock:
            rows = self._conn.execute(
                f"{_SELECT_JOB} WHERE state = 'queued' ORDER BY priority DESC, id"
            ).fetchall()
        return [Job.from_row(row) for row in rows]

    def review_relay(self) -> None:
        """One machine uses this file: every worktree is on its disk."""
        return None

    def note(self, job_id: int, reason: str) -> None:
        """A history line that is not a state change (for example a skipped stray line)."""
        with self._write() as conn:
            state = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
            self._event(conn, job_id, state, reason)

    def rewrite_waiting(self, job_id: int, prompt: str, trigger: str | None, reason: str) -> Job | None:
        """Replace a job's prompt while it still waits (queued or awaiting approval), so new
        changes join it instead of queuing a twin; None once a worker has claimed it."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET prompt = ?, trigger = ?"
                " WHERE id = ? AND state IN ('queued', 'awaiting_approval')" + _RETURNING_JOB,
                (prompt, trigger, job_id),
            )
            rows = cursor.fetchall()
            if not rows:
                return None
            job = Job.from_row(rows[0])
            self._event(conn, job_id, str(job.state), reason)
        return job

    # -- retention ------------------------------------------------------------------

    def delete_finished(self, before_utc: str, dry_run: bool = False) -> DeletedJobs:
        """Delete jobs finished before ``before_utc`` with their events and inputs, in one
        transaction (``core.ledger.prune`` says which stay); ``dry_run`` deletes nothing."""
        with self._write() as conn:
            return delete_finished(conn, before_utc, dry_run)

    def reclaim_space(self) -> Reclaimed:
        with self._lock:
            return reclaim(self._conn)

    def search(self, text: str, limit: int | None = None) -> list[Job]:
        """Jobs whose prompt, answer, error or trigger contains ``text``, newest first, so
        a client can find a job by what it was about (case-insensitive for ASCII, as LIKE)."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        columns = ("prompt", "answer", "error", "trigger")
        query = f"{_SELECT_JOB} WHERE " + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in columns)
        params: list[object] = [f"%{escaped}%"] * len(columns)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [Job.from_row(row) for row in rows]


def workspace_columns(workspace: Workspace | None) -> dict[str, str | None]:
    """A workspace as the job's columns; an isolated one starts with its changes to review."""
    if workspace is None:
        return dict.fromkeys(
            ("git_root", "worktree", "branch", "base_branch", "base_commit", "review", "git_host")
        )
    return {
        "git_root": workspace.git_root,
        "worktree": workspace.worktree,
        "branch": workspace.branch,
        "base_branch": workspace.base_branch,
        "base_commit": workspace.base_commit,
        "review": REVIEW_PENDING if workspace.isolated else None,
        "git_host": workspace.host,
    }


def encode_tools(tools: Sequence[str]) -> str | None:
    return json.dumps(list(tools)) if tools else None


def decode_tools(text: str | None) -> list[str]:
    value = json.loads(text) if text else []
    return [str(tool) for tool in value] if isinstance(value, list) else []


def lease_deadline(clock: Clock, lease_seconds: float) -> str:
    return to_iso(clock.now() + timedelta(seconds=lease_seconds))


def _same_run(current: Job, seen: Job) -> bool:
    return (
        current.state is JobState.RUNNING
        and current.attempts == seen.attempts
        and current.owner_pid == seen.owner_pid
        and current.owner_host == seen.owner_host
    )


def _single_job(cursor: sqlite3.Cursor) -> Job:
    """The row a RETURNING write gave back (read to the end, so the statement completes)."""
    rows = cursor.fetchall()
    if not rows:
        raise LedgerError("the job vanished from the ledger while it was being changed")
    return Job.from_row(rows[0])
