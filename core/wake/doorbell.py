"""Waking the engine at once instead of polling.

In-process, a :class:`Doorbell` wakes sleeping workers. Across processes, the engine
listens on a named pipe in the data dir; ``flowtui add`` and friends write a byte to it
after committing, so a job added from another terminal starts within milliseconds
while an idle engine sleeps (near-zero CPU).
"""

from __future__ import annotations

import errno
import os
import select
import stat
import threading
from collections.abc import Callable
from pathlib import Path


class Doorbell:
    """A generation counter that sleepers wait on; ringing wakes them all."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        with self._condition:
            return self._generation

    def ring(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float | None) -> bool:
        """Sleep until the bell rang after ``seen`` was read; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._generation != seen, timeout)


def poke(fifo: Path) -> bool:
    """Tell a running engine that the shared state changed; False when none listens."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno in (errno.ENXIO, errno.ENOENT):
            return False  # no engine is listening: it will read the ledger when it starts
        raise
    try:
        os.write(fd, b"!")
    except BlockingIOError:
        pass  # the pipe is full of unread pokes: the engine is already being woken
    finally:
        os.close(fd)
    return True


class PokeListener:
    """Reads the engine's named pipe in a thread and calls back on each burst of pokes."""

    def __init__(
        self, fifo: Path, on_poke: Callable[[], None], idle_timeout: float, on_idle: Callable[[], None]
    ) -> None:
        self._fifo = fifo
        self._on_poke = on_poke
        self._on_idle = on_idle
        self._idle_timeout = idle_timeout
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="flowtui-poke", daemon=True)
        self._fd: int | None = None

    def start(self) -> None:
        if self._fifo.exists() and not stat.S_ISFIFO(self._fifo.stat().st_mode):
            self._fifo.unlink()
        if not self._fifo.exists():
            os.mkfifo(self._fifo, 0o600)
        # O_RDWR keeps a writer open ourselves, so the pipe never reports EOF between pokes.
        self._fd = os.open(self._fifo, os.O_RDWR | os.O_NONBLOCK)
        self._thread.start()

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for fd in (self._fd, self._stop_r, self._stop_w):
            if fd is not None:
                os.close(fd)
        self._fd = None

    def _run(self) -> None:
        assert self._fd is not None
        while True:
            readable, _, _ = select.select([self._fd, self._stop_r], [], [], self._idle_timeout)
            if self._stop_r in readable:
                return
            if self._fd in readable:
                self._drain()
                self._on_poke()
            else:
                self._on_idle()

    def _drain(self) -> None:
        assert self._fd is not None
        try:
            while os.read(self._fd, 4096):
                pass
        except BlockingIOError:
            pass
