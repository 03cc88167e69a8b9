"""The job record and its vocabulary, shared by the ledger, the engine and every surface."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.clock import parse_time

if TYPE_CHECKING:
    from core.claude.limits import LimitHit


class JobState(StrEnum):
    """Where a job is in its life; the final three never change again."""

    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
NEEDS_YOU = "needs-you"
"""What the state filters (``flowtui jobs --state``, the window's ``state:``) call a running job
that waits for a person's answer: running in the ledger, a state of its own to a person."""


REVIEW_PENDING = "pending"
REVIEW_KEPT = "kept"
REVIEW_DISCARDED = "discarded"


@dataclass(frozen=True)
class Workspace:
    """Where in git a job works: the repository, and its own worktree when it is isolated."""

    git_root: str
    worktree: str | None = None
    branch: str | None = None
    base_branch: str | None = None
    base_commit: str | None = None
    host: str | None = None
    """The machine whose disk holds the repository and the worktree (the one that ran the job)."""

    @property
    def isolated(self) -> bool:
        return self.worktree is not None

    @property
    def recorded_root(self) -> str:
        """The working tree whose state is recorded before and after each attempt."""
        return self.worktree or self.git_root


class JobSource(StrEnum):
    """What queued a job, so surfaces and stats can tell triggers apart."""

    CLI = "cli"
    TUI = "tui"
    WATCH = "watch"
    TELEGRAM = "telegram"
    SCHEDULE = "schedule"
    RETRY = "retry"
    HTTP = "http"


@dataclass(frozen=True)
class Job:
    """One row of the ``jobs`` table; field names are the ledger's column names."""

    id: int
    workflow: str
    prompt: str
    source: str
    cwd: str
    trigger: str | None
    state: JobState
    attempts: int
    max_attempts: int
    priority: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    run_after: str | None
    exit_code: int | None
    error: str | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None
    turns: int | None
    session_id: str | None
    resume_session_id: str | None
    answer: str | None
    transcript_path: str | None
    parent_id: int | None
    owner_pid: int | None
    owner_host: str | None
    lease_until: str | None
    claude_pid: int | None
    claude_started: float | None
    cancel_requested: bool
    waiting_for: str | None
    """The question the running job waits on, as JSON (kind, tool, input, asked_at, request_id)."""
    always_allowed: str | None
    """Tools a person allowed for the rest of this job (its retries and follow-ups), as a JSON list."""
    git_root: str | None
    """The top of the git repository the job's directory was in when it started (None: not in git)."""
    worktree: str | None
    """The job's own worktree (``isolation = "worktree"``); retries and follow-ups run there too."""
    branch: str | None
    """The worktree's branch, ``flowtui/job-ID`` (ID: the job that made the worktree)."""
    base_branch: str | None
    """The branch the repository had checked out at the job's start: where ``keep`` merges."""
    base_commit: str | None
    """The repository's ``HEAD`` commit at the job's start."""
    tree_before: str | None
    """The working tree as a git tree object before the job's first attempt."""
    tree_after: str | None
    """The working tree as a git tree object after the job's latest attempt."""
    review: str | None
    """What became of a worktree's changes: ``pending`` (to review), ``kept`` or ``discarded``."""
    structured_output: str | None = None
    """The latest attempt's structured output (a ``json_schema`` workflow), as JSON text."""
    git_host: str | None = None
    """The machine the job's repository and worktree are on (None: recorded before flowtui knew)."""

    @property
    def eta(self) -> datetime | None:
        """When the queue may run it (a retry's delay, tomorrow for a budget), None for now."""
        return parse_time(self.run_after) if self.run_after else None

    @property
    def question(self) -> dict[str, Any] | None:
        """What the job waits for, decoded; None when it waits for nothing."""
        if not self.waiting_for:
            return None
        value = json.loads(self.waiting_for)
        return value if isinstance(value, dict) else None

    @property
    def needs_you(self) -> bool:
        """It runs and waits for a person to answer its tool question (``NEEDS_YOU``)."""
        return self.state is JobState.RUNNING and self.question is not None

    @property
    def always_allowed_tools(self) -> list[str]:
        if not self.always_allowed:
            return []
        value = json.loads(self.always_allowed)
        return [str(tool) for tool in value] if isinstance(value, list) else []

    @property
    def workspace(self) -> Workspace | None:
        """Where in git the job works, None when its directory is not in a repository."""
        if self.git_root is None:
            return None
        return Workspace(
            git_root=self.git_root,
            worktree=self.worktree,
            branch=self.branch,
            base_branch=self.base_branch,
            base_commit=self.base_commit,
            host=self.git_host,
        )

    @property
    def run_directory(self) -> str:
        """Where Claude runs: the job's directory, or the same place inside its worktree."""
        if self.worktree is None or self.git_root is None:
            return self.cwd
        relative = os.path.relpath(self.cwd, self.git_root)
        return self.worktree if relative == os.curdir else os.path.join(self.worktree, relative)

    @property
    def changes_to_review(self) -> bool:
        """A finished job whose worktree is neither kept nor discarded yet."""
        return self.review == REVIEW_PENDING and self.state.is_final

    @classmethod
    def from_row(cls, row: Any) -> Job:
        values = dict(row)
        values["state"] = JobState(values["state"])
        values["cancel_requested"] = bool(values["cancel_requested"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = str(self.state)
        data["waiting_for"] = self.question
        data["always_allowed"] = self.always_allowed_tools
        data["changes_to_review"] = self.changes_to_review
        data["structured_output"] = self.structured_value
        return data

    @property
    def structured_value(self) -> Any:
        """The structured output decoded (None when the job has none)."""
        return json.loads(self.structured_output) if self.structured_output else None


JOB_COLUMNS = tuple(field.name for field in fields(Job))


@dataclass(frozen=True)
class JobEvent:
    """One line of a job's history: a state change or a notable moment, with why."""

    id: int
    job_id: int
    at: str
    state: str
    reason: str
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunOutcome:
    """What one attempt of a job came to, as the runner saw it."""

    state: JobState
    error: str | None = None
    exit_code: int | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    turns: int | None = None
    session_id: str | None = None
    answer: str | None = None
    structured_output: str | None = None
    """A ``json_schema`` run's structured output, as JSON text."""
    retryable: bool = False
    limit: LimitHit | None = None
    """Set when the account's usage or rate limit was hit: requeue without an attempt, pause."""
