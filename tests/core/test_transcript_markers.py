"""flowtui's own lines in a transcript: where each run starts, and how a run was ended (a cancel,
an engine stop, an engine that died), read the same by the panes and ``flowtui logs``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import ok_script, write_script

from core.claude.events import RunMarker, Unknown, parse_event
from core.claude.transcript import (
    TranscriptRenderer,
    append_marker,
    render_transcript,
    run_ended_record,
    run_started_record,
)
from core.clock import Clock, zone_named
from core.engine.engine import Engine
from core.jobs import JobState
from core.ledger.sqlite import Ledger, NewJob

START = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)


class SteppingClock:
    """A wall clock the test moves on by hand, so a run's duration is known exactly."""

    def __init__(self) -> None:
        self.moment = START
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.moment

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.moment += timedelta(seconds=seconds)


def render_lines(*records: dict[str, Any]) -> str:
    renderer = TranscriptRenderer()
    return "".join(renderer.feed_all(parse_event(record)) for record in records)


def env_with(command: Path) -> dict[str, str]:
    return {**os.environ, "FLOWTUI_CLAUDE": str(command)}


@contextmanager
def engine_on(home: Path, script: Path, clock: Clock, config: str = "") -> Iterator[Engine]:
    engine = Engine(settings_from(config), home_paths(home), environ=env_with(script), clock=clock)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def logs_output(home: Path, job_id: int) -> str:
    env = {**os.environ, "FLOWTUI_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "logs", str(job_id)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


# -- the markers, written and read --------------------------------------------------


def test_markers_render_as_one_line_each() -> None:
    clock = Clock.frozen(START, zone_named("Europe/Berlin"))
    text = render_lines(
        run_started_record(clock, 2),
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "half a li"}},
        },
        run_ended_record(clock, "cancelled", "cancelled by the user", 13.2),
        run_ended_record(clock, "interrupted", "engine stopped", 75),
        run_ended_record(clock, "interrupted", "interrupted: pid 7 died mid-run", None),
        run_ended_record(clock, "timed out", "timed out: no output for 5 min", 300),
    )
    assert text.splitlines() == [
        "── run started 10:30:00 · attempt 2 ──",  # the writer's local time (Berlin, UTC+1)
        "half a li",
        "■ cancelled by the user after 13s",
        "■ interrupted after 1m15s: engine stopped",
        "■ interrupted: pid 7 died mid-run",
        "■ timed out after 5m00s: no output for 5 min",
    ]


def test_damaged_markers_never_raise_and_unknown_ones_show_raw() -> None:
    damaged: list[dict[str, Any]] = [
        {"type": "flowtui", "subtype": "marker", "marker": "run_started", "at": 5, "attempt": "two"},
        {"type": "flowtui", "subtype": "marker", "marker": "run_ended", "seconds": "13", "ended": ["x"]},
        {"type": "flowtui", "subtype": "marker", "marker": "run_ended", "seconds": True, "reason": None},
        {"type": "flowtui", "subtype": "marker", "marker": "run_ended", "seconds": float("nan")},
        {"type": "flowtui", "subtype": "marker", "marker": "run_ended", "seconds": -4, "at": "T1"},
    ]
    events = [event for record in damaged for event in parse_event(record)]
    assert all(isinstance(event, RunMarker) for event in events)
    assert render_lines(*damaged).splitlines() == [
        "── run started ──",
        "■ ended",
        "■ ended",
        "■ ended",
        "■ ended",
    ]
    (later,) = parse_event({"type": "flowtui", "subtype": "marker", "marker": "run_paused"})
    assert isinstance(later, Unknown)
    assert render_lines({"type": "flowtui", "subtype": "marker", "marker": "run_paused"}).startswith(
        "· flowtui/marker: "
    )


