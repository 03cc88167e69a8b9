"""One clock, local time by the zone's rules: schedules, budgets and stats on DST nights.

Europe/Berlin moves its clocks forward at 02:00 on 2027-03-28 (a 23-hour Sunday) and back
at 03:00 on 2026-10-25 (a 25-hour Sunday). A fixed UTC offset taken "now" gets one side of
each change wrong; these tests pin the zone and move the clock by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from enginekit import home_paths, settings_from
from fakeclaude import ok_script

from core.clock import Clock, to_iso, zone_named
from core.config.settings import BudgetSettings, Settings
from core.engine.budget import queue_budget
from core.engine.engine import Engine
from core.jobs import JobSource, JobState, RunOutcome
from core.ledger.redis import RedisLedger
from core.ledger.sqlite import Ledger, NewJob
from core.ledger.store import LedgerStore
from core.schedule.cron import ScheduleService, describe_schedules, next_after, schedule_key

BERLIN = zone_named("Europe/Berlin")


class Hands:
    """The time a test sets: the clock's ``now`` reads it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# -- the clock itself -----------------------------------------------------------------


def test_local_midnights_follow_the_zone_on_a_23_hour_day() -> None:
    clock = Clock.frozen(utc(2027, 3, 28, 12, 0), BERLIN)
    assert clock.day_start() == utc(2027, 3, 27, 23, 0)  # midnight CET (UTC+1)
    assert clock.next_midnight() == utc(2027, 3, 28, 22, 0)  # midnight CEST (UTC+2)
    assert clock.next_midnight() - clock.day_start() == timedelta(hours=23)
    assert clock.days_ago_start(1) == utc(2027, 3, 26, 23, 0)


def test_local_midnights_follow_the_zone_on_a_25_hour_day() -> None:
    clock = Clock.frozen(utc(2026, 10, 25, 1, 30), BERLIN)  # 02:30 CET, the second 02:30
    assert clock.local().hour == 2 and clock.local().utcoffset() == timedelta(hours=1)
    assert clock.day_start() == utc(2026, 10, 24, 22, 0)
    assert clock.next_midnight() - clock.day_start() == timedelta(hours=25)


def test_local_dates_use_each_moments_own_offset() -> None:
    clock = Clock.frozen(utc(2027, 3, 30, 12, 0), BERLIN)  # "now" is in summer time
    assert str(clock.local_date("2027-03-27T22:30:00.000Z")) == "2027-03-27"  # 23:30 CET
    assert str(clock.local_date("2027-03-27T23:30:00.000Z")) == "2027-03-28"  # 00:30 CET
    assert str(clock.local_date("2027-03-28T21:30:00.000Z")) == "2027-03-28"  # 23:30 CEST
    assert str(clock.local_date("2027-03-28T22:30:00.000Z")) == "2027-03-29"  # 00:30 CEST


def test_a_clock_refuses_naive_times_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="aware"):
        Clock(lambda: datetime(2027, 1, 1), BERLIN).now()
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zone_named("Mars/Olympus")


def test_the_system_zone_follows_tz_with_its_rules(tmp_path: Path) -> None:
    probe = (
        "from datetime import datetime, UTC; from core.clock import Clock; "
        "c = Clock(lambda: datetime(2027, 3, 28, 12, tzinfo=UTC)); "
        "print(c.day_start().isoformat(), c.next_midnight().isoformat())"
    )
    env = {**os.environ, "TZ": "Europe/Berlin"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["2027-03-27T23:00:00+00:00", "2027-03-28T22:00:00+00:00"]


# -- schedules ------------------------------------------------------------------------


def test_a_weekday_schedule_fires_at_0730_local_on_the_monday_after_the_change() -> None:
    friday_run = datetime(2027, 3, 26, 7, 30, tzinfo=BERLIN)  # CET
    following = next_after("30 7 * * 1-5", friday_run, BERLIN)
    assert following.astimezone(UTC) == utc(2027, 3, 29, 5, 30)  # 07:30 CEST
    autumn = next_after("30 7 * * 1-5", datetime(2026, 10, 23, 7, 30, tzinfo=BERLIN), BERLIN)
    assert autumn.astimezone(UTC) == utc(2026, 10, 26, 6, 30)  # 07:30 CET


@pytest.fixture
def berlin_engine(tmp_path: Path) -> Iterator[tuple[Engine, Hands, ScheduleService]]:
    hands = Hands(utc(2027, 3, 26, 6, 30))  # Friday 07:30 CET
    config = f"""
[workflows.standup]
prompt = "Stand-up notes for {{now}}"
cwd = "{tmp_path}"

[[schedule]]
cron = "30 7 * * 1-5"
workflow = "standup"
"""
    service = ScheduleService()
    engine = Engine(
        settings_from(config),
        home_paths(tmp_path / "home"),
        environ={**os.environ, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "claude"))},
        services=[service],
        clock=Clock(hands, BERLIN),
    )
    engine.start()
    try:
        yield engine, hands, service
    finally:
        engine.stop()


