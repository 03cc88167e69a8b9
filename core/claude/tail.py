"""Reading what a running job appends to its transcript: whole lines, from where the reader stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


class TranscriptTail:
    """Reads complete lines appended to one transcript since the last call (1 MiB at most
    per call, so a reader that falls behind catches up in steps)."""

    def __init__(self, path: Path, max_read: int = 1 << 20) -> None:
        self.path = path
        self.max_read = max_read
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> Iterator[bytes]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read(self.max_read)
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        yield from (line for line in complete if line.strip())

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def skip_to(self, offset: int) -> None:
        """Start reading at the first whole line after ``offset`` (for a tail view)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                handle.readline()  # the line cut in half
                self._offset = handle.tell()
        except FileNotFoundError:
            self._offset = 0
        self._partial = b""

    @property
    def caught_up(self) -> bool:
        try:
            return self.path.stat().st_size <= self._offset
        except FileNotFoundError:
            return True
