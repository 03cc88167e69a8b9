"""Parsing stream-json into typed events, rendering them, and spotting usage limits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.claude.events import (
    ApiRetry,
    AssistantText,
    Finished,
    SessionStarted,
    TextDelta,
    ToolCall,
    ToolResult,
    Unknown,
    parse_event,
)
from core.claude.limits import detect_limit
from core.claude.stream import ResultLine
from core.claude.transcript import TranscriptRenderer, render_transcript
from core.clock import Clock, zone_named

INIT = {
    "type": "system",
    "subtype": "init",
    "session_id": "s1",
    "model": "opus",
    "cwd": "/w",
    "tools": ["Bash"],
}
DELTA = {
    "type": "stream_event",
    "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}},
}
TOOL_USE = {
    "type": "assistant",
    "message": {
        "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls -la\n/tmp"}}]
    },
}
TOOL_RESULT = {
    "type": "user",
    "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a\nb\nc\nd\ne\nf"}]},
}
RETRY = {
    "type": "system",
    "subtype": "api_retry",
    "attempt": 2,
    "max_retries": 10,
    "retry_delay_ms": 1500,
    "error_status": 500,
}
RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "result": "Hello",
    "total_cost_usd": 0.5,
    "num_turns": 2,
    "duration_ms": 2500,
    "session_id": "s1",
    "usage": {"input_tokens": 1200, "output_tokens": 30},
}


def test_each_line_type_becomes_its_event() -> None:
    assert parse_event(INIT) == [SessionStarted("s1", "opus", "/w", ("Bash",))]
    assert parse_event(DELTA) == [TextDelta("Hel")]
    assert parse_event(TOOL_USE) == [ToolCall("t1", "Bash", "ls -la /tmp")]
    assert parse_event(TOOL_RESULT) == [ToolResult("t1", True, ("a", "b", "c", "d"), 6)]
    assert parse_event(RETRY) == [ApiRetry(2, 10, 1500, 500)]
    (finished,) = parse_event(RESULT)
    assert isinstance(finished, Finished) and finished.result.cost_usd == 0.5 and finished.duration_ms == 2500
    assert parse_event({"type": "system", "subtype": "status", "status": "requesting"}) == []


def test_unknown_and_malformed_lines_are_kept_raw_never_raised() -> None:
    for line in (
        {"type": "brand_new", "x": 1},
        {"type": "assistant", "message": "not a dict"},
        {"no": "type"},
    ):
        (event,) = parse_event(line)
        assert isinstance(event, Unknown) and event.raw == line


def test_rendering_flows_text_and_folds_tools() -> None:
    renderer = TranscriptRenderer()
    lines = [
        INIT,
        DELTA,
        {**DELTA, "event": {**DELTA["event"], "delta": {"type": "text_delta", "text": "lo"}}},
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "Hello"}]}},
        TOOL_USE,
        TOOL_RESULT,
        RETRY,
        RESULT,
        {"type": "brand_new"},
    ]
    text = "".join(renderer.feed_all(parse_event(line)) for line in lines)
    assert text == (
        "── session s1 · opus · /w\n"
        "Hello\n"  # streamed once: the finished message does not repeat it
        "▸ Bash  ls -la /tmp\n"
        "  │ a\n  │ b\n  │ c\n  │ d\n  │ … 2 more lines\n"
        "⟳ API error 500, retry 2/10 in 1.5s\n"
        "✓ done in 2.5s · $0.5000 · 1,200 in / 30 out · 2 turns\n"
        '· brand_new: {"type": "brand_new"}\n'
    )


def test_a_finished_message_without_deltas_is_shown() -> None:
    text = TranscriptRenderer().feed_all([AssistantText("whole answer"), ToolCall(None, "Read", "/x")])
    assert text == "whole answer\n▸ Read  /x\n"


def test_render_transcript_survives_a_damaged_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"type":"system","subtype":"init","session_id":"s"}\n{broken\n')
    assert "⚠ unreadable transcript line: '{broken'" in render_transcript(path)


def _error(text: str, status: int | None = None) -> ResultLine:
    return ResultLine(True, "success", text, 0.0, 0, 0, 1, "s", status)


def test_limits_are_recognised_with_their_reset_time() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    zone = zone_named("America/New_York")
    frozen = Clock.frozen(now, zone)
    piped = detect_limit(_error("Claude AI usage limit reached|1795600000"), frozen)
    assert piped is not None and piped.kind == "usage limit" and piped.reset_known
    assert piped.until == datetime.fromtimestamp(1795600000, UTC)
    stated = detect_limit(_error("You've hit your limit · resets 5pm"), frozen)
    assert stated is not None and stated.reset_known and stated.until.astimezone(zone).hour == 17
    assert stated.until == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 17:00 in New York that day
    rate = detect_limit(_error("API Error: Request rejected (429) · slow down", 429), frozen)
    assert rate is not None and rate.kind == "rate limit" and not rate.reset_known
    assert (rate.until - now).total_seconds() == 300
    assert detect_limit(_error("API Error: 400 bad request", 400), frozen) is None
    ok = ResultLine(False, "success", "usage limit is a fine topic", 0.0, 0, 0, 1, "s", None)
    assert detect_limit(ok, frozen) is None