def test_the_engine_queues_the_monday_run_at_0730_summer_time(
    berlin_engine: tuple[Engine, Hands, ScheduleService],
) -> None:
    engine, hands, service = berlin_engine
    assert engine.ledger is not None
    schedule = engine.settings.schedule[0]
    assert engine.ledger.get_flag(schedule_key(schedule)) == "2027-03-26T06:30:00.000Z"
    (info,) = describe_schedules(engine.settings, engine.ledger)
    assert info.next_run == datetime(2027, 3, 29, 7, 30, tzinfo=BERLIN)
    hands.set(utc(2027, 3, 29, 5, 29, 59))  # 07:29:59 CEST
    assert service.tick() == []
    hands.set(utc(2027, 3, 29, 5, 30, 1))  # 07:30:01 CEST
    (job,) = service.tick()
    assert job.source == JobSource.SCHEDULE
    assert job.prompt == "Stand-up notes for 2027-03-29T07:30:01+02:00"


# -- budget ---------------------------------------------------------------------------


def spend(ledger: LedgerStore, hands: Hands, at: datetime, cost: float) -> None:
    hands.set(at)
    job = ledger.create(NewJob("p", "default", "cli", "/work", 1), "added")
    assert ledger.claim(job.id, 1, "here", 30.0) is not None
    ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, cost_usd=cost))


def test_the_budget_day_starts_at_local_midnight_after_the_change(tmp_path: Path) -> None:
    hands = Hands(utc(2027, 3, 27, 12, 0))
    ledger = Ledger(tmp_path / "ledger.db", clock=Clock(hands, BERLIN))
    try:
        spend(ledger, hands, utc(2027, 3, 27, 22, 59), 1.0)  # 23:59 CET on Saturday
        spend(ledger, hands, utc(2027, 3, 27, 23, 1), 2.0)  # 00:01 CET on Sunday
        spend(ledger, hands, utc(2027, 3, 28, 21, 59), 4.0)  # 23:59 CEST on Sunday
        settings = Settings(budget=BudgetSettings(daily_usd=5.0))
        budget = queue_budget(ledger, settings)
        assert budget is not None and budget.spent_usd == 6.0 and budget.reached
        hands.set(utc(2027, 3, 28, 22, 1))  # 00:01 CEST on Monday: a new day, 23 hours later
        monday = queue_budget(ledger, settings)
        assert monday is not None and monday.spent_usd == 0.0
    finally:
        ledger.close()


# -- stats ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def berlin_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LedgerStore, Hands]]:
    hands = Hands(utc(2027, 3, 27, 12, 0))
    clock = Clock(hands, BERLIN)
    store: LedgerStore
    if request.param == "sqlite":
        store = Ledger(tmp_path / "ledger.db", clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisLedger(url, prefix=request.getfixturevalue("redis_prefix"), clock=clock)
    yield store, hands
    store.close()


def test_stats_bucket_days_by_local_date_across_the_change(berlin_ledger: tuple[LedgerStore, Hands]) -> None:
    ledger, hands = berlin_ledger
    spend(ledger, hands, utc(2027, 3, 27, 22, 30), 1.0)  # 23:30 CET, Saturday
    spend(ledger, hands, utc(2027, 3, 27, 23, 30), 2.0)  # 00:30 CET, Sunday
    spend(ledger, hands, utc(2027, 3, 28, 21, 30), 4.0)  # 23:30 CEST, Sunday
    spend(ledger, hands, utc(2027, 3, 28, 22, 30), 8.0)  # 00:30 CEST, Monday
    hands.set(utc(2027, 3, 29, 10, 0))
    days = {row.key: (row.jobs, row.cost_usd) for row in ledger.stats(3).days}
    assert days == {"2027-03-27": (1, 1.0), "2027-03-28": (2, 6.0), "2027-03-29": (1, 8.0)}
    assert [row.key for row in ledger.stats(2).days] == ["2027-03-29", "2027-03-28"]


def test_stamps_come_from_the_injected_clock(berlin_ledger: tuple[LedgerStore, Hands]) -> None:
    ledger, hands = berlin_ledger
    hands.set(utc(2030, 1, 2, 3, 4, 5))
    job = ledger.create(NewJob("p", "default", "cli", "/work", 1), "added")
    assert job.created_at == to_iso(utc(2030, 1, 2, 3, 4, 5))
    assert [event.at for event in ledger.events(job.id)] == ["2030-01-02T03:04:05.000Z"]
