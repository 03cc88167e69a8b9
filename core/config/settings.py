"""The typed config model and its loader.

The config is TOML (``config.toml`` in the config dir). Every key is declared here with
its meaning, so a typo or a wrong type is reported as one line naming the file and the
key, and nothing is started or written.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.config.check import Problem, SecretStr, bounded, build, describe, expects
from core.config.claude_options import (
    EffortLevel,
    check_env,
    check_extra_args,
    check_json_schema,
    check_mcp_config,
)
from core.config.send_files import check_send_files
from core.errors import ConfigError

CLAUDE_ENV = "FLOWTUI_CLAUDE"
QUEUE_ENV = "FLOWTUI_QUEUE_URL"
API_ID_ENV = "FLOWTUI_TELEGRAM_API_ID"
API_HASH_ENV = "FLOWTUI_TELEGRAM_API_HASH"
BOT_TOKEN_ENV = "FLOWTUI_TELEGRAM_BOT_TOKEN"
"""The environment overrides of ``[telegram]``'s keys; the secret ones never reach a job."""
HTTP_TOKEN_ENV = "FLOWTUI_HTTP_TOKEN"
HTTP_GITHUB_SECRET_ENV = "FLOWTUI_HTTP_GITHUB_SECRET"
"""The environment overrides of ``[http]``'s secrets; they never reach a job either."""
NOT_CONFIGURED = (
    "Telegram not configured: add a [telegram] section to the config with allowed_users "
    "(your numeric user id) and notify_chat_id, and set api_id and api_hash (from my.telegram.org) "
    f"and bot_token (from @BotFather) there or in ${API_ID_ENV}, ${API_HASH_ENV}, ${BOT_TOKEN_ENV}"
)
SQLITE_BACKEND = "sqlite"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
DEFAULT_WORKFLOW = "default"


# Every section is an immutable, keyword-built dataclass; core.config.check builds them from TOML.


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """``[engine]``: how many jobs run at once, and the idle safety net."""

    workers: int = bounded(1, ge=1, le=64)
    """How many jobs run at once in this process."""

    idle_sweep_seconds: float = bounded(30.0, gt=0)
    """How often an idle engine re-checks the ledger for work it was not told about."""


@dataclass(frozen=True, kw_only=True)
class QueueSettings:
    """``[queue]``: a shared Redis queue instead of this machine's SQLite file."""

    backend: str = "sqlite"
    """``sqlite`` (embedded, one machine) or ``redis://HOST:PORT/DB``: Huey's Redis storage with
    the ledger beside it, so engines on several machines share one queue.
    ``$FLOWTUI_QUEUE_URL`` overrides it."""

    lease_seconds: float = bounded(30.0, ge=3)
    """A running job's lease: when its worker stops renewing it (death, network cut), the job
    goes back to the queue after this long and another worker runs it."""

    leader_lease_seconds: float = bounded(15.0, ge=1)
    """With Redis, Telegram and the schedules run on one engine, the leader; when it dies,
    another engine takes over within this time."""

    review_answer_seconds: float = bounded(5.0, ge=0.5, le=10)
    """With Redis, how long keep or discard of a job whose worktree is on another machine waits
    for that machine's engine to do it, before refusing with a line naming the machine."""


@dataclass(frozen=True, kw_only=True)
class LedgerSettings:
    """``[ledger]``: how durably the SQLite ledger writes, and how long finished jobs are kept."""

    synchronous: Literal["normal", "full"] = "normal"
    """SQLite ``synchronous`` for the ledger (WAL mode). ``normal`` survives any process
    crash; ``full`` also survives power loss at the cost of an fsync per state change."""

    keep_days: int = bounded(90, ge=0)
    """The engine deletes finished jobs older than this many days once a day (as ``flowtui
    prune --older-than Nd``); 0 keeps every job."""


