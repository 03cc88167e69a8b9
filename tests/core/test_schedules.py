"""Cron schedules: due runs become jobs, runs missed while down run once, problems are reported."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from enginekit import home_paths, settings_from, wait_for
from fakeclaude import ok_script

from core.clock import SYSTEM_CLOCK, Clock, to_iso
from core.config.settings import ScheduleSettings
from core.engine.engine import Engine
from core.engine.service import ServiceContext
from core.events import Event, EventBus, ServiceFailed
from core.jobs import JobSource
from core.ledger.sqlite import Ledger
from core.ops.control import Control
from core.queue.transport import JobQueue
from core.schedule.cron import ScheduleService, describe_schedules, schedule_key
from core.wake.changes import Change

DIGEST = """
[workflows.digest]
prompt = "Write the digest; it is {now}. {prompt}"
cwd = "{cwd}"

[[schedule]]
cron = "0 * * * *"
workflow = "digest"
prompt = "Be brief."
"""


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def scheduled(
    home: Path, config: str, service: ScheduleService, claude: Path, clock: FakeClock | None = None
) -> Iterator[tuple[Engine, list[Event]]]:
    engine = Engine(
        settings_from(config),
        home_paths(home),
        environ={**os.environ, "FLOWTUI_CLAUDE": str(claude)},
        services=[service],
        clock=Clock(clock) if clock else SYSTEM_CLOCK,
    )
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    engine.start()
    try:
        yield engine, events
    finally:
        engine.stop()


def test_a_due_schedule_queues_one_job_and_remembers_it(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 9, 10).astimezone())
    service = ScheduleService()
    config = DIGEST.replace("{cwd}", str(tmp_path))
    with scheduled(tmp_path / "home", config, service, ok_script(tmp_path / "claude"), clock) as (engine, _):
        assert engine.ledger is not None
        assert engine.ledger.list_jobs() == []  # first sight: counting starts now
        clock.now += timedelta(minutes=49)
        assert service.tick() == []  # 09:59: not yet
        clock.now += timedelta(minutes=1, seconds=2)
        (job,) = service.tick()
        assert job.source == JobSource.SCHEDULE and job.workflow == "digest"
        assert job.prompt == f"Write the digest; it is {clock.now.isoformat(timespec='seconds')}. Be brief."
        assert job.trigger == "schedule 0 * * * *" and job.cwd == str(tmp_path)
        assert service.tick() == []  # the same hour does not run twice


def test_runs_missed_while_down_run_once_at_start(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 14, 30).astimezone()
    home = tmp_path / "home"
    home.mkdir()
    schedule = ScheduleSettings(cron="0 * * * *", workflow="digest", prompt="Be brief.")
    ledger = Ledger(home / "ledger.db")
    ledger.set_flag(schedule_key(schedule), to_iso(now - timedelta(hours=5)))  # down since 09:30
    ledger.close()
    service = ScheduleService()
    config = DIGEST.replace("{cwd}", str(tmp_path))
    with scheduled(home, config, service, ok_script(tmp_path / "claude"), FakeClock(now)) as (engine, _):
        assert engine.ledger is not None
        (job,) = engine.ledger.list_jobs()
        assert job.trigger == "schedule 0 * * * * (5 runs missed while flowtui was down: run once)"
        assert engine.ledger.get_flag(schedule_key(schedule)) == to_iso(now)
        assert service.tick() == []


def test_bad_schedules_are_reported_and_skipped(tmp_path: Path) -> None:
    config = """
[[schedule]]
cron = "every day at noon"

[[schedule]]
cron = "0 12 * * *"
workflow = "nowhere"

[[schedule]]
cron = "* * * * *"
"""
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, 30).astimezone())
    service = ScheduleService()
    with scheduled(tmp_path / "home", config, service, ok_script(tmp_path / "claude"), clock) as (
        engine,
        events,
    ):
        clock.now += timedelta(minutes=1)
        assert service.tick() == []  # the third has no prompt at all
        reasons = [event.reason for event in events if isinstance(event, ServiceFailed)]
        assert any("#1: invalid cron expression 'every day at noon'" in reason for reason in reasons)
        assert any("#2: unknown workflow 'nowhere'" in reason for reason in reasons)
        assert any("the prompt is empty" in reason for reason in reasons)
        assert engine.ledger is not None and engine.ledger.list_jobs() == []
        infos = describe_schedules(engine.settings, engine.ledger)
        assert [info.problem is None for info in infos] == [False, False, True]


def test_the_service_thread_fires_on_time(tmp_path: Path) -> None:
    config = f'[[schedule]]\ncron = "* * * * * *"\nprompt = "tick"\n[workflows.default]\ncwd = "{tmp_path}"\n'
    with scheduled(tmp_path / "home", config, ScheduleService(), ok_script(tmp_path / "claude")) as (
        engine,
        _,
    ):
        assert engine.ledger is not None
        ledger = engine.ledger
        job = wait_for(lambda: ledger.list_jobs(), what="a job from the every-second schedule")[0]
        assert job.prompt == "tick" and job.source == JobSource.SCHEDULE
        # Deposed and elected again (a shared queue's leader moves): it ticks again.
        (service,) = [service for service in engine.services if isinstance(service, ScheduleService)]
        service.stop()
        count = len(ledger.list_jobs())
        service.start(engine.service_context)
        wait_for(lambda: len(ledger.list_jobs()) > count, what="a tick after the restart")


def test_the_service_needs_only_a_context_not_an_engine(tmp_path: Path) -> None:
    """A service is given the few parts it uses: built here by hand, with no Engine anywhere."""
    clock = FakeClock(datetime(2026, 11, 25, 9, 10).astimezone())
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    settings = settings_from(DIGEST.replace("{cwd}", str(tmp_path)))
    told: list[Change] = []
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    ledger = Ledger(paths.ledger_db, clock=Clock(clock))
    queue = JobQueue(paths.queue_db, None, Clock(clock))
    control = Control(settings, ledger, queue, told.append, paths=paths)
    context = ServiceContext(
        live=control.live, paths=paths, clock=Clock(clock), bus=bus, control=control, ledger=ledger
    )
    service = ScheduleService()
    service.start(context)
    try:
        assert ledger.list_jobs() == []  # first sight: counting starts now
        clock.now += timedelta(minutes=51)
        (job,) = service.tick()
        assert job.source == JobSource.SCHEDULE and job.workflow == "digest"
        assert ledger.get_flag(schedule_key(settings.schedule[0])) == to_iso(clock.now)
        assert queue.known_job_ids() == {job.id}  # queued through the door: ledger and Huey
        assert Change.JOBS in told
        assert not [event for event in events if isinstance(event, ServiceFailed)]
    finally:
        service.stop()
        ledger.close()
