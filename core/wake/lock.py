"""One engine per data dir: an flock that the kernel releases when the process dies."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from core.clock import SYSTEM_CLOCK, Clock


class EngineBusy(Exception):
    """Another live process runs the engine for this data dir."""

    def __init__(self, holder: EngineHolder) -> None:
        super().__init__(f"an engine already runs for this data dir (pid {holder.pid}, since {holder.since})")
        self.holder = holder


@dataclass(frozen=True)
class EngineHolder:
    """Who holds the engine lock, as the lock file records it."""

    pid: int
    since: str


class EngineLock:
    """The flock that makes one engine per data dir; the kernel drops it when the process dies."""

    def __init__(self, path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self._clock = clock
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EngineBusy(read_holder(self.path) or EngineHolder(pid=0, since="?")) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self._clock.iso()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def read_holder(path: Path) -> EngineHolder | None:
    """Who holds the engine lock, or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 200).decode("utf-8", "replace").split()
            if len(text) >= 2 and text[0].isdigit():
                return EngineHolder(pid=int(text[0]), since=text[1])
            return EngineHolder(pid=0, since="?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