@dataclass(frozen=True, kw_only=True)
class ClaudeSettings:
    """``[claude]``: the CLI to run and how its runs are ended and read."""

    command: str = "claude"
    """The Claude Code CLI to run (a name on PATH or a path). ``$FLOWTUI_CLAUDE`` overrides it."""

    kill_grace_seconds: float = bounded(5.0, ge=0)
    """How long a cancelled job's process group gets after SIGTERM before SIGKILL."""

    max_line_bytes: int = bounded(1_000_000, ge=1024)
    """Longest stream-json line accepted; longer lines are recorded as skipped."""


DEFAULT_PROMPT = "{prompt}"
DEFAULT_WATCH_PROMPT = (
    "These files changed under {watch} ({event}):\n{paths}\n\nLook at the changes and act on them."
)

NotifyPolicy = Literal["always", "failure", "never"]
BusyPolicy = Literal["queue", "skip", "restart"]
PermissionPolicy = Literal["ask", "deny", "allow"]
IsolationPolicy = Literal["none", "worktree"]
CatchUpPolicy = Literal["once", "skip", "all"]
ChangeKind = Literal["added", "modified", "deleted"]
ALL_CHANGE_KINDS: tuple[ChangeKind, ...] = ("added", "modified", "deleted")


@dataclass(frozen=True, kw_only=True)
class WorkflowSettings:
    """``[workflows.NAME]``: one workflow's prompt template, Claude options, retries and limits."""

    prompt: str = DEFAULT_PROMPT
    """Prompt template. ``{prompt}`` is the text given with the job (CLI, Telegram); watch and
    schedule triggers fill ``{path}``, ``{paths}``, ``{event}``, ``{watch}`` and ``{now}``."""

    steps: list[str] = field(default_factory=list)
    """Further prompts run one after another in the same session; ``{previous}`` is the
    answer of the step before."""

    notify: NotifyPolicy = "always"
    """When to send a Telegram notification about a finished job."""

    approval: bool = False
    """Ask on Telegram (or ``flowtui approve``) before the job runs."""

    timeout_minutes: float = bounded(30.0, gt=0)
    """Longest total run time of one attempt."""

    silence_minutes: float = bounded(10.0, gt=0)
    """Longest time without an output line before the attempt is ended (the CLI can hang)."""

    daily_usd: float | None = bounded(None, gt=0)
    """This workflow's own daily budget (see ``[budget]``)."""

    model: str | None = None
    """``--model`` for Claude (None: the CLI's default)."""

    permission_mode: str | None = None
    """``--permission-mode`` (for example ``acceptEdits``)."""

    allowed_tools: list[str] = field(default_factory=list)
    """``--allowedTools``: tools Claude may use without asking."""

    permissions: PermissionPolicy = "ask"
    """A tool that ``allowed_tools`` and ``permission_mode`` do not allow: ``ask`` a person
    (the job waits, still running), ``deny`` it at once, or ``allow`` everything."""

    permission_timeout_minutes: float = bounded(30.0, gt=0)
    """How long a question waits for an answer before the tool is denied (fractions allowed)."""

    max_turns: int | None = bounded(None, ge=1)
    """``--max-turns``."""

    append_system_prompt: str | None = None
    """``--append-system-prompt``."""

    cwd: str | None = None
    """Working directory for jobs of this workflow (default: where the job was added)."""

    isolation: IsolationPolicy = "none"
    """``worktree``: each job works in its own git worktree, on a branch ``flowtui/job-ID`` made
    from the repository's ``HEAD`` when it starts, until ``flowtui keep`` merges its changes or
    ``flowtui discard`` drops them; ``none``: in the directory itself. A job of a ``worktree``
    workflow whose directory is not in a git repository fails before Claude starts."""

    retries: int = bounded(2, ge=0, le=100)
    """Extra attempts after a retryable failure or an interrupted run."""

    retry_delay_seconds: float = bounded(10.0, ge=0)
    """Delay before a retry; doubles with each further attempt."""

    priority: int = 0
    """Default priority of this workflow's jobs (higher runs first)."""

    add_dirs: list[str] = field(default_factory=list, metadata=expects("a list of paths"))
    """``--add-dir`` for each: more directories Claude's tools may use (``~`` expanded; a relative
    path is taken from the job's directory)."""

    disallowed_tools: list[str] = field(default_factory=list, metadata=expects("a list of tool names"))
    """``--disallowedTools``: tools Claude may not use at all (``"Bash(git push:*)"`` style rules too)."""

    mcp_config: str | list[str] | None = field(
        default=None, metadata=expects("a path or a JSON string, or a list of them", check_mcp_config)
    )
    """``--mcp-config`` for each: an MCP config file (``~`` expanded) or a JSON object as a string."""

    strict_mcp_config: bool = False
    """``--strict-mcp-config``: only the servers of ``mcp_config``, none from the user's or the
    project's MCP settings."""

    effort: EffortLevel | None = None
    """``--effort`` (None: the CLI's default)."""

    fallback_model: str | None = None
    """``--fallback-model``: the model (or comma-separated models) to switch to when ``model`` is
    overloaded or not available."""

    max_budget_usd: float | None = bounded(None, gt=0)
    """``--max-budget-usd``: the most one attempt may spend. A run the CLI stops at this cap fails
    with a reason naming it and is not retried."""

    json_schema: dict[str, Any] | str | None = field(
        default=None, metadata=expects("a table or a JSON object as a string", check_json_schema)
    )
    """``--json-schema``: Claude ends the run with output valid against this schema, kept on the
    job as ``structured_output``."""

    env: dict[str, str] = field(default_factory=dict, metadata=expects("a table of strings", check_env))
    """Variables added to the job's environment (over the user's). flowtui's own variables and a
    Claude Code session's markers are refused, and a value equal to one of flowtui's secrets is
    left out with a note on the job."""

    extra_args: list[str] = field(
        default_factory=list, metadata=expects("a list of strings", check_extra_args)
    )
    """Further CLI arguments, passed last as they are (options only: the prompt goes on stdin)."""

    send_files: list[str] = field(
        default_factory=list, metadata=expects("a list of glob patterns", check_send_files)
    )
    """Globs (gitignore style, relative to the job's directory, in its worktree when isolated):
    files the job created or changed that match are sent on Telegram as documents after its
    finish message (copied when the job is announced, so later edits change nothing sent)."""

    def __post_init__(self) -> None:
        if self.fallback_model is not None and self.fallback_model == self.model:
            raise Problem(["fallback_model"], "is the same as model: name another model to fall back to")

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


