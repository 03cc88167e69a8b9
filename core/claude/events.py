"""Claude's stream-json lines as typed events: what a person watching a job wants to see.

The CLI adds line types and fields between versions, so anything not understood becomes
an :class:`Unknown` event that keeps the raw line; parsing never raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.claude.stream import ResultLine


@dataclass(frozen=True)
class SessionStarted:
    """Claude's first line: the session it will resume from, its model, directory and tools."""

    session_id: str | None
    model: str | None
    cwd: str | None
    tools: tuple[str, ...]


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text as it streams."""

    text: str


@dataclass(frozen=True)
class AssistantText:
    """A finished assistant text block (shown only when its deltas were not streamed)."""

    text: str


@dataclass(frozen=True)
class ToolCall:
    """Claude asked to use a tool; shown as one line, matched to its result by id."""

    tool_use_id: str | None
    name: str
    summary: str
    """One line about the input: the Bash command, the file edited, the pattern searched."""


@dataclass(frozen=True)
class ToolResult:
    """What a tool gave back, folded to its first lines for the window."""

    tool_use_id: str | None
    ok: bool
    lines: tuple[str, ...]
    """The first lines of the output (folded)."""
    total_lines: int


@dataclass(frozen=True)
class ApiRetry:
    """The CLI is retrying an API call: shown so a slow job is seen waiting, not hung."""

    attempt: int | None
    max_retries: int | None
    delay_ms: int | None
    status: int | None


@dataclass(frozen=True)
class RateLimit:
    """A subscription window's reading (the CLI's ``rate_limit_event``, from the API's
    ``anthropic-ratelimit-unified-*`` headers): how much of it is used, and when it resets."""

    status: str
    """``allowed``, ``allowed_warning`` or ``rejected``."""
    window: str | None
    """``rateLimitType``: ``five_hour``, ``seven_day``, ``seven_day_opus``..."""
    utilization: float | None
    """The share used, 0 to 1 (the CLI sends 0.93 for 93 %)."""
    resets_at: int | None
    """``resetsAt``: when the window resets, epoch seconds."""


@dataclass(frozen=True)
class Finished:
    """The final ``result`` line."""

    result: ResultLine
    duration_ms: int | None


@dataclass(frozen=True)
class Skipped:
    """A line flowtui skipped (not JSON, not UTF-8, too long); recorded in the transcript."""

    reason: str
    excerpt: str


@dataclass(frozen=True)
class UserMessage:
    """A message a person told the running job (flowtui records it: the CLI does not echo it)."""

    text: str
    by: str
    via: str


@dataclass(frozen=True)
class RunMarker:
    """A line flowtui itself wrote into the transcript: where a run started, or how it was
    ended (cancelled, interrupted...), so runs sharing one file are never read as one."""

    marker: str
    """``run_started`` or ``run_ended``."""
    at: str | None
    """When, as an ISO time in the writer's local zone."""
    attempt: int | None = None
    ended: str | None = None
    """How the run ended (``cancelled``, ``interrupted``, ``timed out``...), for ``run_ended``."""
    reason: str | None = None
    seconds: float | None = None
    """How long the run had gone on when it was ended, if known."""


@dataclass(frozen=True)
class Unknown:
    """A line or line type this version does not know; kept raw."""

    kind: str
    raw: dict[str, Any] = field(repr=False)


ClaudeEvent = (
    SessionStarted
    | TextDelta
    | AssistantText
    | ToolCall
    | ToolResult
    | ApiRetry
    | RateLimit
    | Finished
    | Skipped
    | UserMessage
    | RunMarker
    | Unknown
)

ANSWER_EVENTS = (TextDelta, AssistantText, ToolCall, ToolResult, Finished)
"""Events that show Claude has begun to answer (a run is no longer cheap to start over)."""

MARKERS = ("run_started", "run_ended")
"""The markers flowtui writes; another one (a later version's) is shown raw, as unknown."""

RESULT_PREVIEW_LINES = 4
_SUMMARY_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")


def parse_event(line: dict[str, Any]) -> list[ClaudeEvent]:
    """The events one stream-json line carries (an assistant line may hold several blocks)."""
    try:
        return _parse(line)
    except (AttributeError, TypeError, ValueError, KeyError):
        return [Unknown(kind=str(line.get("type", "?")), raw=line)]


