"""Running one attempt of a job: the Claude Code CLI in its own process group.

Argv only, never a shell; the prompt, answers to Claude's tool questions and messages told
to the run go to its stdin (``core.claude.conversation``). Every stdout line is appended to
the attempt's transcript as it arrives; the ``result`` lines (one per turn) decide the
outcome together with the exit code (the CLI reports API errors as ``subtype: success`` with
``is_error: true``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import IO, Any

from core.claude.conversation import (
    INITIALIZE_REQUEST_ID,
    Conversation,
    ConversationHooks,
    RunInput,
    format_minutes,
)
from core.claude.environment import with_workflow_env
from core.claude.events import ClaudeEvent, Finished, RateLimit, Skipped, UserMessage, parse_event
from core.claude.limits import detect_limit
from core.claude.procs import end_process_group, process_start_time
from core.claude.stream import LineReader, ResultLine, StrayLine, Tick, decode_line
from core.clock import SYSTEM_CLOCK, Clock
from core.config.claude_options import json_schema_text, mcp_config_entries
from core.config.settings import WorkflowSettings
from core.errors import describe_os_error
from core.jobs import JobState, RunOutcome
from core.paths import Paths

STREAM_FLAGS = ("--output-format", "stream-json", "--verbose", "--include-partial-messages")
CONTROL_FLAGS = ("--input-format", "stream-json", "--permission-prompt-tool", "stdio")
"""Stdin carries JSON lines both ways of the control protocol: the prompt, answers, messages."""
MAX_STRAY_NOTES = 5
BUDGET_SUBTYPE = "error_max_budget_usd"
"""The result line's subtype when the CLI stopped a run at ``--max-budget-usd`` (2.1.197: with
``is_error``, exit code 1, no ``result`` text and ``errors: ["Reached maximum budget ($X)"]``)."""


@dataclass(frozen=True)
class RunRequest:
    """What one attempt needs: the job's prompt, directory, workflow options and transcript file."""

    job_id: int
    attempt: int
    prompt: str
    cwd: str
    workflow: WorkflowSettings
    transcript: Path
    resume_session: str | None = None
    always_allowed: tuple[str, ...] = ()
    """Tools a person allowed for the whole job: not asked again."""

    @property
    def timeout_seconds(self) -> float:
        return self.workflow.timeout_minutes * 60

    @property
    def silence_seconds(self) -> float:
        return self.workflow.silence_minutes * 60

    @property
    def permission_timeout_seconds(self) -> float:
        return self.workflow.permission_timeout_minutes * 60


class RunEnd(Enum):
    """Why a run ended, so what happens to its job after it is decided in one place."""

    FINISHED = "finished"
    """The CLI ended by itself: its exit code and result line say how it went."""
    CANCELLED = "cancelled"
    """The user cancelled it: the job ends cancelled."""
    INTERRUPTED = "interrupted"
    """The engine is stopping: the job is queued again without spending an attempt."""
    TIMED_OUT = "timed out"
    """A time limit of the workflow ended it: the job fails (and may be retried)."""
    LEASE_LOST = "lease lost"
    """Another engine took the job back: its ledger row is not this run's to write."""
    SUPERSEDED = "superseded"
    """More of the burst that queued it arrived: the job waits for the rest."""