@dataclass(frozen=True, kw_only=True)
class WatchSettings:
    """``[[watch]]``: a path whose changes become jobs of a workflow, with its rules and timing."""

    path: str
    """Directory (or file, whose directory is watched) to watch; ``~`` is expanded."""

    workflow: str = DEFAULT_WORKFLOW
    """Workflow that changes here run."""

    include: list[str] = field(default_factory=list)
    """Glob patterns (gitignore style) a changed path must match; empty means everything."""

    exclude: list[str] = field(default_factory=list)
    """Glob patterns to ignore, on top of the built-in ignores and ``.gitignore``."""

    recursive: bool = True
    """Watch subdirectories too."""

    settle_ms: int = bounded(150, ge=0)
    """Quiet time that closes a burst of changes into one job."""

    eager: bool = True
    """Start Claude on a burst's first change instead of after the settle time. Should more of
    the burst follow before Claude answers, that run is stopped (no attempt spent) and the job
    starts again once the burst settles, with every changed path."""

    busy: BusyPolicy = "queue"
    """What a change does while this watch's job runs: queue one more run, skip it, or restart."""

    self_trigger: bool = False
    """Let changes made by this watch's own running job trigger it again."""

    poll: bool = False
    """Look for changes by scanning the tree every ``poll_interval_ms`` instead of asking the
    kernel (inotify): needed on NFS, SMB, 9p, WSL's drvfs and some container mounts, where
    writes made by another machine raise no event. Costs a scan of the tree per interval."""

    poll_interval_ms: int = bounded(1000, ge=50, le=3_600_000)
    """How often a polled watch scans (``poll = true``); watches with the same interval share
    one polling watcher."""

    events: list[ChangeKind] = field(default_factory=lambda: list(ALL_CHANGE_KINDS))
    """Which kinds of change count: any of ``added``, ``modified``, ``deleted``."""

    content_hash: bool = False
    """Ignore a save that leaves a file's bytes as they were (a touch, an editor saving an
    unchanged buffer). Every file is read once when the watch starts and each changed file
    when its burst settles; one 16-byte hash per path is kept, at most 20,000 paths (files
    over 64 MiB, and paths beyond that, always count)."""

    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.events:
            raise Problem(
                ["events"],
                "is empty, so nothing would ever fire: list at least one of added, modified, deleted "
                "(or set enabled = false)",
            )


