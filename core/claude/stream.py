"""Reading Claude's stream-json output: whole lines out of a pipe, and the final result.

Lines are read from the raw file descriptor so a silent CLI, a cancel request and an
oversized line are all noticed without blocking; bytes are never held beyond one line.
"""

from __future__ import annotations

import json
import os
import select
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class StrayLine:
    """A line that is not a stream-json object; recorded in the transcript and skipped."""

    reason: str
    excerpt: str


@dataclass(frozen=True)
class Tick:
    """Nothing more to read right now: a good moment to flush, check cancels and timeouts."""

    idle: bool
    """True when the poll interval passed with no bytes at all."""


class LineReader:
    """Splits a pipe into lines of at most ``max_line_bytes`` bytes."""

    def __init__(self, fd: int, max_line_bytes: int, poll_seconds: float = 0.2) -> None:
        self._fd = fd
        self._max = max_line_bytes
        self._poll = poll_seconds
        self._buffer = bytearray()
        self._skipping_oversized = False
        self.eof = False

    def __iter__(self) -> Iterator[bytes | StrayLine | Tick]:
        while not self.eof:
            readable, _, _ = select.select([self._fd], [], [], self._poll)
            if not readable:
                yield Tick(idle=True)
                continue
            chunk = os.read(self._fd, 65536)
            if not chunk:
                self.eof = True
                if self._buffer and not self._skipping_oversized:
                    yield bytes(self._buffer)
                self._buffer.clear()
                return
            yield from self._split(chunk)
            yield Tick(idle=False)

    def _split(self, chunk: bytes) -> Iterator[bytes | StrayLine]:
        first_newline = chunk.find(b"\n")
        if first_newline < 0:
            self._append(chunk)
            if self._over_limit():
                yield self._oversized()
            return
        # Finish the line the previous chunk left open...
        if self._skipping_oversized:
            self._skipping_oversized = False
        else:
            self._buffer.extend(chunk[:first_newline])
            yield self._oversized_complete(bytes(self._buffer)) if self._over_limit() else bytes(self._buffer)
            self._buffer.clear()
        # ...then split the rest in C: the common case is many whole lines per read.
        *lines, rest = chunk[first_newline + 1 :].split(b"\n")
        for line in lines:
            yield self._oversized_complete(line) if len(line) > self._max else line
        self._buffer.extend(rest)
        if self._over_limit():
            yield self._oversized()

    def _append(self, piece: bytes) -> None:
        if not self._skipping_oversized:
            self._buffer.extend(piece)

    def _over_limit(self) -> bool:
        return not self._skipping_oversized and len(self._buffer) > self._max

    def _oversized(self) -> StrayLine:
        """The open line passed the limit: report it and drop the rest of it as it comes."""
        stray = self._oversized_complete(bytes(self._buffer[:120]))
        self._buffer.clear()
        self._skipping_oversized = True
        return stray

    def _oversized_complete(self, line: bytes) -> StrayLine:
        return StrayLine(f"line over {self._max:,} bytes skipped", line[:120].decode("utf-8", "replace"))


def decode_line(raw: bytes) -> dict[str, Any] | StrayLine:
    """One stream-json line as a dict, or why it is not one."""
    try:
        # orjson validates UTF-8 and parses in one pass, several times faster than json:
        # this runs once per line of a Claude run that may print millions.
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _why_not_json(raw)
    if isinstance(value, dict):
        return value
    return _why_not_json(raw)


def _why_not_json(raw: bytes) -> StrayLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return StrayLine(
            f"non-UTF-8 bytes at offset {error.start} skipped", raw[:120].decode("utf-8", "replace")
        )
    stripped = text.strip()
    if not stripped:
        return StrayLine("blank line skipped", "")
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        return StrayLine("non-JSON line skipped", stripped[:120])
    return StrayLine("JSON line that is not an object skipped", stripped[:120])


@dataclass(frozen=True)
class ResultLine:
    """The fields of the CLI's final ``result`` line that the ledger keeps."""

    is_error: bool
    subtype: str | None
    answer: str | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None
    turns: int | None
    session_id: str | None
    api_error_status: int | None
    structured_output: str | None = None
    """The ``--json-schema`` run's output as compact JSON text (the line's ``structured_output``)."""

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ResultLine:
        raw_usage = event.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        answer = event.get("result")
        status = event.get("api_error_status")
        return cls(
            is_error=bool(event.get("is_error", False)),
            subtype=_str_or_none(event.get("subtype")),
            answer=answer if isinstance(answer, str) else None,
            cost_usd=_number_or_none(event.get("total_cost_usd")),
            input_tokens=_int_or_none(usage.get("input_tokens")),
            output_tokens=_int_or_none(usage.get("output_tokens")),
            turns=_int_or_none(event.get("num_turns")),
            session_id=_str_or_none(event.get("session_id")),
            api_error_status=_int_or_none(status),
            structured_output=_json_or_none(event.get("structured_output")),
        )


def _json_or_none(value: object) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
