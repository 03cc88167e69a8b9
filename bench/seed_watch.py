"""The seed's trigger recipe, as the baseline for ``bench/trigger.py``.

A watchdog observer over one directory calls ``seed_app.run_claude`` (a SqliteHuey task)
for every file created, modified or moved into place; a separate ``huey_consumer`` runs
the tasks. There is no batching, so each event is its own task. Run from this directory::

    BENCH_SEED_DB=/tmp/x/seed.db BENCH_FAKE_CLAUDE=/tmp/x/claude.sh python seed_watch.py DIR

It prints ``watching`` once the observer runs, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import seed_app
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

TRIGGERS = ("created", "modified", "moved")


class EnqueueEveryChange(FileSystemEventHandler):
    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in TRIGGERS:
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        seed_app.run_claude(f"{path!s} changed ({event.event_type})")


def main() -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    observer = Observer()
    observer.schedule(EnqueueEveryChange(), sys.argv[1], recursive=True)
    observer.start()
    print("watching", flush=True)
    while not stop.wait(3600):
        pass
    observer.stop()
    observer.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