@dataclass(frozen=True, kw_only=True)
class ScheduleSettings:
    """``[[schedule]]``: a cron expression that queues a job of a workflow."""

    cron: str
    """A cron expression (croniter syntax), in local time."""

    name: str | None = None
    """How ``flowtui schedules run|pause|resume NAME`` and the window name it; unique. Without
    one it is ``WORKFLOW@CRON`` with the cron's spaces as ``_`` and ``*`` as ``x``
    (``digest@30_7_x_x_1-5``), see :func:`schedule_names`."""

    catch_up: CatchUpPolicy = "once"
    """Runs missed while no engine ran: ``once`` (one run for them all), ``skip`` (none: the
    next run is the next time), ``all`` (each, up to the last ``CATCH_UP_ALL_LIMIT``)."""

    workflow: str = DEFAULT_WORKFLOW
    """Workflow to run; its prompt template gets ``{now}``."""

    prompt: str | None = None
    """Text for the workflow's ``{prompt}`` (optional)."""

    enabled: bool = True


def check_transcribe(argv: list[str]) -> str | None:
    """``transcribe_command`` must name the audio file somewhere in its arguments."""
    if argv and not any("{path}" in arg for arg in argv):
        return 'names no {path}: put "{path}" where the audio file goes, e.g. ["whisper-cli", "{path}"]'
    return None


@dataclass(frozen=True, kw_only=True)
class TelegramSettings:
    """``[telegram]``: the bot, who may use it, and where notifications go."""

    api_id: int | None = None
    """From my.telegram.org; ``$FLOWTUI_TELEGRAM_API_ID`` overrides it."""

    api_hash: SecretStr | None = None
    """From my.telegram.org; ``$FLOWTUI_TELEGRAM_API_HASH`` overrides it."""

    bot_token: SecretStr | None = None
    """From @BotFather; ``$FLOWTUI_TELEGRAM_BOT_TOKEN`` overrides it."""

    allowed_users: list[int] = field(default_factory=list)
    """Numeric user ids allowed to command flowtui; empty means nobody."""

    notify_chat_id: int | None = None
    """Chat that receives job notifications."""

    max_file_mb: float = bounded(20.0, gt=0)
    """Largest photo, document or voice note (in MB) the bot downloads for a job; a larger one
    is refused with a reply before anything is downloaded."""

    transcribe_command: list[str] = field(
        default_factory=list, metadata=expects("a list of strings (an argv with {path})", check_transcribe)
    )
    """Turns a voice note into text: an argv (no shell) whose ``{path}`` is the audio file; it
    prints the text on stdout. Empty: voice notes reach the job as audio files only."""

    transcribe_timeout_seconds: float = bounded(120.0, gt=0)
    """Longest a transcription may take; then it is stopped and the job gets the audio file."""

    progress: bool = False
    """While a job runs, keep one message in its chat edited with its progress (tool calls,
    the last lines of text, elapsed time, cost); the finish message replaces it."""

    progress_seconds: float = bounded(5.0, ge=3)
    """How long a job runs before its progress message appears, and the least time between two
    edits of it (Telegram refuses faster edits with a FloodWait)."""


