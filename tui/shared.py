"""What the dashboard is handed: the door it acts through and the snapshots it draws.

Everything here that reads or writes blocks (SQLite, Redis, the config file): the window
calls it from thread workers only, so a slow or stalled store never freezes the screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.message import Message

from core.claude.locate import DOCTOR_HINT, ClaudeCheck, start_failure
from core.claude.tool_preview import ToolPreview, preview
from core.config.settings import Settings
from core.host.session import Session
from core.jobs import Job, JobState
from core.ops.control import Control
from core.ops.overview import Overview, read_overview
from core.paths import Paths
from tui.sources import Sources
from tui.widgets.side_lists import NotificationRow, WatchRow


@dataclass(frozen=True)
class Door:
    """The session, the panes' sources and where files live, handed down to the dashboard."""

    session: Session
    sources: Sources
    paths: Paths
    default_cwd: Path
    """Where new jobs run unless the user says otherwise."""
    claude_check: ClaudeCheck = field(default_factory=ClaudeCheck, compare=False)
    """Remembers whether this window's engine can start the Claude CLI (asked once a minute)."""
    previews: dict[str, ToolPreview] = field(default_factory=dict, compare=False)
    """The preview of each open question by its request id, made once (a file edit's diff
    reads the file): only the read's thread uses it, one read at a time."""

    @property
    def control(self) -> Control:
        """The operations door, read at each call: the engine's start replaces it."""
        return self.session.control


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard draws, read in one go; a newer one makes an older one moot."""

    generation: int
    """Counts up with each read the window starts, so a late answer never replaces a newer one."""
    overview: Overview
    watches: tuple[WatchRow, ...]
    notifications: tuple[NotificationRow, ...]
    telegram: str
    leader: str | None
    session: str
    """Which engine this window is (or is attached to), as the status line says it."""
    watch_workflows: tuple[str, ...]
    """The workflows of the config as it is on disk now (the add-watch dialog offers them)."""
    taken_at: datetime
    claude_problem: str | None = None
    """Why the Claude CLI cannot start (missing, or the newest job failed to start it), with
    the hint to run the doctor; None when nothing says so."""
    telegram_configured: bool = False
    """The config has a ``[telegram]`` section (the empty window says how to add one)."""
    config_note: str | None = None
    """The config's error (the last good one is in use) or what waits for a restart, as the
    header says it; None when the file on disk is what runs."""
    questions: tuple[Job, ...] = ()
    """Running jobs that wait for a person's answer, oldest question first (read on their own:
    the newest-first job list may not reach a job that started long ago)."""
    previews: Mapping[int, ToolPreview] = field(default_factory=dict)
    """What each waiting question would run or change, by job id."""

    def job(self, job_id: int) -> Job | None:
        found = next((job for job in self.overview.jobs if job.id == job_id), None)
        return found or next((job for job in self.questions if job.id == job_id), None)

    def with_question(
        self, job_id: int, question: dict[str, Any] | None, made: ToolPreview | None, generation: int
    ) -> Snapshot | None:
        """This state with ``job_id``'s question asked (or ended: None), as the engine just
        said it; None when this state does not hold the job running (a read must tell)."""
        job = self.job(job_id)
        if job is None or job.state is not JobState.RUNNING:
            return None
        changed = replace(job, waiting_for=json.dumps(question) if question is not None else None)
        others = tuple(asking for asking in self.questions if asking.id != job_id)
        questions = (*others, changed) if question is not None else others
        previews = {key: value for key, value in self.previews.items() if key != job_id}
        if question is not None and made is not None:
            previews[job_id] = made
        jobs = [changed if listed.id == job_id else listed for listed in self.overview.jobs]
        return replace(
            self,
            generation=generation,
            overview=replace(self.overview, jobs=jobs),
            questions=questions,
            previews=previews,
        )

    @property
    def jobs(self) -> list[Job]:
        """The Jobs pane's rows: the jobs read, and every job that needs an answer."""
        listed = {job.id for job in self.overview.jobs}
        return [*self.overview.jobs, *(job for job in self.questions if job.id not in listed)]


def question_of(job: Job) -> dict[str, Any]:
    """The job's question (empty when it waits for none)."""
    return job.question or {}


def read_snapshot(door: Door, generation: int) -> Snapshot:
    """Read the whole shared state the dashboard shows (blocks: call it from a thread)."""
    sources = door.sources
    leader = sources.leader()
    telegram = sources.telegram_state()
    overview = read_overview(door.control)
    questions = tuple(door.control.questions())
    settings = sources.current_settings()
    return Snapshot(
        generation=generation,
        overview=overview,
        watches=tuple(sources.watch_rows()),
        notifications=tuple(sources.notification_rows()),
        telegram=telegram,
        leader=leader,
        session=door.session.describe(),
        watch_workflows=tuple(settings.workflow_names()),
        taken_at=door.session.clock.now(),
        claude_problem=claude_problem(door, settings, overview.jobs),
        telegram_configured=settings.telegram is not None,
        config_note=door.control.live.header_note(),
        questions=questions,
        previews=question_previews(door, questions),
    )


def question_previews(door: Door, questions: tuple[Job, ...]) -> dict[int, ToolPreview]:
    """Each waiting question's preview, made once per question (blocks: a file is read)."""
    kept = door.previews
    previews = {}
    for job in questions:
        question = question_of(job)
        request_id = str(question.get("request_id", ""))
        made = kept.get(request_id)
        if made is None:
            tool_input = question.get("input")
            made = preview(
                str(question.get("tool") or "the tool"),
                tool_input if isinstance(tool_input, dict) else {},
                job.run_directory,
            )
        previews[job.id] = made
        kept[request_id] = made
    for request_id in set(kept) - {str(question_of(job).get("request_id", "")) for job in questions}:
        del kept[request_id]  # answered: its preview is not shown again
    return previews


def claude_problem(door: Door, settings: Settings, jobs: list[Job]) -> str | None:
    """What stops Claude from starting, as the header says it: the newest job's failure to
    start it, or (for the engine this window runs) a command the PATH does not have."""
    failure = start_failure(jobs)
    if failure is not None:
        return f"Claude failed to start: {failure} · {DOCTOR_HINT}"
    session = door.session
    if session.engine is None and not session.engine_pending:
        return None  # another process runs the jobs, with its own PATH
    command = settings.claude_command(session.environ)
    missing = door.claude_check.problem(command, session.environ, session.clock)
    return f"{missing} · {DOCTOR_HINT}" if missing is not None else None


class SnapshotRead(Message, bubble=False):
    """A read of the shared state answered (posted from the read's thread)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotRead)  # a newer snapshot makes this one moot


class SnapshotFailed(Message, bubble=False):
    """A read of the shared state failed: the one line that says why."""

    def __init__(self, generation: int, reason: str) -> None:
        super().__init__()
        self.generation = generation
        self.reason = reason
