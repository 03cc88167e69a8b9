"""Telling a running job's own changes from everyone else's.

inotify does not say which process changed a file, so this listens to what the job's
Claude process reports about itself (the engine's ``JobOutput`` events, published as
the lines arrive). A change is the job's own when it arrived while one of the job's
tools that can write was running (between its ``tool_use`` and its ``tool_result``,
widened by the watcher's delivery delay), or touched a file a file tool was given.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from core.claude.events import ClaudeEvent, Finished, ToolCall, ToolResult

READ_ONLY_TOOLS = frozenset(
    {
        "Read",
        "Glob",
        "Grep",
        "LS",
        "WebFetch",
        "WebSearch",
        "TodoWrite",
        "TodoRead",
        "BashOutput",
        "ExitPlanMode",
        "ListMcpResourcesTool",
        "ReadMcpResourceTool",
    }
)
"""Tools that never write files: their calls say nothing about changes."""

FILE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
"""Tools whose one-line summary is the file they write."""

DELIVERY_MARGIN = 0.2
"""Added to watchfiles' own holding time: how late a change may reach the watcher (thread
hand-offs, a busy loop). A person's change arriving within that much of the end of a tool
call is taken for the job's: the price of not knowing who wrote."""
EARLY_SLACK = 0.2
"""How much earlier than we heard of a tool call it may really have started."""


class JobActivity:
    """What one attempt of a watch's job has been doing, as far as file changes go."""

    def __init__(self, job_id: int, cwd: str, started_at: float) -> None:
        self.job_id = job_id
        self._cwd = cwd
        self.started_at = started_at
        self._windows: dict[str, list[float | None]] = {}
        self.own_paths: set[str] = set()
        self.finished_at: float | None = None

    def take(self, events: Iterable[ClaudeEvent], now: float) -> None:
        """Events the job's Claude printed, heard at ``now`` (monotonic seconds)."""
        for event in events:
            if isinstance(event, ToolCall) and event.name not in READ_ONLY_TOOLS:
                key = event.tool_use_id or f"call-{len(self._windows)}"
                self._windows[key] = [now, None]
                if event.name in FILE_TOOLS and event.summary and not event.summary.endswith("…"):
                    self.own_paths.add(os.path.realpath(os.path.join(self._cwd, event.summary)))
            elif isinstance(event, ToolResult) and event.tool_use_id is not None:
                window = self._windows.get(event.tool_use_id)
                if window is not None and window[1] is None:
                    window[1] = now
            elif isinstance(event, Finished):
                self._close_all(now)

    def _close_all(self, now: float) -> None:
        for window in self._windows.values():
            if window[1] is None:
                window[1] = now

    def finish(self, now: float) -> None:
        """The attempt ended: tool calls still open ended with it."""
        self._close_all(now)
        if self.finished_at is None:
            self.finished_at = now

    def owns(self, path: str, arrived: float, late_slack: float) -> bool:
        """Whether a change to ``path`` that reached us at ``arrived`` was made by this job;
        ``late_slack`` is how long after it was made a change may reach us."""
        if self.finished_at is not None and arrived > self.finished_at + late_slack:
            return False
        if arrived < self.started_at - EARLY_SLACK:
            return False
        if path in self.own_paths:
            return True
        for start, end in self._windows.values():
            assert start is not None
            if start - EARLY_SLACK <= arrived and (end is None or end + late_slack >= arrived):
                return True
        return False


class ActivityLog:
    """Activity of every running watch job, fed from the engine's event bus (any thread)."""

    KEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, JobActivity] = {}

    def started(self, job_id: int, cwd: str, now: float) -> None:
        with self._lock:
            self._jobs[job_id] = JobActivity(job_id, cwd, now)
            self._prune(now)

    def output(self, job_id: int, events: Iterable[ClaudeEvent], now: float) -> None:
        with self._lock:
            activity = self._jobs.get(job_id)
            if activity is not None:
                activity.take(events, now)

    def ended(self, job_id: int, now: float) -> None:
        with self._lock:
            activity = self._jobs.get(job_id)
            if activity is not None:
                activity.finish(now)

    def running(self, job_id: int) -> bool:
        """Whether an attempt of this job is being followed and has not ended."""
        with self._lock:
            activity = self._jobs.get(job_id)
            return activity is not None and activity.finished_at is None

    def owns(self, job_ids: Iterable[int], path: str, arrived: float, late_slack: float) -> bool:
        """Whether one of these jobs made the change to ``path`` that arrived at ``arrived``."""
        with self._lock:
            return any(
                activity.owns(path, arrived, late_slack)
                for activity in (self._jobs.get(job_id) for job_id in job_ids)
                if activity is not None
            )

    def _prune(self, now: float) -> None:
        for job_id in [
            job_id
            for job_id, activity in self._jobs.items()
            if activity.finished_at is not None and now > activity.finished_at + self.KEEP_SECONDS
        ]:
            del self._jobs[job_id]