NotifyKind = Literal["webhook", "ntfy", "command"]
NotifyEvent = Literal["succeeded", "failed", "cancelled", "needs_you"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("succeeded", "failed", "cancelled", "needs_you")
"""What a ``[[notify]]`` channel can be told: a job ended (each final state; ``cancelled`` only
once it had started), or it needs you (waits for approval, or asks before a tool runs)."""


def _http_url(url: SecretStr) -> str | None:
    """Why ``url`` cannot be POSTed to, or None (the URL itself is never repeated: it may hold a token)."""
    from urllib.parse import urlsplit

    text = url.get_secret_value().strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "is not a URL: expected http://HOST/PATH or https://HOST/PATH"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL with a host"
    return None


def _argv(command: list[str]) -> str | None:
    if not command or not command[0].strip():
        return 'expected the program and its arguments, such as ["notify-send", "flowtui"] (got [])'
    return None


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    """``[[notify]]``: one channel beyond Telegram that is told about jobs, through the outbox."""

    kind: NotifyKind
    """``webhook`` (a JSON POST to ``url``), ``ntfy`` (the text POSTed to the topic ``url``) or
    ``command`` (``command`` run with the text on stdin)."""

    name: str | None = None
    """How the Notifications pane and ``flowtui notifications`` name it; unique. Without one it is
    the kind (``ntfy``), then ``ntfy-2``, ``ntfy-3`` for more of the same kind in order."""

    url: SecretStr | None = field(
        default=None, metadata=expects("an http:// or https:// URL (a string)", _http_url)
    )
    """webhook / ntfy: where to POST. A secret: shown and logged as its host only."""

    command: list[str] | None = field(
        default=None,
        metadata=expects("a list of strings: the program and its arguments, no shell", _argv),
    )
    """command: the argv run with the message on stdin (no shell); a non-zero exit is retried."""

    on: list[NotifyEvent] = field(default_factory=lambda: ["succeeded", "failed", "needs_you"])
    """Which events it is told: ``succeeded``, ``failed``, ``cancelled``, ``needs_you``."""

    workflows: list[str] | None = None
    """Only jobs of these workflows; unset: every workflow."""

    timeout_seconds: float = bounded(10.0, gt=0, le=300)
    """How long one delivery may take (the request, or the command's run) before it is retried."""

    def __post_init__(self) -> None:
        if self.kind == "command":
            if self.command is None:
                raise Problem(["command"], 'required for kind "command": the argv, such as ["notify-send"]')
            if self.url is not None:
                raise Problem(["url"], 'not used by kind "command": remove it, or use kind "webhook"')
        else:
            if self.url is None:
                raise Problem(["url"], f"required for kind {self.kind!r}: the http(s) URL to POST to")
            if self.command is not None:
                raise Problem(
                    ["command"], f'not used by kind {self.kind!r}: remove it, or use kind "command"'
                )


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as the host and the port; ValueError says why not."""
    host, colon, port_text = listen.strip().rpartition(":")
    if not colon or not host or not port_text.isdigit():
        raise ValueError(f"{listen!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is over 65535")
    return host, port


def check_listen(listen: str | None) -> str | None:
    if listen is None:
        return None
    try:
        split_listen(listen)
    except ValueError as error:
        return f"{error}: use HOST:PORT, such as 127.0.0.1:8765"
    return None


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """``[http]``: the HTTP trigger, an endpoint inside the engine that queues jobs."""

    listen: str | None = field(
        default=None, metadata=expects("HOST:PORT, such as 127.0.0.1:8765", check_listen)
    )
    """``HOST:PORT`` to listen on (``[::1]:PORT`` for IPv6; port 0 takes any free one, which the
    log names); unset, there is no endpoint. Keep it on loopback unless a TLS proxy is in front:
    ``doctor`` warns otherwise."""

    token: SecretStr | None = None
    """The bearer token ``POST /jobs`` and ``GET /jobs/ID`` need; ``$FLOWTUI_HTTP_TOKEN`` overrides it."""

    github_secret: SecretStr | None = None
    """The secret of a GitHub webhook, which turns ``POST /github`` on;
    ``$FLOWTUI_HTTP_GITHUB_SECRET`` overrides it."""

    github: dict[str, str] = field(default_factory=dict)
    """``[http.github]``: GitHub event type (``X-GitHub-Event``) to the workflow its jobs run,
    such as ``push = "deploy"``; an event not named here is answered 202 and queues nothing."""

    behind_tls_proxy: bool = False
    """A TLS-terminating proxy is in front of a non-loopback ``listen``: ``doctor`` stops warning."""


@dataclass(frozen=True, kw_only=True)
class BudgetSettings:
    """``[budget]``: the whole queue's daily spending limit."""

    daily_usd: float | None = bounded(None, gt=0)
    """When the day's recorded cost reaches this, the queue pauses with reason ``budget``."""

    pause_above_utilization: float | None = None
    """A percentage (1 to 100) of a subscription window (five-hour, seven-day) that Claude
    reports used: at or above it the queue pauses until that window resets."""


@dataclass(frozen=True, kw_only=True)
class UiSettings:
    """``[ui]``: what the window remembers between runs (its theme)."""

    theme: str | None = None
    """Textual theme name, remembered when picked in the app."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole config, frozen and checked: what every part of flowtui reads."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)
    workflows: dict[str, WorkflowSettings] = field(default_factory=dict)
    watch: list[WatchSettings] = field(default_factory=list)
    schedule: list[ScheduleSettings] = field(default_factory=list)
    telegram: TelegramSettings | None = None
    notify: list[NotifySettings] = field(default_factory=list)
    http: HttpSettings = field(default_factory=HttpSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    ui: UiSettings = field(default_factory=UiSettings)

    def workflow(self, name: str) -> WorkflowSettings:
        """The named workflow; ``default`` exists even when the config has none."""
        if name in self.workflows:
            return self.workflows[name]
        if name == DEFAULT_WORKFLOW:
            return WorkflowSettings()
        known = ", ".join(self.workflow_names())
        raise ConfigError(
            f"unknown workflow {name!r}: use one of {known}, or add [workflows.{name}] to the config"
        )

    def schedule_named(self, name: str) -> ScheduleSettings | None:
        """The ``[[schedule]]`` called ``name`` (its own name or the derived one)."""
        for found, schedule in zip(schedule_names(self.schedule), self.schedule, strict=True):
            if found == name:
                return schedule
        return None

    def workflow_names(self) -> list[str]:
        return sorted({DEFAULT_WORKFLOW, *self.workflows})

    def queue_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The Redis URL when the queue is shared, None for the embedded SQLite queue."""
        return shared_queue_url(self.queue.backend, environ)

    def claude_command(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get(CLAUDE_ENV, "").strip() or self.claude.command


def shared_queue_url(configured: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``$FLOWTUI_QUEUE_URL``, else ``[queue] backend``: a Redis URL, or None for SQLite."""
    env = os.environ if environ is None else environ
    backend = env.get(QUEUE_ENV, "").strip() or configured.strip() or SQLITE_BACKEND
    if backend == SQLITE_BACKEND:
        return None
    if not backend.startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"queue backend {backend!r} is not understood: use {SQLITE_BACKEND!r} or a "
            f"redis://HOST:PORT/DB URL ([queue] backend, or ${QUEUE_ENV})"
        )
    return backend


def schedule_names(schedules: list[ScheduleSettings]) -> list[str]:
    """Each schedule's name: its own, else ``WORKFLOW@CRON`` (spaces as ``_``, ``*`` as ``x``),
    with ``~`` and four hex digits of its prompt when another unnamed one derives the same."""
    derived = [f"{schedule.workflow}@{_cron_slug(schedule.cron)}" for schedule in schedules]
    unnamed = [name for name, schedule in zip(derived, schedules, strict=True) if schedule.name is None]
    names = []
    for name, schedule in zip(derived, schedules, strict=True):
        if schedule.name is not None:
            names.append(schedule.name)
        elif unnamed.count(name) > 1:
            digest = hashlib.sha1((schedule.prompt or "").encode()).hexdigest()[:4]
            names.append(f"{name}~{digest}")
        else:
            names.append(name)
    return names


def notify_names(channels: list[NotifySettings]) -> list[str]:
    """Each ``[[notify]]`` channel's name: its own, else its kind, then ``KIND-2``, ``KIND-3``."""
    seen: dict[str, int] = {}
    names = []
    for channel in channels:
        seen[channel.kind] = seen.get(channel.kind, 0) + 1
        if channel.name is not None:
            names.append(channel.name)
        else:
            count = seen[channel.kind]
            names.append(channel.kind if count == 1 else f"{channel.kind}-{count}")
    return names


def _check_notify(settings: Settings) -> None:
    """Channel names are unique (and not ``telegram``), and name workflows that exist."""
    first_with: dict[str, int] = {"telegram": -1}
    known = settings.workflow_names()
    for index, (name, channel) in enumerate(zip(notify_names(settings.notify), settings.notify, strict=True)):
        where = ["notify", str(index)]
        if channel.name is not None and (not name.strip() or name != name.strip()):
            raise Problem([*where, "name"], f"{name!r}: a name cannot be empty or padded")
        if name in first_with:
            other = "Telegram's" if first_with[name] < 0 else f"[[notify]] #{first_with[name] + 1}'s"
            raise Problem([*where, "name"], f"{name!r} is also {other} name: give each channel its own name")
        first_with[name] = index
        for position, workflow in enumerate(channel.workflows or []):
            if workflow not in known:
                raise Problem(
                    [*where, "workflows", str(position)],
                    f"unknown workflow {workflow!r}: use one of {', '.join(known)}",
                )


def _cron_slug(cron: str) -> str:
    return "_".join(cron.split()).replace("*", "x")


def _check_together(settings: Settings) -> None:
    """What no single key can say: schedule names clash, a utilization that is not a percentage,
    a GitHub event mapped to a workflow that does not exist."""
    for event, workflow in settings.http.github.items():
        if workflow != DEFAULT_WORKFLOW and workflow not in settings.workflows:
            known = ", ".join(settings.workflow_names())
            raise Problem(
                ["http", "github", event],
                f"unknown workflow {workflow!r}: use one of {known}, or add [workflows.{workflow}]",
            )
    threshold = settings.budget.pause_above_utilization
    if threshold is not None and not 1 <= threshold <= 100:
        raise Problem(
            ["budget", "pause_above_utilization"],
            f"expected a percentage from 1 to 100, such as 90 (got {threshold:g})",
        )
    first_with: dict[str, int] = {}
    for index, (name, schedule) in enumerate(
        zip(schedule_names(settings.schedule), settings.schedule, strict=True)
    ):
        if schedule.name is not None and (not name.strip() or name != name.strip()):
            raise Problem(["schedule", str(index), "name"], f"{name!r}: a name cannot be empty or padded")
        if name not in first_with:
            first_with[name] = index
            continue
        earlier = f"[[schedule]] #{first_with[name] + 1}"
        if schedule.name is None:
            raise Problem(
                ["schedule", str(index)],
                f"the same cron, workflow and prompt as {earlier} (both named {name!r}): "
                "remove one, or give each a name",
            )
        raise Problem(
            ["schedule", str(index), "name"],
            f"{name!r} is also the name of {earlier}: give each schedule its own name",
        )
    _check_notify(settings)


def load_settings(config_file: Path) -> Settings:
    """Read and validate the config; a missing file means all defaults."""
    try:
        raw_text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{config_file}: cannot read the config: {error}") from None
    return parse_settings(raw_text, config_file)


def parse_settings(raw_text: str, source: Path | str) -> Settings:
    try:
        data = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: invalid TOML: {error}") from None
    try:
        settings = build(Settings, data)
        _check_together(settings)
        return settings
    except Problem as problem:
        raise ConfigError(f"{source}: {describe(problem)}") from None
