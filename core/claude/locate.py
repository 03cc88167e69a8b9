"""Whether the Claude CLI can start, cheaply enough for a window to ask on every refresh.

The runner finds out only when a job starts; a surface wants to say it before, and again
when a job failed to start Claude, with the same words and the ``flowtui doctor`` hint.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.clock import Clock
from core.jobs import Job, JobState

RECHECK_SECONDS = 60.0
"""How long a verdict stands: the CLI being installed meanwhile shows within a minute."""
START_FAILURES = ("claude command ", "[claude] command ", "cannot start ")
"""How the runner's errors begin when the CLI could not be started (core/claude/runner.py)."""
DOCTOR_HINT = "run `flowtui doctor`"


def claude_missing(command: str, environ: Mapping[str, str]) -> str | None:
    """Why ``command`` (the ``[claude] command`` setting, resolved) cannot start, or None."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        return f"[claude] command {command!r} cannot be split: {error}"
    if not argv:
        return "[claude] command is empty"
    if shutil.which(argv[0], path=environ.get("PATH")) is not None:
        return None
    if Path(argv[0]).exists() and not os.access(argv[0], os.X_OK):
        return f"claude command {argv[0]!r} is not executable"
    return f"claude command not found: {argv[0]!r}"


def start_failure(jobs: Iterable[Job]) -> str | None:
    """The error of the newest finished job when it failed to start Claude (newest first in
    ``jobs``); None when the newest finished job got past the start."""
    for job in jobs:
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            error = job.error or ""
            failed_to_start = job.state is JobState.FAILED and error.startswith(START_FAILURES)
            return error if failed_to_start else None
    return None


class ClaudeCheck:
    """:func:`claude_missing`, remembered for ``RECHECK_SECONDS`` of the caller's clock (and
    re-asked at once when the command or the PATH changes)."""

    def __init__(self, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._recheck_seconds = recheck_seconds
        self._asked: tuple[str, str | None] | None = None
        self._checked_at = float("-inf")
        self._verdict: str | None = None

    def problem(self, command: str, environ: Mapping[str, str], clock: Clock) -> str | None:
        asked = (command, environ.get("PATH"))
        now = clock.timestamp()
        if asked != self._asked or now - self._checked_at >= self._recheck_seconds:
            self._asked = asked
            self._checked_at = now
            self._verdict = claude_missing(command, environ)
        return self._verdict
