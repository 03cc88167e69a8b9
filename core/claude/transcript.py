"""One readable rendering of a job's Claude output, used by ``flowtui logs`` and the TUI.

Text flows as it is produced; a tool call is one line; tool output is folded to a few
lines; API retries and the final cost are one line each; unknown lines are shown raw.
flowtui's own markers (a run's start, a cancel, an interruption) are written here too, so
the one file stays the record of every run it holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from core.claude.events import (
    ApiRetry,
    AssistantText,
    ClaudeEvent,
    Finished,
    RateLimit,
    RunMarker,
    SessionStarted,
    Skipped,
    TextDelta,
    ToolCall,
    ToolResult,
    Unknown,
    UserMessage,
    parse_event,
)
from core.clock import Clock
from core.display import printable
from core.summary import format_duration

RAW_EXCERPT = 200


class TranscriptRenderer:
    """Feeds on events, returns text to append (it may end mid-line while text streams)."""

    def __init__(self) -> None:
        self._at_line_start = True
        self._streamed_since_block = False

    def feed(self, event: ClaudeEvent) -> str:
        """The text to append for ``event``: Claude's and the tools' text as written, with
        control characters (ANSI escapes) and bidi overrides shown instead of obeyed."""
        return printable(self._feed(event))

    def _feed(self, event: ClaudeEvent) -> str:
        if isinstance(event, TextDelta):
            self._streamed_since_block = True
            return self._flow(event.text)
        if isinstance(event, AssistantText):
            streamed = self._streamed_since_block
            self._streamed_since_block = False
            return self._block_end() if streamed else self._flow(event.text) + self._block_end()
        self._streamed_since_block = False
        return self._line(self._describe(event))

    def feed_all(self, events: Iterable[ClaudeEvent]) -> str:
        return "".join(self.feed(event) for event in events)

    def _describe(self, event: ClaudeEvent) -> str:
        if isinstance(event, SessionStarted):
            where = f" · {event.cwd}" if event.cwd else ""
            return f"── session {event.session_id or '?'} · {event.model or 'default model'}{where}"
        if isinstance(event, ToolCall):
            return f"▸ {event.name}  {event.summary}".rstrip()
        if isinstance(event, ToolResult):
            return _fold(event)
        if isinstance(event, ApiRetry):
            delay = f" in {event.delay_ms / 1000:.1f}s" if event.delay_ms is not None else ""
            status = f"API error {event.status}, " if event.status else "API error, "
            return f"⟳ {status}retry {event.attempt or '?'}/{event.max_retries or '?'}{delay}"
        if isinstance(event, RateLimit):
            used = f" {round(event.utilization * 100)}%" if event.utilization is not None else ""
            return f"◔ usage: {event.window or 'window'}{used} ({event.status})"
        if isinstance(event, Finished):
            return _finished_line(event)
        if isinstance(event, Skipped):
            return f"⚠ {event.reason}: {event.excerpt[:80]!r}"
        if isinstance(event, UserMessage):
            return f"» {event.by} via {event.via}: {event.text}"
        if isinstance(event, RunMarker):
            return marker_line(event)
        assert isinstance(event, Unknown)
        raw = json.dumps(event.raw, ensure_ascii=False)
        return f"· {event.kind}: {raw[:RAW_EXCERPT]}{'…' if len(raw) > RAW_EXCERPT else ''}"

    def _flow(self, text: str) -> str:
        if text:
            self._at_line_start = text.endswith("\n")
        return text

    def _block_end(self) -> str:
        if self._at_line_start:
            return ""
        self._at_line_start = True
        return "\n"

    def _line(self, text: str) -> str:
        prefix = "" if self._at_line_start else "\n"
        self._at_line_start = True
        return f"{prefix}{text}\n"


def _fold(event: ToolResult) -> str:
    mark = "│" if event.ok else "✗"
    shown = [f"  {mark} {line}" for line in event.lines] or [f"  {mark} (no output)"]
    hidden = event.total_lines - len(event.lines)
    if hidden > 0:
        shown.append(f"  {mark} … {hidden} more line{'s' if hidden != 1 else ''}")
    return "\n".join(shown)


def _finished_line(event: Finished) -> str:
    result = event.result
    parts = []
    if event.duration_ms is not None:
        parts.append(f"in {format_duration(event.duration_ms / 1000)}")
    if result.cost_usd is not None:
        parts.append(f"${result.cost_usd:.4f}")
    if result.input_tokens is not None or result.output_tokens is not None:
        parts.append(f"{result.input_tokens or 0:,} in / {result.output_tokens or 0:,} out")
    if result.turns is not None:
        parts.append(f"{result.turns} turn{'s' if result.turns != 1 else ''}")
    details = " · ".join(parts)
    if result.is_error:
        first = (result.answer or result.subtype or "error").strip().splitlines()
        return f"✗ failed: {first[0] if first else 'error'}" + (f" · {details}" if details else "")
    return f"✓ done {details}".rstrip()


def marker_line(marker: RunMarker) -> str:
    """``── run started 10:30:05 · attempt 2 ──`` or ``■ cancelled by the user after 13s``."""
    when = _clock_time(marker.at)
    if marker.marker == "run_started":
        parts = ["run started" + (f" {when}" if when else "")]
        if marker.attempt is not None:
            parts.append(f"attempt {marker.attempt}")
        return f"── {' · '.join(parts)} ──"
    ended = marker.ended or "ended"
    after = f" after {format_duration(marker.seconds)}" if marker.seconds is not None else ""
    reason = (marker.reason or "").strip()
    if reason.startswith(f"{ended}:"):  # "interrupted: engine stopped": the time goes first
        return f"■ {ended}{after}: {reason[len(ended) + 1 :].strip()}"
    if reason.startswith(ended):  # "cancelled by the user" reads whole
        return f"■ {reason}{after}"
    return f"■ {ended}{after}" + (f": {reason}" if reason else "")


def _clock_time(at: str | None) -> str:
    """The HH:MM:SS of a marker's local ISO time (as the writer's zone saw it)."""
    if not at or "T" not in at:
        return ""
    clock_part = at.split("T", 1)[1][:8]
    return clock_part if len(clock_part) == 8 and clock_part[2] == ":" else ""


def run_started_record(clock: Clock, attempt: int) -> dict[str, Any]:
    return {
        "type": "flowtui",
        "subtype": "marker",
        "marker": "run_started",
        "at": clock.local().isoformat(timespec="seconds"),
        "attempt": attempt,
    }


def run_ended_record(clock: Clock, ended: str, reason: str, seconds: float | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "flowtui",
        "subtype": "marker",
        "marker": "run_ended",
        "at": clock.local().isoformat(timespec="seconds"),
        "ended": ended,
        "reason": reason,
    }
    if seconds is not None:
        record["seconds"] = round(max(seconds, 0.0), 1)
    return record


def append_marker(path: Path, record: dict[str, Any]) -> None:
    """Append one marker as a whole line; a file that ends mid-line (a run killed while
    writing) gets a newline first, so the marker is never glued to half a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as handle:
        ends_mid_line = False
        if handle.tell() > 0:
            handle.seek(-1, 2)
            ends_mid_line = handle.read(1) != b"\n"
        handle.write((b"\n" if ends_mid_line else b"") + orjson.dumps(record) + b"\n")


def decode_transcript_line(raw: bytes) -> dict[str, Any]:
    """One transcript line; a damaged one becomes a skipped-line record instead of an error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    excerpt = raw.strip()[:80].decode("utf-8", "replace")
    return {
        "type": "flowtui",
        "subtype": "stray_line",
        "reason": "unreadable transcript line",
        "excerpt": excerpt,
    }


def transcript_events(path: Path) -> Iterator[ClaudeEvent]:
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                yield from parse_event(decode_transcript_line(raw))


def render_transcript(path: Path) -> str:
    """The whole rendering of one attempt's transcript."""
    return TranscriptRenderer().feed_all(transcript_events(path))
