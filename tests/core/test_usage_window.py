"""The subscription window: the CLI's rate_limit_event read, its latest reading per window kept
in the ledger, resetsAt preferred over the error text, and the proactive pause until the reset."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import result_line, write_script

from core.claude.events import RateLimit, parse_event
from core.claude.limits import UsageReading, detect_limit, headline_reading, reading_of
from core.claude.stream import ResultLine
from core.clock import Clock, to_iso, zone_named
from core.config.settings import parse_settings
from core.engine.engine import Engine
from core.errors import ConfigError
from core.jobs import JobState
from core.ledger.sqlite import Ledger

RECORDED = (
    '{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1796227749,'
    '"rateLimitType":"five_hour","utilization":0.93,"isUsingOverage":false,"surpassedThreshold":0.9},'
    '"uuid":"d84f614e-4adb-402c-b41b-133647a755dd","session_id":"045af7b0-9342-4fe8-8c1a-2829672e33c6"}'
)
"""A line the installed CLI (2.1.x, logged in with a subscription token) printed against the
stand-in sending ``[[usage:0.93]]``'s headers."""

BERLIN_CLOCK = Clock.frozen(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), zone_named("Europe/Berlin"))


def test_a_recorded_rate_limit_event_is_one_reading_of_its_window() -> None:
    (event,) = parse_event(json.loads(RECORDED))
    assert event == RateLimit(
        status="allowed_warning", window="five_hour", utilization=0.93, resets_at=1796227749
    )
    reading = reading_of(event, BERLIN_CLOCK)
    assert reading is not None and reading.percent == 93 and reading.short_name == "5h"
    assert reading.resets_at == datetime.fromtimestamp(1796227749, UTC)
    assert UsageReading.from_json(reading.to_json()) == reading  # as the ledger keeps it


def test_the_header_says_the_window_nearest_its_limit_in_local_time() -> None:
    now = BERLIN_CLOCK.now()
    five = UsageReading("five_hour", "allowed_warning", 0.93, now + timedelta(hours=3), now)
    week = UsageReading("seven_day", "allowed", 0.41, now + timedelta(days=2), now)
    old = UsageReading("seven_day_opus", "allowed", 0.99, now - timedelta(minutes=1), now)
    chosen = headline_reading([week, five, old], now)  # the opus one reset since: not current
    assert chosen == five
    assert five.describe(BERLIN_CLOCK) == "5h 93% · resets 17:00"  # 16:00 UTC in Berlin
    assert week.describe(BERLIN_CLOCK) == "7d 41% · resets Fri 14:00"


def test_a_rejected_reading_gives_the_reset_before_the_error_text() -> None:
    result = ResultLine.from_event(
        {
            "type": "result",
            "is_error": True,
            "api_error_status": 429,
            "result": "You've hit your limit · resets 5pm",
        }
    )
    resets = int((BERLIN_CLOCK.now() + timedelta(minutes=95)).timestamp())
    rejected = RateLimit(status="rejected", window="five_hour", utilization=None, resets_at=resets)
    from_reading = detect_limit(result, BERLIN_CLOCK, rejected)
    assert from_reading is not None and from_reading.reset_known
    assert from_reading.until == datetime.fromtimestamp(resets, UTC)
    from_text = detect_limit(result, BERLIN_CLOCK)
    assert from_text is not None and BERLIN_CLOCK.local(from_text.until).hour == 17


def test_pause_above_utilization_is_a_percentage_checked_at_load() -> None:
    assert (
        parse_settings("[budget]\npause_above_utilization = 90\n", "c").budget.pause_above_utilization == 90
    )
    for bad in ("0.9", "101", '"90%"'):
        try:
            parse_settings(f"[budget]\npause_above_utilization = {bad}\n", "c")
        except ConfigError as error:
            assert str(error).startswith("c: [budget] pause_above_utilization: "), error
        else:
            raise AssertionError(f"{bad} was taken")


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def pausing_engine(tmp_path: Path, script: Path, clock: FakeClock) -> Engine:
    """An engine whose queue pauses at 90 % of a window, on ``clock``, running ``script`` as Claude."""
    return Engine(
        settings_from("[budget]\npause_above_utilization = 90\n"),
        home_paths(tmp_path / "home"),
        environ={**os.environ, "FLOWTUI_CLAUDE": str(script)},
        clock=Clock(clock, zone_named("Europe/Berlin")),
    )


def test_a_window_above_the_threshold_pauses_the_queue_until_it_resets(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    resets = clock.now + timedelta(seconds=2)  # by the engine's clock: the pause ends then
    event = json.loads(RECORDED)
    event["rate_limit_info"]["resetsAt"] = int(resets.timestamp())
    script = write_script(tmp_path / "claude", f"echo '{json.dumps(event)}'\necho '{result_line()}'\n")
    engine = pausing_engine(tmp_path, script, clock)
    engine.start()
    try:
        assert engine.control is not None
        first = engine.control.add("one", cwd=tmp_path)
        wait_job(engine, first.id, JobState.SUCCEEDED)
        (reading,) = engine.control.usage()
        assert (reading.window, reading.percent, reading.resets_at) == ("five_hour", 93, resets)
        state = wait_for(lambda: (s := engine.control.pause_state()).paused and s, what="the usage pause")  # type: ignore[union-attr]
        assert state.reason == "5h window 93% used, at or above 90%"
        assert state.until == to_iso(resets)
        assert state.describe() == "paused: 5h window 93% used, at or above 90% (resumes by itself at 14:00)"
        second = engine.control.add("two", cwd=tmp_path)
        assert engine.control.get(second.id).state is JobState.QUEUED
        clock.now = resets  # the engine's clock reaches the reset as the pause ends
        wait_for(lambda: not engine.control.pause_state().paused, what="the resume at the reset")  # type: ignore[union-attr]
        wait_job(engine, second.id, JobState.SUCCEEDED)
    finally:
        engine.stop()
    ledger = Ledger(tmp_path / "home" / "ledger.db")
    try:
        assert json.loads(ledger.get_flag("usage:five_hour") or "{}")["utilization"] == 0.93
    finally:
        ledger.close()


def test_a_reading_recorded_elsewhere_pauses_the_queue_before_the_next_job_starts(tmp_path: Path) -> None:
    """Another machine's run (or a parallel one) filled the window: the next job here waits."""
    clock = FakeClock(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    resets = clock.now + timedelta(hours=2)
    script = write_script(tmp_path / "claude", f"echo '{result_line()}'\n")
    engine = pausing_engine(tmp_path, script, clock)
    engine.start()
    try:
        assert engine.control is not None
        reading = UsageReading("five_hour", "allowed_warning", 0.95, resets, clock.now)
        engine.ledger.set_flag("usage:five_hour", reading.to_json())
        job = engine.control.add("one", cwd=tmp_path)
        state = wait_for(lambda: (s := engine.control.pause_state()).paused and s, what="the usage pause")  # type: ignore[union-attr]
        assert state.reason == "5h window 95% used, at or above 90%"
        assert state.until == to_iso(resets)
        queued = engine.control.get(job.id)
        assert queued.state is JobState.QUEUED and queued.attempts == 0
        engine.control.resume()
        wait_job(engine, job.id, JobState.SUCCEEDED)  # a person's resume wins until the next reading
    finally:
        engine.stop()