def test_a_marker_after_a_cut_line_starts_a_line_of_its_own(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_bytes(b'{"type":"system","subtype":"init","session_id":"s"}\n{"type":"stream_ev')
    append_marker(transcript, run_ended_record(Clock.frozen(START), "interrupted", "interrupted: gone", None))
    lines = transcript.read_bytes().splitlines()
    assert lines[1] == b'{"type":"stream_ev'
    assert json.loads(lines[2])["marker"] == "run_ended"
    assert render_transcript(transcript).splitlines()[-1] == "■ interrupted: gone"


# -- the engine writes them ---------------------------------------------------------


def test_cancel_of_a_running_job_marks_its_transcript_and_flowtui_logs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = write_script(
        tmp_path / "claude",
        'echo \'{"type":"system","subtype":"init","session_id":"s"}\'\n'
        'printf \'{"type":"stream_event","event":{"type":"content_block_delta",'
        '"delta":{"type":"text_delta","text":"Working on it"}}}\\n\'\n'
        "sleep 300\n",
    )
    stepping = SteppingClock()
    with engine_on(
        home, script, Clock(stepping.now, zone_named("UTC")), "[claude]\nkill_grace_seconds = 0.5"
    ) as engine:
        job = engine.control.add("x", cwd=tmp_path)
        wait_for(lambda: engine.control.get(job.id).claude_pid, what="claude to start")
        stepping.advance(13)
        engine.control.cancel(job.id)
        wait_job(engine, job.id, JobState.CANCELLED)
    rendered = render_transcript(home_paths(home).transcript_for(job.id, 1)).splitlines()
    assert rendered[0] == "── run started 09:30:00 · attempt 1 ──"
    assert rendered[-2:] == ["Working on it", "■ cancelled by the user after 13s"]
    logs = logs_output(home, job.id)
    assert "── run started 09:30:00 · attempt 1 ──" in logs
    assert logs.rstrip().endswith("Working on it\n■ cancelled by the user after 13s")


def test_a_run_interrupted_by_a_stop_and_its_rerun_are_told_apart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hanging = write_script(
        tmp_path / "hang",
        'echo \'{"type":"system","subtype":"init","session_id":"s"}\'\nsleep 300\n',
    )
    stepping = SteppingClock()
    clock = Clock(stepping.now, zone_named("UTC"))
    with engine_on(home, hanging, clock, "[claude]\nkill_grace_seconds = 0.5") as engine:
        job = engine.control.add("x", cwd=tmp_path)
        wait_for(lambda: engine.control.get(job.id).claude_pid, what="claude to start")
        stepping.advance(20)
    stepping.advance(40)
    with engine_on(home, ok_script(tmp_path / "claude"), clock) as engine:
        done = wait_job(engine, job.id, JobState.SUCCEEDED)
    assert done.attempts == 1  # the stop spent no attempt: the re-run shares the file
    rendered = render_transcript(home_paths(home).transcript_for(job.id, 1)).splitlines()
    assert [line for line in rendered if line.startswith(("──", "■", "✓"))] == [
        "── run started 09:30:00 · attempt 1 ──",
        "── session s · default model",
        "■ interrupted after 20s: engine stopped",
        "── run started 09:31:00 · attempt 1 ──",
        "── session fake-session · default model",
        "✓ done $0.0123 · 11 in / 7 out · 1 turn",
    ]


def test_a_recovered_job_shows_the_interruption_and_the_new_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db, clock=Clock.frozen(START))
    job = ledger.create(NewJob("again", "default", "cli", str(tmp_path), max_attempts=3), "test")
    ledger.claim(job.id, owner_pid=999_999)  # an engine that died mid-run
    first = paths.transcript_for(job.id, 1)
    first.write_bytes(
        json.dumps(run_started_record(Clock.frozen(START), 1)).encode()
        + b'\n{"type":"system","subtype":"init","session_id":"s1"}\n{"type":"stream_event","ev'
    )
    ledger.record_process(job.id, 999_998, 0.0, str(first))
    ledger.close()
    clock = Clock(SteppingClock().now, zone_named("UTC"))
    with engine_on(home, ok_script(tmp_path / "claude"), clock) as engine:
        done = wait_job(engine, job.id, JobState.SUCCEEDED)
    assert done.attempts == 2
    assert render_transcript(first).splitlines()[-1] == "■ interrupted: pid 999999 died mid-run"
    logs = logs_output(home, job.id).splitlines()
    interrupted = logs.index("■ interrupted: pid 999999 died mid-run")
    assert logs[interrupted + 1 :][:3] == ["", "── attempt 2 ──", "── run started 09:30:00 · attempt 2 ──"]
