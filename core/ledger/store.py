"""The ledger's interface, and the one place that picks its implementation.

Everything outside the ledger modules talks to a ``LedgerStore``: the SQLite ``Ledger``
(the embedded default) or the ``RedisLedger`` (several flowtui processes on several
machines sharing one queue). Both pass the same contract tests
(``tests/core/test_ledger_contract.py``), so callers never need to know which one they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.clock import SYSTEM_CLOCK, Clock
from core.config.settings import shared_queue_url
from core.jobs import Job, JobEvent, JobState, RunOutcome, Workspace
from core.ledger.prune import DeletedJobs, Reclaimed
from core.ledger.review_relay import ReviewRelay
from core.ledger.sqlite import DEFAULT_LEASE, Ledger, NewJob
from core.ledger.stats import Stats

if TYPE_CHECKING:
    from core.config.settings import Settings
    from core.paths import Paths


@runtime_checkable
class LedgerStore(Protocol):
    """The truth about every job: conditional state changes, each recorded as an event.

    Every transition that can race (claim, approve, cancel, lease renewal, orphan
    recovery) is one atomic check-and-set, so two workers never both win it.
    """

    clock: Clock
    """Where its timestamps come from (every event, claim and lease is stamped by it)."""

    def close(self) -> None: ...

    # -- reading ----------------------------------------------------------------

    def get(self, job_id: int) -> Job | None: ...

    def require(self, job_id: int) -> Job:
        """The job, or ``LedgerError`` naming the missing id."""
        ...

    def list_jobs(self, states: Sequence[JobState] = (), limit: int | None = None) -> list[Job]:
        """Jobs newest first (highest id first), optionally only those in ``states``."""
        ...

    def events(self, job_id: int) -> list[JobEvent]:
        """The job's history, oldest first."""
        ...

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state; every state is present."""
        ...

    def cancel_requested_ids(self) -> list[int]: ...

    def stats(self, days: int) -> Stats: ...

    def integrity_problems(self) -> list[str]:
        """What is broken in the storage itself; empty when all is well."""
        ...

    def spent_since(self, since_utc: str, workflow: str | None = None) -> float:
        """Recorded cost of attempts that ended at or after ``since_utc``."""
        ...

    def expired_leases(self, now_utc: str) -> list[Job]: ...

    def orphans(self) -> list[Job]: ...

    def queued(self) -> list[Job]:
        """Queued jobs in run order: priority (highest first), then age."""
        ...

    def search(self, text: str, limit: int | None = None) -> list[Job]:
        """Jobs whose prompt, answer, error or trigger contains ``text`` (ASCII case-insensitive)."""
        ...

    # -- engine flags -------------------------------------------------------------

    def get_flag(self, key: str) -> str | None: ...

    def set_flag(self, key: str, value: str | None) -> None:
        """Set a flag, or remove it with ``None``."""
        ...

    def flags_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every flag whose key starts with ``prefix`` (a schedule's pauses, the usage readings)."""
        ...

    # -- state changes ------------------------------------------------------------

    def create(self, new: NewJob, reason: str) -> Job: ...

    def claim(
        self, job_id: int, owner_pid: int, owner_host: str = "", lease_seconds: float = DEFAULT_LEASE
    ) -> Job | None:
        """queued -> running with a lease; None when the job is not queued (any more)."""
        ...

    def record_process(self, job_id: int, pid: int, started: float, transcript_path: str) -> None: ...

    def finish(self, job_id: int, outcome: RunOutcome) -> Job:
        """-> a final state; the event carries the attempt's cost."""
        ...

    def requeue(
        self,
        job_id: int,
        reason: str,
        run_after: str | None,
        refund_attempt: bool = False,
        outcome: RunOutcome | None = None,
    ) -> Job:
        """-> queued again, keeping what the ended attempt reported (cost, session, error)."""
        ...

    def defer(self, job_id: int, run_after: str, reason: str) -> bool: ...

    def approve(self, job_id: int, reason: str) -> bool:
        """awaiting_approval -> queued; False when it was not awaiting approval."""
        ...

    def cancel_queued(self, job_id: int, reason: str) -> bool:
        """queued or awaiting_approval -> cancelled; False otherwise."""
        ...

    def request_cancel(self, job_id: int, reason: str) -> bool:
        """Mark a running job for cancelling; False when it is not running."""
        ...

    def set_workspace(self, job_id: int, workspace: Workspace, reason: str | None) -> Job:
        """Record the repository (and worktree) the job works in, with a history line when
        ``reason`` is given; an isolated job's changes wait for review from here on."""
        ...

    def record_trees(self, job_id: int, before: str | None, after: str | None, reason: str | None) -> None:
        """The working tree before an attempt (kept only from the first) and after it (the
        latest), with a history line when ``reason`` is given."""
        ...

    def set_review(self, job_id: int, review: str, reason: str) -> bool:
        """What became of the job's worktree changes; False when it has no worktree or is
        already so."""
        ...

    def set_waiting(self, job_id: int, question: str | None, reason: str | None) -> bool:
        """What a running job waits for (a JSON question; None: nothing), with a history line
        when ``reason`` is given; False when the job is not running."""
        ...

    def post_input(self, job_id: int, entry: str, reason: str) -> bool:
        """Keep an answer or a message (JSON) for a running job until its engine takes it;
        False when the job is not running."""
        ...

    def input_job_ids(self) -> set[int]:
        """Jobs with inputs not yet taken by their engine."""
        ...

    def take_inputs(self, job_id: int) -> list[str]:
        """The job's kept inputs, oldest first; each is taken once."""
        ...

    def allow_always(self, job_id: int, tool: str) -> None:
        """Remember that ``tool`` needs no question for the rest of the job."""
        ...

    def renew_leases(
        self, job_ids: Sequence[int], owner_pid: int, owner_host: str, lease_seconds: float
    ) -> set[int]:
        """Extend the leases this worker still holds; returns those ids."""
        ...

    def recover_orphan(self, job: Job, reason: str) -> JobState | None:
        """Requeue (or fail, or cancel) an interrupted run, once: None when it is no longer
        the run described by ``job``."""
        ...

    def note(self, job_id: int, reason: str) -> None: ...

    def review_relay(self) -> ReviewRelay | None:
        """How keep and discard reach the machine with a job's worktree; None for a ledger
        that only one machine uses (SQLite)."""
        ...

    def rewrite_waiting(self, job_id: int, prompt: str, trigger: str | None, reason: str) -> Job | None: ...

    # -- retention ------------------------------------------------------------------

    def delete_finished(self, before_utc: str, dry_run: bool = False) -> DeletedJobs:
        """Delete jobs that finished before ``before_utc``, with their events and inputs:
        never an unfinished job, one whose worktree changes wait for review, or one a job
        that stays was made from. ``dry_run`` deletes nothing and says what it would."""
        ...

    def reclaim_space(self) -> Reclaimed:
        """After deleting: give the space back where the storage can, and say how much."""
        ...


def open_ledger(
    settings: Settings,
    paths: Paths,
    environ: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> LedgerStore:
    """The configured ledger: SQLite in the data dir, or Redis when a Redis URL is set."""
    redis_url = shared_queue_url(settings.queue.backend, environ)
    if redis_url is None:
        return Ledger(paths.ledger_db, settings.ledger.synchronous, clock)
    # Imported here so the embedded default never loads the Redis client.
    from core.extras import REDIS, require

    require(REDIS)
    from core.ledger.redis import RedisLedger

    return RedisLedger(redis_url, clock=clock)
