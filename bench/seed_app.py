"""The seed's recipe, as the baseline for ``bench/dispatch.py``: a plain SqliteHuey app.

Run it the way the seed did, with Huey's own consumer and its default polling back-off::

    BENCH_SEED_DB=/tmp/x/seed.db BENCH_FAKE_CLAUDE=/tmp/x/claude.sh huey_consumer seed_app.huey -w 1

(from this directory, so ``seed_app`` imports). The producer calls ``run_claude(prompt)``;
the task runs the Claude command with ``subprocess.run`` and an argv list, with the same
flags flowtui's runner passes, and captures its output.
"""

from __future__ import annotations

import os
import subprocess

from huey import SqliteHuey

DB_ENV = "BENCH_SEED_DB"
CLAUDE_ENV = "BENCH_FAKE_CLAUDE"

huey = SqliteHuey(filename=os.environ[DB_ENV])


@huey.task()  # type: ignore[untyped-decorator]
def run_claude(prompt: str) -> int:
    argv = [
        os.environ.get(CLAUDE_ENV, "claude"),
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--",
        prompt,
    ]
    completed = subprocess.run(argv, capture_output=True, check=False)
    return completed.returncode