@dataclass
class RunControl:
    """Lets another thread end a run; carries why and the reason into the outcome."""

    cancel_event: threading.Event = field(default_factory=threading.Event)
    """Set once anything ended the run (``ended`` says what)."""
    ended: RunEnd = RunEnd.FINISHED
    reason: str = "cancelled"
    answered: bool = False
    """Claude has begun to answer: too late to supersede the run."""
    recorded: threading.Event = field(default_factory=threading.Event)
    """Set once the engine has written the run's outcome to the ledger."""
    hooks: ConversationHooks = field(default_factory=ConversationHooks)
    """Where the run's questions, notes and "always" answers go (the engine's ledger)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _conversation: Conversation | None = field(default=None, repr=False)
    _early_inputs: list[RunInput] = field(default_factory=list, repr=False)

    def deliver(self, entry: RunInput) -> None:
        """An answer or a message for this run; kept until Claude's stdin is open."""
        with self._lock:
            conversation = self._conversation
            if conversation is None:
                self._early_inputs.append(entry)
                return
        conversation.receive(entry)

    def attach(self, conversation: Conversation) -> None:
        with self._lock:
            self._conversation = conversation
            early, self._early_inputs = self._early_inputs, []
        for entry in early:
            conversation.receive(entry)

    def _end(self, ended: RunEnd, reason: str) -> bool:
        """The first ending wins; False when the run was ending already."""
        with self._lock:
            if self.cancel_event.is_set():
                return False
            self.ended = ended
            self.reason = reason
            self.cancel_event.set()
            return True

    def cancel(self, reason: str) -> None:
        self._end(RunEnd.CANCELLED, reason)

    def interrupt(self, reason: str) -> None:
        self._end(RunEnd.INTERRUPTED, reason)

    def supersede(self, reason: str) -> bool:
        """End a run Claude has not answered yet, so its job can start over with more input.

        False when it is too late: Claude began answering, or the run is ending anyway.
        """
        with self._lock:
            if self.answered or self.cancel_event.is_set():
                return False
            self.ended = RunEnd.SUPERSEDED
            self.reason = reason
            self.cancel_event.set()
            return True

    def mark_answered(self) -> None:
        with self._lock:
            self.answered = True

    def lose_lease(self, reason: str) -> None:
        self._end(RunEnd.LEASE_LOST, reason)

    def time_out(self, reason: str) -> None:
        self._end(RunEnd.TIMED_OUT, reason)


# The kernel ends Claude when the engine dies (PR_SET_PDEATHSIG, set by util-linux's setpriv,
# which then execs the CLI under the same pid), so a killed engine never leaves a run going
# that another engine is about to take back. Without setpriv, leftovers are ended at recovery.
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
DIE_WITH_ENGINE: tuple[str, ...] = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


def build_argv(command: str, request: RunRequest) -> list[str]:
    """The CLI's argv; the prompt is never in it (it goes to stdin, so no length limit and no
    prompt read as an option)."""
    workflow = request.workflow
    argv = [*shlex.split(command), "-p", *STREAM_FLAGS, *CONTROL_FLAGS]
    if workflow.model:
        argv += ["--model", workflow.model]
    if workflow.permission_mode:
        argv += ["--permission-mode", workflow.permission_mode]
    if workflow.allowed_tools:
        argv += ["--allowedTools", ",".join(workflow.allowed_tools)]
    if workflow.max_turns is not None:
        argv += ["--max-turns", str(workflow.max_turns)]
    if workflow.append_system_prompt:
        argv += ["--append-system-prompt", workflow.append_system_prompt]
    if request.resume_session:
        argv += ["--resume", request.resume_session]
    argv += workflow_flags(workflow)
    return [*argv, *workflow.extra_args]


def workflow_flags(workflow: WorkflowSettings) -> list[str]:
    """The further flags a workflow asks for, spelled as 2.1.197's ``claude --help`` has them.

    Options taking several values (``<dirs...>``) are written ``--flag=VALUE``, so none of them
    swallows the next argument, whatever ``extra_args`` brings after them."""
    flags = [f"--add-dir={os.path.expanduser(path)}" for path in workflow.add_dirs]
    if workflow.disallowed_tools:
        flags.append(f"--disallowedTools={','.join(workflow.disallowed_tools)}")
    for entry in mcp_config_entries(workflow.mcp_config):
        flags.append(f"--mcp-config={entry if entry.lstrip().startswith('{') else os.path.expanduser(entry)}")
    if workflow.strict_mcp_config:
        flags.append("--strict-mcp-config")
    if workflow.effort:
        flags += ["--effort", workflow.effort]
    if workflow.fallback_model:
        flags += ["--fallback-model", workflow.fallback_model]
    if workflow.max_budget_usd is not None:
        flags += ["--max-budget-usd", repr(workflow.max_budget_usd)]
    if workflow.json_schema is not None:
        flags += ["--json-schema", json_schema_text(workflow.json_schema)]
    return flags


SpawnCallback = Callable[[int, float], None]
NoteCallback = Callable[[str], None]
EventCallback = Callable[[list[ClaudeEvent]], None]
"""Receives parsed events in batches (one per read from the pipe, at most EVENT_BATCH)."""

EVENT_BATCH = 256


