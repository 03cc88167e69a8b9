"""An attached window's two senses, neither of them polling.

* :class:`SharedStateWatcher` sees every write another process makes to the shared state:
  inotify (through watchfiles) on the data dir reports the ledger's WAL growing and
  transcripts being appended to, within ~50 ms.
* :class:`EngineVacancy` knows at once when the engine's process ends: a thread waits in a
  blocking flock on the engine lock, which the kernel releases when that process dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from core.paths import Paths

log = logging.getLogger(__name__)

_TRANSCRIPT = re.compile(r"job-(\d+)-attempt-(\d+)\.jsonl$")


class SharedStateWatcher:
    """Calls ``on_ledger`` when the ledger changes and ``on_output(job_id)`` when a transcript grows."""

    def __init__(self, paths: Paths, on_ledger: Callable[[], None], on_output: Callable[[int], None]) -> None:
        self._paths = paths
        self._on_ledger = on_ledger
        self._on_output = on_output
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowtui-attach-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        ledger_names = {self._paths.ledger_db.name, f"{self._paths.ledger_db.name}-wal"}
        try:
            for changes in watchfiles.watch(
                self._paths.data_dir,
                self._paths.transcripts_dir,
                stop_event=self._stop,
                debounce=50,
                step=20,
                rust_timeout=1000,
                yield_on_timeout=False,
                recursive=False,
            ):
                ledger_changed = False
                grown: set[int] = set()
                for _, changed in changes:
                    name = Path(changed).name
                    if name in ledger_names:
                        ledger_changed = True
                    elif match := _TRANSCRIPT.search(name):
                        grown.add(int(match.group(1)))
                for job_id in grown:
                    self._on_output(job_id)
                if ledger_changed:
                    self._on_ledger()
        except Exception:
            log.exception("watching the shared state failed; the window refreshes on its timer only")


class EngineVacancy:
    """Calls ``on_vacant`` once, when no process holds the engine lock any more."""

    def __init__(self, lock_path: Path, on_vacant: Callable[[], None]) -> None:
        self._lock_path = lock_path
        self._on_vacant = on_vacant
        self._thread = threading.Thread(target=self._run, name="flowtui-engine-vacancy", daemon=True)
        self._cancelled = False

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop caring (the window is closing); the waiting thread is a daemon and exits with us."""
        self._cancelled = True

    def _run(self) -> None:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # blocks until the engine's exclusive lock is gone
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if not self._cancelled:
            self._on_vacant()
