"""One attempt of one job: the request built from the job's row and its workflow, and what the
run tells on the way (its process, its notes, its output) written to the ledger and the bus.
Apart from the engine so what an attempt sees reads in one place, beside the stand-in's shape.

The attempt marks its transcript where its run starts and, when the run did not end by itself,
how and after how long it was ended: a run interrupted by a stop and its re-run share one file."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.claude.conversation import ConversationHooks, Question, describe_input, input_from_json
from core.claude.events import ANSWER_EVENTS, ClaudeEvent, RateLimit
from core.claude.limits import USAGE_PREFIX, reading_of
from core.claude.runner import EventCallback, NoteCallback, RunControl, RunEnd, RunRequest, SpawnCallback
from core.claude.tool_preview import preview
from core.claude.transcript import append_marker, run_ended_record, run_started_record
from core.config.settings import Settings, WorkflowSettings
from core.engine.workspace import WorkspaceFailed, record_after, start_recording
from core.errors import ConfigError, describe_os_error
from core.events import EventBus, JobOutput, QuestionChanged
from core.jobs import Job, JobState, RunOutcome
from core.ledger.store import LedgerStore
from core.paths import Paths

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What runs one attempt: the Claude runner, or a stand-in in benchmarks."""

    def run(
        self,
        request: RunRequest,
        control: RunControl,
        on_spawn: SpawnCallback,
        on_note: NoteCallback,
        on_event: EventCallback | None = None,
    ) -> RunOutcome: ...


def run_attempt(
    job: Job,
    run_control: RunControl,
    *,
    settings: Settings,
    paths: Paths,
    ledger: LedgerStore,
    runner: Runner,
    bus: EventBus,
    on_change: Callable[[], None] = lambda: None,
    host: str | None = None,
) -> RunOutcome:
    """Run the claimed ``job`` once; a workflow the config no longer has fails it for good.

    ``on_change`` tells every surface that the job's question changed (asked, answered);
    ``host`` is this machine's name, recorded with the job's repository and worktree."""
    try:
        workflow = settings.workflow(job.workflow)
    except ConfigError as error:
        return RunOutcome(state=JobState.FAILED, error=str(error))
    if job.cancel_requested:
        run_control.cancel("cancelled by the user")
    try:
        job, before = start_recording(job, workflow, paths, ledger, host)
    except WorkspaceFailed as error:
        return RunOutcome(state=JobState.FAILED, error=str(error))
    try:
        return _run(job, run_control, workflow, paths, ledger, runner, bus, on_change)
    finally:
        record_after(job, before, ledger)


def _run(
    job: Job,
    run_control: RunControl,
    workflow: WorkflowSettings,
    paths: Paths,
    ledger: LedgerStore,
    runner: Runner,
    bus: EventBus,
    on_change: Callable[[], None],
) -> RunOutcome:
    transcript = paths.transcript_for(job.id, job.attempts)
    request = RunRequest(
        job_id=job.id,
        attempt=job.attempts,
        prompt=job.prompt,
        cwd=job.run_directory,
        workflow=workflow,
        transcript=transcript,
        resume_session=job.resume_session_id,
        always_allowed=tuple(job.always_allowed_tools),
    )

    def on_waiting(question: Question | None) -> None:
        reason = None
        if question is not None:
            reason = f"asks to use {question.tool}: {describe_input(question.input)}"
        kept = question.to_json() if question else None
        if ledger.set_waiting(job.id, kept, reason):
            shown = preview(question.tool, question.input, job.run_directory) if question else None
            bus.publish(QuestionChanged(job.id, json.loads(kept) if kept else None, shown))
        on_change()

    run_control.hooks = ConversationHooks(
        on_waiting=on_waiting,
        on_note=lambda text: ledger.note(job.id, text),
        on_always=lambda tool: ledger.allow_always(job.id, tool),
    )

    clock = ledger.clock
    spawned_at: list[datetime] = []

    def on_spawn(pid: int, started: float) -> None:
        spawned_at.append(clock.now())
        mark_transcript(transcript, run_started_record(clock, job.attempts))
        ledger.record_process(job.id, pid, started, str(transcript))
        # A cancel may have arrived between the claim and the spawn.
        if job.id in ledger.cancel_requested_ids():
            run_control.cancel("cancelled by the user")
        deliver_inputs(ledger, job.id, run_control)

    def on_note(text: str) -> None:
        ledger.note(job.id, text)

    def on_events(events: list[ClaudeEvent]) -> None:
        if not run_control.answered and any(isinstance(event, ANSWER_EVENTS) for event in events):
            run_control.mark_answered()
        for event in events:
            if isinstance(event, RateLimit):
                record_usage(ledger, event)
        bus.publish(JobOutput(job_id=job.id, attempt=job.attempts, events=events))

    outcome = runner.run(request, run_control, on_spawn, on_note, on_events)
    if spawned_at and run_control.ended is not RunEnd.FINISHED:
        seconds = (clock.now() - spawned_at[0]).total_seconds()
        mark_transcript(
            transcript, run_ended_record(clock, run_control.ended.value, run_control.reason, seconds)
        )
    return outcome


def record_usage(ledger: LedgerStore, event: RateLimit) -> None:
    """Keep the subscription window's latest reading (``flowtui stats``, the header, the
    proactive pause read it); a reading that cannot be written costs the reading, never the run."""
    reading = reading_of(event, ledger.clock)
    if reading is None:
        return
    try:
        ledger.set_flag(USAGE_PREFIX + reading.window, reading.to_json())
    except Exception as error:  # a full disk, Redis away: the next reading tries again
        log.warning("cannot keep the %s usage reading: %s", reading.window, error)


def mark_transcript(transcript: Path, record: dict[str, Any]) -> None:
    """A marker that cannot be written (a full disk) costs the marker, never the run."""
    try:
        append_marker(transcript, record)
    except OSError as error:
        log.warning("cannot mark the transcript %s: %s", transcript, describe_os_error(error))


def deliver_inputs(ledger: LedgerStore, job_id: int, run_control: RunControl) -> None:
    """Hand the run the answers and messages the ledger keeps for it (each is taken once)."""
    for text in ledger.take_inputs(job_id):
        entry = input_from_json(text)
        if entry is None:
            ledger.note(job_id, "an input this version does not understand was skipped")
        else:
            run_control.deliver(entry)