class ClaudeRunner:
    """Runs the CLI for one attempt and reports what it came to."""

    def __init__(
        self,
        command: str,
        environ: Mapping[str, str],
        kill_grace_seconds: float,
        max_line_bytes: int,
        clock: Clock = SYSTEM_CLOCK,
        secret_values: frozenset[str] = frozenset(),
    ) -> None:
        self.clock = clock
        self.command = command
        self.environ = dict(environ)
        self.kill_grace_seconds = kill_grace_seconds
        self.max_line_bytes = max_line_bytes
        self.secret_values = secret_values
        """flowtui's secrets as values: a workflow's ``env`` entry holding one is left out."""

    def run(
        self,
        request: RunRequest,
        control: RunControl,
        on_spawn: SpawnCallback,
        on_note: NoteCallback,
        on_event: EventCallback | None = None,
    ) -> RunOutcome:
        try:
            argv = build_argv(self.command, request)
        except ValueError as error:
            return _config_failure(f"[claude] command {self.command!r} cannot be split: {error}")
        launch = [*DIE_WITH_ENGINE, *argv]
        environ, left_out = with_workflow_env(self.environ, request.workflow.env, self.secret_values)
        for name in left_out:
            on_note(f"env {name} was not passed to Claude: its value is one of flowtui's secrets")
        if DIE_WITH_ENGINE and not Path(request.cwd).is_dir():
            return _config_failure(
                f"working directory {request.cwd} does not exist: create it or "
                "queue the job with another --cwd"
            )
        if DIE_WITH_ENGINE and shutil.which(argv[0], path=environ.get("PATH")) is None:
            # setpriv would report it as its own exit 127: say it the way a direct start would
            if Path(argv[0]).exists():
                return _config_failure(
                    f"claude command {argv[0]!r} is not executable: fix its permissions "
                    "or set [claude] command to the right file"
                )
            return _config_failure(
                f"claude command not found: {argv[0]!r}; install @anthropic-ai/claude-code "
                "or set [claude] command (or FLOWTUI_CLAUDE) to its path"
            )
        try:
            return self._spawn_and_read(request, control, launch, argv, environ, on_spawn, on_note, on_event)
        except OSError as error:  # the transcript cannot be written: a full disk, a permission
            # a failed flush names no file: name the transcript
            where = "" if error.filename is not None else f"{request.transcript}: "
            return RunOutcome(
                JobState.FAILED,
                error=f"cannot write the transcript: {where}{describe_os_error(error)}",
                retryable=True,
            )

    def _spawn_and_read(
        self,
        request: RunRequest,
        control: RunControl,
        launch: list[str],
        argv: list[str],
        environ: dict[str, str],
        on_spawn: SpawnCallback,
        on_note: NoteCallback,
        on_event: EventCallback | None,
    ) -> RunOutcome:
        request.transcript.parent.mkdir(parents=True, exist_ok=True)
        stderr_path = Paths.claude_stderr_for(request.transcript)
        with open(request.transcript, "ab") as transcript, open(stderr_path, "ab") as stderr:
            try:
                process = subprocess.Popen(
                    launch,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    cwd=request.cwd,
                    env=environ,
                    start_new_session=True,
                )
            except FileNotFoundError as error:
                if error.filename == request.cwd or not Path(request.cwd).is_dir():
                    return _config_failure(
                        f"working directory {request.cwd} does not exist: create it or "
                        "queue the job with another --cwd"
                    )
                return _config_failure(
                    f"claude command not found: {argv[0]!r}; install @anthropic-ai/claude-code "
                    "or set [claude] command (or FLOWTUI_CLAUDE) to its path"
                )
            except PermissionError:
                return _config_failure(
                    f"claude command {argv[0]!r} is not executable: fix its permissions "
                    "or set [claude] command to the right file"
                )
            except OSError as error:
                return _config_failure(f"cannot start {argv[0]!r}: {error.strerror}")
            assert process.stdin is not None and process.stdout is not None
            conversation = Conversation(
                process.stdin,
                policy=request.workflow.permissions,
                timeout_seconds=request.permission_timeout_seconds,
                always=set(request.always_allowed),
                hooks=control.hooks,
                clock=self.clock,
            )
            conversation.start(request.prompt)
            started = process_start_time(process.pid) or 0.0
            on_spawn(process.pid, started)
            control.attach(conversation)
            watcher = _Watcher(process, control, self.kill_grace_seconds, request, conversation)
            readings: list[RateLimit] = []
            try:
                results = self._read(
                    process.stdout, transcript, watcher, conversation, on_note, on_event, readings
                )
            except OSError:  # the transcript cannot take more: nothing Claude says can be kept
                end_process_group(process.pid, 0.0)
                process.wait()
                raise
            finally:
                conversation.close()
            exit_code = process.wait()
            watcher.finish()
            conversation.join()
        reading = readings[-1] if readings else None
        outcome = _outcome(combine_results(results), exit_code, control, stderr_path, self.clock, reading)
        return _budget_stop(outcome, results, request.workflow)

    def _read(
        self,
        stdout: IO[bytes],
        transcript: IO[bytes],
        watcher: _Watcher,
        conversation: Conversation,
        on_note: NoteCallback,
        on_event: EventCallback | None,
        readings: list[RateLimit],
    ) -> list[ResultLine]:
        """The run's result lines; its subscription windows' readings go to ``readings``."""
        results: list[ResultLine] = []
        stray_count = 0
        batch: list[ClaudeEvent] = []

        def flush() -> None:
            # Lines reach the transcript file once per read from the pipe, as they arrive;
            # subscribers get the same moment's events as one batch.
            transcript.flush()
            if batch and on_event is not None:
                on_event(batch.copy())
            batch.clear()

        for item in LineReader(stdout.fileno(), self.max_line_bytes):
            if isinstance(item, Tick):
                flush()
                watcher.check(output_seen=not item.idle)
                continue
            decoded = item if isinstance(item, StrayLine) else decode_line(item)
            if isinstance(decoded, StrayLine):
                stray_count += 1
                _write_stray(transcript, decoded)
                batch.append(Skipped(reason=decoded.reason, excerpt=decoded.excerpt))
                if stray_count <= MAX_STRAY_NOTES:
                    on_note(f"{decoded.reason}: {decoded.excerpt[:80]!r}")
                continue
            assert isinstance(item, bytes)
            if _answers_initialize(decoded):
                continue  # the CLI's reply to flowtui's own handshake, not part of the run
            transcript.write(item)
            transcript.write(b"\n")
            events = parse_event(decoded)
            for event in events:
                if isinstance(event, Finished):
                    results.append(event.result)
                elif isinstance(event, RateLimit):
                    readings.append(event)
            batch.extend(events)
            if decoded.get("type") in STDIN_LINE_TYPES:
                flush()  # what Claude said up to its question reaches the transcript first
                told = conversation.on_line(decoded)
                if told is not None:
                    record = {"type": "flowtui", "subtype": "user_message", "text": told.text}
                    transcript.write(json.dumps({**record, "by": told.by, "via": told.via}).encode() + b"\n")
                    batch.append(UserMessage(text=told.text, by=told.by, via=told.via))
            if len(batch) >= EVENT_BATCH:
                flush()
        flush()
        if stray_count > MAX_STRAY_NOTES:
            on_note(f"{stray_count} stray lines skipped in all (see the transcript)")
        return results


