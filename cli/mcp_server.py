"""``flowtui mcp``: the queue as a Model Context Protocol server over stdio.

Claude Code (or any MCP client) adds, finds, cancels and retries jobs, pauses the queue
and edits watches through the same :class:`Control` the CLI uses. The ledger (a file, or
Redis) is the truth, so the server works whether or not an engine runs, and every write
wakes the engines that do. stdout carries the protocol only: logs go to the data dir's log
file and stderr.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import Field

from cli.logs import print_logs
from core.clock import parse_duration
from core.config.live import LiveSettings
from core.config.settings import DEFAULT_WORKFLOW, ChangeKind, Settings
from core.errors import ConfigError, InputError, describe_os_error, describe_queue_error
from core.host.logs import configure_logging
from core.host.state import open_shared_state
from core.jobs import Job, JobSource, JobState
from core.ops.bulk import BulkReport, BulkVerb, JobSelection
from core.ops.control import Control
from core.ops.record import job_record
from core.paths import Paths
from core.summary import excerpt

log = logging.getLogger(__name__)

SERVER_NAME = "flowtui"
TRIGGER = "added over MCP"
"""Jobs added here are ``cli`` jobs (the ledger's sources are fixed); the trigger says where from."""
PAUSE_REASON = "paused over MCP"
EXCERPT_WIDTH = 200
TRANSCRIPT_URI = "flowtui://jobs/{job_id}/transcript"
TRANSCRIPT_JSONL_URI = "flowtui://jobs/{job_id}/transcript.jsonl"

JobStateName = Literal["awaiting_approval", "queued", "running", "succeeded", "failed", "cancelled"]
JobId = Annotated[int, Field(ge=1, description="The job's number, as list_jobs shows it.")]
Limit = Annotated[int, Field(ge=1, le=500, description="At most this many jobs, newest first.")]
OptionalJobId = Annotated[
    int | None, Field(ge=1, description="The job's number, as list_jobs shows it; or give filters instead.")
]
States = Annotated[
    list[JobStateName] | None, Field(description="Instead of an id: every job in these states.")
]
WorkflowFilter = Annotated[str | None, Field(description="Instead of an id: only jobs of this workflow.")]
SourceFilter = Annotated[
    str | None, Field(description="Instead of an id: only jobs from this source (cli, watch, telegram...).")
]
Since = Annotated[
    str | None, Field(description="Instead of an id: only jobs added this recently, as 30m, 12h or 7d.")
]
Globs = Annotated[
    tuple[str, ...], Field(description="Glob patterns (gitignore style), for example ['*.md', 'notes/**'].")
]


class FlowtuiTools:
    """The tools and resources over the shared state, opened once for the server's life as
    the CLI opens it (so the configured backend is used and every change wakes the engines).

    The config is read again by every call that uses it (adding jobs and watches), so edits
    made anywhere (``flowtui watch add``, an editor, ``add_watch`` here) apply at once; calls
    are serialised, so two config edits never race each other.
    """

    def __init__(self, settings: Settings, paths: Paths) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._shared = open_shared_state(LiveSettings(settings, paths.config_file), paths)

    def close(self) -> None:
        self._shared.ledger.close()

    @contextmanager
    def _control(
        self, reload_config: bool = False, failure: type[Exception] = ToolError
    ) -> Iterator[Control]:
        """A :class:`Control` that pokes a running engine after each change, exactly as the
        CLI's; every expected failure leaves as ``failure`` (a tool error, or a resource
        error) carrying its one-line message, never as a crash."""
        with self._lock:
            try:
                if reload_config and (problem := self._shared.live.refresh_problem()) is not None:
                    raise ConfigError(problem)  # a write never acts on a config the file no longer says
                yield self._shared
            except (InputError, ConfigError) as error:
                raise failure(str(error)) from None
            except sqlite3.Error as error:
                raise failure(f"the ledger cannot be used ({error}): run `flowtui doctor`") from None
            except OSError as error:
                raise failure(describe_os_error(error)) from None
            except Exception as error:
                line = describe_queue_error(error)  # Redis away or refusing
                if line is None:
                    raise
                raise failure(line) from None

    # -- tools -------------------------------------------------------------------

    def add_job(
        self,
        prompt: Annotated[str, Field(description="What Claude should do; the workflow's template wraps it.")],
        workflow: Annotated[str, Field(description="Workflow from flowtui's config.")] = DEFAULT_WORKFLOW,
        cwd: Annotated[
            str | None,
            Field(
                description="Absolute working directory for Claude. Default: the workflow's cwd, "
                "else the directory this server was started in."
            ),
        ] = None,
        priority: Annotated[
            int | None, Field(description="Higher runs first. Default: the workflow's.")
        ] = None,
    ) -> dict[str, Any]:
        """Queue a Claude Code job; returns the job (its id, state...). Jobs of a workflow
        that needs approval wait for `flowtui approve`."""
        with self._control(reload_config=True) as control:
            job = control.add(
                prompt, workflow=workflow, cwd=cwd, priority=priority, source=JobSource.CLI, trigger=TRIGGER
            )
            return job.to_dict()

    def list_jobs(
        self,
        state: Annotated[JobStateName | None, Field(description="Only jobs in this state.")] = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """Jobs newest first (prompt and answer cut short: show_job has them whole), and
        whether the queue is paused."""
        with self._control() as control:
            jobs = control.ledger.list_jobs(states=[JobState(state)] if state else [], limit=limit)
            pause = control.pause_state()
            return {
                "queue": pause.describe(),
                "paused": pause.paused,
                "jobs": [_summary(job) for job in jobs],
            }

    def search_jobs(
        self,
        text: Annotated[str, Field(description="Text to look for (case-insensitive for ASCII letters).")],
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """Jobs whose prompt, answer, error or trigger contains the text, newest first."""
        if not text.strip():
            raise ToolError("the search text is empty: give a word the job's prompt or answer contains")
        with self._control() as control:
            jobs = control.ledger.search(text, limit)
            return {"text": text, "jobs": [_summary(job) for job in jobs]}

    def show_job(self, id: JobId) -> dict[str, Any]:
        """One job as ``flowtui show ID --json`` prints it (every ledger field, its history and
        what it changed in git), plus the URIs of its transcript resources once it has run."""
        with self._control() as control:
            data = job_record(control, id)
            if data["attempts"]:
                data["transcript_uris"] = [
                    TRANSCRIPT_URI.format(job_id=id),
                    TRANSCRIPT_JSONL_URI.format(job_id=id),
                ]
            return data

    def cancel_job(
        self,
        id: OptionalJobId = None,
        state: States = None,
        workflow: WorkflowFilter = None,
        source: SourceFilter = None,
        since: Since = None,
    ) -> dict[str, Any]:
        """Cancel a waiting job at once, or ask the engine to end a running one (its whole
        process group); state is what the job is in afterwards. Without an id, filters pick
        every waiting or running job to cancel, each reported."""
        chosen = self._filter(id, state, workflow, source, since)
        if chosen is not None:
            with self._control() as control:
                return _bulk(control.bulk(BulkVerb.CANCEL, chosen, "cancelled over MCP"))
        assert id is not None
        with self._control() as control:
            state_now = control.cancel(id)
        if state_now is JobState.CANCELLED:
            message = f"cancelled #{id}"
        else:
            message = f"cancelling #{id}: the engine is ending its claude process group"
        return {"id": id, "state": str(state_now), "message": message}

    def retry_job(
        self,
        id: OptionalJobId = None,
        state: States = None,
        workflow: WorkflowFilter = None,
        source: SourceFilter = None,
        since: Since = None,
    ) -> dict[str, Any]:
        """Queue a finished job again as a new job (same prompt and workflow, parent_id the
        original); returns the new job. Without an id, filters pick the jobs to retry (failed
        ones unless state says otherwise; jobs retried already are left out), each reported."""
        chosen = self._filter(id, state, workflow, source, since)
        with self._control(reload_config=True) as control:
            if chosen is not None:
                return _bulk(control.bulk(BulkVerb.RETRY, chosen))
            assert id is not None
            return control.retry(id).to_dict()

    def _filter(
        self,
        id: int | None,
        states: list[JobStateName] | None,
        workflow: str | None,
        source: str | None,
        since: str | None,
    ) -> JobSelection | None:
        """The filters given (None: an id instead); an id and filters together is an error."""
        try:
            moment = None if since is None else self._shared.ledger.clock.now() - parse_duration(since)
        except ValueError as error:
            raise ToolError(f"since: {error}") from None
        chosen = JobSelection(
            states=frozenset(JobState(name) for name in states or ()),
            workflow=workflow,
            source=source,
            since=moment,
        )
        if id is not None:
            if not chosen.empty:
                raise ToolError("give an id or filters (state, workflow, source, since), not both")
            return None
        return chosen

    def list_questions(self) -> dict[str, Any]:
        """Running jobs waiting for a person's answer before a tool runs (oldest first): the
        tool and its input; answer with answer_question."""
        with self._control() as control:
            jobs = control.questions()
            return {"questions": [{**_summary(job), "waiting_for": job.question} for job in jobs]}

    def answer_question(
        self,
        id: JobId,
        decision: Annotated[
            Literal["allow", "always", "deny"],
            Field(description="allow once, allow the tool always for this job, or deny it."),
        ],
        reason: Annotated[str | None, Field(description="For deny: why (Claude reads it).")] = None,
    ) -> dict[str, Any]:
        """Answer the question job ID waits on (or its approval to run, if it waits for that)."""
        with self._control() as control:
            if decision == "deny":
                job = control.deny(id, by="an MCP client", reason=reason, via="mcp")
            else:
                job = control.approve(id, by="an MCP client", always=decision == "always", via="mcp")
            return {"id": id, "state": str(job.state), "decision": decision}

    def tell_job(
        self,
        id: JobId,
        message: Annotated[str, Field(description="What Claude should hear at its next turn.")],
    ) -> dict[str, Any]:
        """Send a message into job ID's running Claude process (its next turn, same session)."""
        with self._control() as control:
            job = control.tell(id, message, by="an MCP client", via="mcp")
            return {"id": id, "state": str(job.state), "message": "told: Claude reads it at its next turn"}

    def pause_queue(
        self, reason: Annotated[str | None, Field(description="Why, shown with the queue state.")] = None
    ) -> dict[str, Any]:
        """Stop starting jobs (running ones finish); survives restarts until resume_queue."""
        with self._control() as control:
            control.pause(reason.strip() if reason and reason.strip() else PAUSE_REASON)
            pause = control.pause_state()
        return {"paused": pause.paused, "queue": pause.describe()}

    def resume_queue(self) -> dict[str, Any]:
        """Start taking jobs again."""
        with self._control() as control:
            control.resume()
            pause = control.pause_state()
        return {"paused": pause.paused, "queue": pause.describe()}

    def add_watch(
        self,
        path: Annotated[str, Field(description="Absolute directory (or file) to watch; ~ is expanded.")],
        workflow: Annotated[str, Field(description="Workflow a change there runs.")] = DEFAULT_WORKFLOW,
        include: Globs = (),
        exclude: Globs = (),
        poll: Annotated[
            bool,
            Field(description="Scan for changes instead of asking the kernel: for NFS, SMB, 9p, WSL mounts."),
        ] = False,
        poll_interval_ms: Annotated[
            int | None, Field(description="How often a polled watch scans, in ms (default 1000).")
        ] = None,
        events: Annotated[
            tuple[ChangeKind, ...],
            Field(description="Kinds of change that count: added, modified, deleted (default: all)."),
        ] = (),
        content_hash: Annotated[
            bool, Field(description="Ignore saves that leave a file's bytes unchanged.")
        ] = False,
    ) -> dict[str, Any]:
        """Watch a path: changes there become jobs. Edits config.toml (comments survive) and
        a running engine starts watching at once."""
        with self._control() as control:
            added = control.add_watch(
                path,
                workflow=workflow,
                include=include,
                exclude=exclude,
                poll=poll,
                poll_interval_ms=poll_interval_ms,
                events=events,
                content_hash=content_hash,
            )
        return {
            "path": added.path,
            "workflow": added.workflow,
            "include": added.include,
            "exclude": added.exclude,
            "poll": added.poll,
            "poll_interval_ms": added.poll_interval_ms,
            "events": added.events,
            "content_hash": added.content_hash,
            "exists": os.path.exists(added.path),
        }

    def remove_watch(
        self, path: Annotated[str, Field(description="A watched path, as add_watch or the config has it.")]
    ) -> dict[str, Any]:
        """Stop watching a path (a running engine stops at once)."""
        with self._control() as control:
            return {"removed": control.remove_watch(path)}

    # -- resources ---------------------------------------------------------------

    def transcript(self, job_id: str) -> str:
        """Claude's output for every attempt of the job, rendered as `flowtui logs` shows it."""
        return self._read_transcript(job_id, raw=False)

    def transcript_jsonl(self, job_id: str) -> str:
        """Every stream-json line Claude printed, all attempts in order (`flowtui logs --raw`)."""
        return self._read_transcript(job_id, raw=True)

    def _read_transcript(self, job_id: str, raw: bool) -> str:
        number = job_id.strip().lstrip("#")
        if not number.isdigit() or int(number) < 1:
            raise ResourceNotFoundError(f"bad job id {job_id!r}: give the number list_jobs shows")
        parts: list[str] = []
        with self._control(failure=ResourceError) as control:
            job = control.ledger.get(int(number))
            if job is None:
                raise ResourceNotFoundError(f"no job #{number}: see list_jobs for the ids that exist")
            if job.attempts == 0:
                return "" if raw else f"job #{job.id} has not started yet ({job.state}): no transcript\n"
            print_logs(control, self._paths, job.id, parts.append, raw=raw)
        return "".join(parts)


def _bulk(report: BulkReport) -> dict[str, Any]:
    """A bulk retry or cancel: the count, and what became of each job."""
    return {
        "message": report.summary(),
        "done": report.done,
        "jobs": [
            {
                "id": line.job_id,
                "done": line.done,
                "message": line.text,
                **({"new_id": line.new_job.id} if line.new_job is not None else {}),
                **({"state": str(line.state)} if line.state is not None else {}),
            }
            for line in report.lines
        ],
    }


def _summary(job: Job) -> dict[str, Any]:
    """A job in a list: enough to pick one, short enough that twenty fit in a reply."""
    return {
        "id": job.id,
        "state": str(job.state),
        "workflow": job.workflow,
        "source": job.source,
        "trigger": job.trigger,
        "priority": job.priority,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "cost_usd": job.cost_usd,
        "error": job.error,
        "prompt_excerpt": excerpt(job.prompt, EXCERPT_WIDTH),
        "answer_excerpt": excerpt(job.answer, EXCERPT_WIDTH) if job.answer else None,
    }


def build_server(tools: FlowtuiTools) -> MCPServer[Any]:
    """The MCP server over ``tools``; the tests and ``flowtui mcp`` build it the same way."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        instructions=(
            "flowtui queues Claude Code jobs and runs them in the background (a `flowtui serve` "
            "or `flowtui` engine). Add a job with add_job, then follow it with show_job until its "
            "state is succeeded, failed or cancelled; its answer is in show_job and its transcript "
            f"in the resource {TRANSCRIPT_URI}. Without a running engine jobs wait in the queue. "
            f"This server was started in {Path.cwd()}: pass cwd to add_job for any other directory."
        ),
    )
    for tool in (
        tools.add_job,
        tools.list_jobs,
        tools.search_jobs,
        tools.show_job,
        tools.cancel_job,
        tools.retry_job,
        tools.list_questions,
        tools.answer_question,
        tools.tell_job,
        tools.pause_queue,
        tools.resume_queue,
        tools.add_watch,
        tools.remove_watch,
    ):
        server.add_tool(tool)
    server.resource(TRANSCRIPT_URI, name="transcript", mime_type="text/plain")(tools.transcript)
    server.resource(TRANSCRIPT_JSONL_URI, name="transcript.jsonl", mime_type="application/x-ndjson")(
        tools.transcript_jsonl
    )
    return server


def serve_stdio(settings: Settings, paths: Paths) -> int:
    """Serve until the client closes stdin; logs never touch stdout (it is the transport)."""
    configure_logging(paths, to_stderr=True)
    tools = FlowtuiTools(settings, paths)
    try:
        server = build_server(tools)
        log.info("mcp server ready on stdio (data dir %s)", paths.data_dir)
        server.run("stdio")
    finally:
        tools.close()
    return 0
