"""Splitting a pipe into lines: across reads, over the size limit, and at EOF."""

from __future__ import annotations

import os
import threading

import pytest

from core.claude.stream import LineReader, StrayLine, Tick, decode_line


def read_all(pieces: list[bytes], max_line_bytes: int) -> list[bytes | str]:
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        for piece in pieces:
            os.write(write_fd, piece)
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    items = [
        item for item in LineReader(read_fd, max_line_bytes, poll_seconds=0.05) if not isinstance(item, Tick)
    ]
    thread.join()
    os.close(read_fd)
    return [item.reason if isinstance(item, StrayLine) else item for item in items]


def test_lines_split_across_reads_are_joined() -> None:
    assert read_all([b'{"a":', b"1}\n{", b'"b":2}\n\n{"c":3}'], 100) == [
        b'{"a":1}',
        b'{"b":2}',
        b"",
        b'{"c":3}',
    ]


@pytest.mark.parametrize(
    "pieces", [[b"x" * 50 + b"\nok\n"], [b"x" * 30, b"x" * 20, b"\nok\n"], [b"x" * 60, b"x\nok\n"]]
)
def test_a_line_over_the_limit_is_reported_once_and_dropped(pieces: list[bytes]) -> None:
    assert read_all(pieces, 40) == ["line over 40 bytes skipped", b"ok"]


def test_decode_line_says_why_a_line_is_not_json() -> None:
    assert decode_line(b'{"type": "x"}') == {"type": "x"}
    assert isinstance(decode_line(b"\xff\xfe"), StrayLine)
    assert decode_line(b"\xff\xfe").reason == "non-UTF-8 bytes at offset 0 skipped"  # type: ignore[union-attr]
    assert decode_line(b"hello").reason == "non-JSON line skipped"  # type: ignore[union-attr]
    assert decode_line(b"[1]").reason == "JSON line that is not an object skipped"  # type: ignore[union-attr]
    assert decode_line(b"  ").reason == "blank line skipped"  # type: ignore[union-attr]