STDIN_LINE_TYPES = frozenset({"control_request", "control_cancel_request", "result"})
"""Lines of Claude's output that the conversation on its stdin answers or counts."""


def combine_results(results: list[ResultLine]) -> ResultLine | None:
    """One result for a run of several turns. Checked with the real CLI: ``total_cost_usd``
    adds up over the process (the last one is the run's), while ``usage`` and ``num_turns``
    are each turn's own (they are summed)."""
    if not results:
        return None
    last = results[-1]
    if len(results) == 1:
        return last
    return replace(
        last,
        input_tokens=_sum_known(result.input_tokens for result in results),
        output_tokens=_sum_known(result.output_tokens for result in results),
        turns=_sum_known(result.turns for result in results),
        cost_usd=next((result.cost_usd for result in reversed(results) if result.cost_usd is not None), None),
    )


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


class _Watcher:
    """Ends the process group when the run is cancelled or runs out of time; time spent waiting
    for a person's answer counts toward neither limit."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        control: RunControl,
        grace: float,
        request: RunRequest,
        conversation: Conversation,
    ) -> None:
        self._conversation = conversation
        self._process = process
        self._control = control
        self._grace = grace
        self._ending: threading.Thread | None = None
        self._started = time.monotonic()
        self._last_output = self._started
        self._timeout = request.timeout_seconds
        self._silence = request.silence_seconds

    def check(self, output_seen: bool = False) -> None:
        now = time.monotonic()
        conversation = self._conversation
        conversation.check(now)
        if output_seen or conversation.waiting:
            self._last_output = now
        if now - self._started - conversation.waited_seconds(now) > self._timeout:
            self._control.time_out(
                f"timed out: the run took longer than the workflow's {format_minutes(self._timeout)} limit"
            )
        elif now - self._last_output > self._silence:
            self._control.time_out(
                f"timed out: no output for {format_minutes(self._silence)} (the workflow's silence limit)"
            )
        if self._control.cancel_event.is_set() and self._ending is None:
            # End the group from a helper thread so this one keeps draining the pipe.
            # A superseded run has produced nothing worth a graceful end.
            grace = 0.0 if self._control.ended is RunEnd.SUPERSEDED else self._grace
            self._ending = threading.Thread(
                target=end_process_group, args=(self._process.pid, grace), daemon=True
            )
            self._ending.start()

    def finish(self) -> None:
        if self._control.cancel_event.is_set() and self._ending is None:
            self.check()
        if self._ending is not None:
            self._ending.join()
        else:
            # Claude may exit and leave tools behind in its group: end them too.
            end_process_group(self._process.pid, self._grace)


def _answers_initialize(line: dict[str, Any]) -> bool:
    response = line.get("response") if line.get("type") == "control_response" else None
    return isinstance(response, dict) and response.get("request_id") == INITIALIZE_REQUEST_ID


def _write_stray(transcript: IO[bytes], stray: StrayLine) -> None:
    record = {"type": "flowtui", "subtype": "stray_line", "reason": stray.reason, "excerpt": stray.excerpt}
    transcript.write(json.dumps(record).encode() + b"\n")
    transcript.flush()


def _config_failure(message: str) -> RunOutcome:
    return RunOutcome(state=JobState.FAILED, error=message, retryable=False)


def _outcome(
    result: ResultLine | None,
    exit_code: int,
    control: RunControl,
    stderr_path: Path,
    clock: Clock,
    reading: RateLimit | None = None,
) -> RunOutcome:
    session_id = result.session_id if result else None
    if control.ended is RunEnd.TIMED_OUT:
        error = control.reason
        return RunOutcome(
            JobState.FAILED, error=error, exit_code=exit_code, session_id=session_id, retryable=True
        )
    if control.ended is not RunEnd.FINISHED:
        return RunOutcome(
            JobState.CANCELLED, error=control.reason, exit_code=exit_code, session_id=session_id
        )
    if result is None:
        detail = _last_line(stderr_path)
        return RunOutcome(
            state=JobState.FAILED,
            error=f"claude exited with code {exit_code} without a result line"
            + (f": {detail}" if detail else ""),
            exit_code=exit_code,
            retryable=True,
        )
    reported = RunOutcome(
        state=JobState.SUCCEEDED,
        exit_code=exit_code,
        cost_usd=result.cost_usd,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        turns=result.turns,
        session_id=result.session_id,
        answer=result.answer,
        structured_output=result.structured_output,
    )
    if exit_code == 0 and not result.is_error:
        return reported
    summary = (result.answer or result.subtype or "error").strip().splitlines()
    error = summary[0][:300] if summary else "error"
    if exit_code != 0:
        error = f"{error} (exit code {exit_code})"
    limit = detect_limit(result, clock, reading)
    status = result.api_error_status
    # A 4xx other than a limit will not get better by retrying.
    retryable = limit is not None or status is None or status >= 500 or status in (408, 409)
    return replace(reported, state=JobState.FAILED, error=error, retryable=retryable, limit=limit)


def _budget_stop(outcome: RunOutcome, results: list[ResultLine], workflow: WorkflowSettings) -> RunOutcome:
    """A run the CLI stopped at the workflow's ``max_budget_usd`` fails for good: another
    attempt would spend the same again."""
    stopped = results and results[-1].subtype == BUDGET_SUBTYPE and results[-1].is_error
    if outcome.state is not JobState.FAILED or not stopped:
        return outcome
    cap = f"${workflow.max_budget_usd:g}" if workflow.max_budget_usd is not None else "its cap"
    spent = f" after spending ${outcome.cost_usd:.4f}" if outcome.cost_usd is not None else ""
    error = (
        f"stopped by the workflow's max_budget_usd of {cap}{spent}: "
        "raise max_budget_usd or give the job less to do"
    )
    return replace(outcome, error=error, retryable=False, limit=None)


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""
