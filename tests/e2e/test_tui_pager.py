"""End to end in a real terminal: ``o`` hands the job's readable transcript to $PAGER, which
really gets the terminal, and the window comes back when it exits."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginekit import wait_for
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob
from core.paths import Paths

LONG_LINE = ",".join(str(number) for number in range(1, 151))

PAGER_SCRIPT = """\
import json, pathlib, sys, time
record, release = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
shown = pathlib.Path(sys.argv[-1])
record.write_text(json.dumps({"argv": sys.argv[3:], "text": shown.read_text(encoding="utf-8")}))
print("THE PAGER HAS THE TERMINAL", flush=True)
while not release.exists():  # the test lets it go once it saw this on the screen
    time.sleep(0.05)
"""


def seed_finished_job(home: Path) -> None:
    paths = Paths.under(home)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    try:
        job = ledger.create(NewJob("count to 150", "default", "cli", str(home), max_attempts=1), "test")
        ledger.claim(job.id, owner_pid=1)
        transcript = paths.transcript_for(job.id, 1)
        delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": LONG_LINE + "\n"}}
        transcript.write_text(json.dumps({"type": "stream_event", "event": delta}) + "\n")
        ledger.record_process(job.id, 4242, 0.0, str(transcript))
        ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, exit_code=0, answer=LONG_LINE))
    finally:
        ledger.close()


@pytest.fixture
def pager_terminal(tmp_path: Path) -> Iterator[tuple[TmuxSession, Path, Path]]:
    home = tmp_path / "home"
    seed_finished_job(home)
    script = tmp_path / "pager.py"
    script.write_text(PAGER_SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    record, release = tmp_path / "record.json", tmp_path / "release"
    env = {
        "FLOWTUI_HOME": str(home),
        "FLOWTUI_CLAUDE": "/bin/false",
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "PAGER": f"{sys.executable} {script} {record} {release} --from-flowtui",
    }
    session = TmuxSession(flowtui_command(), env, cwd=tmp_path)
    yield session, record, release
    session.close()


def test_o_gives_the_terminal_to_the_pager_and_the_window_comes_back(
    pager_terminal: tuple[TmuxSession, Path, Path],
) -> None:
    terminal, record, release = pager_terminal
    terminal.wait_for_text("count to 150")
    terminal.wait_for_text(",150")  # the long answer is wrapped in the output pane: its end shows
    terminal.keys("o")
    screen = terminal.wait_for_text("THE PAGER HAS THE TERMINAL")
    assert "count to 150" not in screen  # the window gave the terminal up
    recorded = json.loads(record.read_text())
    assert recorded["argv"][0] == "--from-flowtui"
    assert recorded["text"] == LONG_LINE + "\n"  # as `flowtui logs 1` prints it
    shown_file = Path(recorded["argv"][-1])
    release.touch()
    terminal.wait_for_text("count to 150")  # the window is back
    wait_for(lambda: not shown_file.exists(), timeout=10, what="the temp file to be removed")
    terminal.keys("q")
    wait_for(lambda: not terminal.alive(), timeout=20, what="flowtui to quit")