def _parse(line: dict[str, Any]) -> list[ClaudeEvent]:
    kind = line.get("type")
    subtype = line.get("subtype")
    if kind == "system" and subtype == "init":
        tools = line.get("tools") or []
        return [
            SessionStarted(
                session_id=line.get("session_id"),
                model=line.get("model"),
                cwd=line.get("cwd"),
                tools=tuple(str(tool) for tool in tools),
            )
        ]
    if kind == "system" and subtype == "api_retry":
        return [
            ApiRetry(
                attempt=_int(line.get("attempt")),
                max_retries=_int(line.get("max_retries")),
                delay_ms=_int(line.get("retry_delay_ms")),
                status=_int(line.get("error_status")),
            )
        ]
    if kind == "rate_limit_event":
        info = line.get("rate_limit_info") or {}
        utilization = info.get("utilization")
        return [
            RateLimit(
                status=str(info.get("status") or "allowed"),
                window=_str(info.get("rateLimitType")),
                utilization=float(utilization) if isinstance(utilization, int | float) else None,
                resets_at=_int(info.get("resetsAt")),
            )
        ]
    if kind == "system" and subtype in ("status", "hook_started", "hook_response"):
        return []  # bookkeeping the CLI prints between requests
    if kind == "stream_event":
        return _parse_stream_event(line)
    if kind == "assistant":
        return _parse_assistant(line)
    if kind == "user":
        return _parse_user(line)
    if kind == "result":
        return [Finished(result=ResultLine.from_event(line), duration_ms=_int(line.get("duration_ms")))]
    if kind == "flowtui" and subtype == "user_message":
        return [
            UserMessage(
                text=str(line.get("text", "")), by=str(line.get("by", "")), via=str(line.get("via", ""))
            )
        ]
    if kind == "control_response":
        return []  # the CLI's answer to flowtui's own requests on stdin (initialize)
    if kind == "flowtui" and subtype == "stray_line":
        return [Skipped(reason=str(line.get("reason", "")), excerpt=str(line.get("excerpt", "")))]
    if kind == "flowtui" and subtype == "marker" and line.get("marker") in MARKERS:
        return [
            RunMarker(
                marker=str(line["marker"]),
                at=_str(line.get("at")),
                attempt=_int(line.get("attempt")),
                ended=_str(line.get("ended")),
                reason=_str(line.get("reason")),
                seconds=_seconds(line.get("seconds")),
            )
        ]
    return [Unknown(kind=f"{kind}/{subtype}" if subtype else str(kind), raw=line)]


def _parse_stream_event(line: dict[str, Any]) -> list[ClaudeEvent]:
    event = line.get("event") or {}
    if event.get("type") == "content_block_delta":
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [TextDelta(text=str(delta["text"]))]
    return []  # message_start/stop, tool input deltas...: the whole block follows as `assistant`


def _parse_assistant(line: dict[str, Any]) -> list[ClaudeEvent]:
    message = line.get("message") or {}
    events: list[ClaudeEvent] = []
    for block in message.get("content") or []:
        block_type = block.get("type")
        if block_type == "text":
            events.append(AssistantText(text=str(block.get("text", ""))))
        elif block_type == "tool_use":
            events.append(
                ToolCall(
                    tool_use_id=block.get("id"),
                    name=str(block.get("name", "?")),
                    summary=summarise_input(block.get("input")),
                )
            )
    return events


def _parse_user(line: dict[str, Any]) -> list[ClaudeEvent]:
    message = line.get("message") or {}
    content = message.get("content")
    events: list[ClaudeEvent] = []
    if not isinstance(content, list):
        return events
    for block in content:
        if block.get("type") != "tool_result":
            continue
        text = _text_of(block.get("content"))
        lines = text.splitlines()
        events.append(
            ToolResult(
                tool_use_id=block.get("tool_use_id"),
                ok=not block.get("is_error", False),
                lines=tuple(lines[:RESULT_PREVIEW_LINES]),
                total_lines=len(lines),
            )
        )
    return events


def summarise_input(tool_input: Any) -> str:
    """One line for a tool call's input: its most telling field."""
    if not isinstance(tool_input, dict):
        return ""
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return _one_line(value)
    return _one_line(json.dumps(tool_input, ensure_ascii=False)) if tool_input else ""


def _one_line(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 and value == value and value != float("inf") else None
