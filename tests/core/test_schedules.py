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


# -- catch_up, names and pauses (issue 17) ---------------------------------------------------


def _downtime(tmp_path: Path, catch_up: str, hours_down: float) -> list[str]:
    """An engine sees an hourly schedule at 09:10, stops, and another starts ``hours_down``
    later on the same ledger: the triggers of the schedule's jobs it queues at its start."""
    config = DIGEST.replace("{cwd}", str(tmp_path)) + f'catch_up = "{catch_up}"\n'
    clock = FakeClock(datetime(2026, 11, 25, 9, 10).astimezone())
    claude = ok_script(tmp_path / "claude")
    with scheduled(tmp_path / "home", config, ScheduleService(), claude, clock) as (engine, _):
        assert engine.ledger is not None and engine.ledger.list_jobs() == []
    clock.now += timedelta(hours=hours_down)  # no engine runs meanwhile
    with scheduled(tmp_path / "home", config, ScheduleService(), claude, clock) as (engine, _):
        assert engine.ledger is not None
        return [job.trigger or "" for job in reversed(engine.ledger.list_jobs())]


def test_catch_up_once_runs_the_missed_runs_once(tmp_path: Path) -> None:
    assert _downtime(tmp_path, "once", 5.5) == [
        "schedule 0 * * * * (5 runs missed while flowtui was down: run once)"
    ]


def test_catch_up_skip_runs_none_of_the_missed_runs(tmp_path: Path) -> None:
    assert _downtime(tmp_path, "skip", 5.5) == []


def test_catch_up_all_runs_each_missed_run(tmp_path: Path) -> None:
    assert _downtime(tmp_path, "all", 3.5) == [
        "schedule 0 * * * * (missed run 1 of 3, due 10:00)",
        "schedule 0 * * * * (missed run 2 of 3, due 11:00)",
        "schedule 0 * * * * (missed run 3 of 3, due 12:00)",
    ]


def test_catch_up_all_is_capped_at_the_latest_runs(tmp_path: Path) -> None:
    from core.ops.schedules import CATCH_UP_ALL_LIMIT

    triggers = _downtime(tmp_path, "all", 30.5)  # 09:10 one day to 15:40 the next: 30 runs
    assert len(triggers) == CATCH_UP_ALL_LIMIT
    assert triggers[0] == "schedule 0 * * * * (missed run 7 of 30, due 16:00)"
    assert triggers[-1] == "schedule 0 * * * * (missed run 30 of 30, due 15:00)"


def test_a_run_on_time_is_not_missed_under_any_policy(tmp_path: Path) -> None:
    """The engine was down only from 09:10 to a few seconds after 10:00: the 10:00 run is on time."""
    for policy in ("once", "skip", "all"):
        here = tmp_path / policy
        here.mkdir()
        assert _downtime(here, policy, 50 / 60 + 5 / 3600) == ["schedule 0 * * * *"], policy


def test_the_last_catch_up_is_kept_for_the_listing(tmp_path: Path) -> None:
    _downtime(tmp_path, "skip", 5.5)
    ledger = Ledger(tmp_path / "home" / "ledger.db")
    try:
        settings = settings_from(DIGEST.replace("{cwd}", str(tmp_path)) + 'catch_up = "skip"\n')
        (info,) = describe_schedules(settings, ledger)
        assert info.name == "digest@0_x_x_x_x"
        assert info.last_catch_up is not None
        assert {key: info.last_catch_up[key] for key in ("missed", "ran", "policy")} == {
            "missed": 5,
            "ran": 0,
            "policy": "skip",
        }
    finally:
        ledger.close()


def test_two_schedules_with_one_name_are_refused_naming_both() -> None:
    from core.config.settings import parse_settings
    from core.errors import ConfigError

    config = (
        '[[schedule]]\ncron = "0 7 * * *"\nname = "morning"\n'
        '[[schedule]]\ncron = "0 9 * * *"\n'
        '[[schedule]]\ncron = "0 8 * * *"\nname = "morning"\n'
    )
    try:
        parse_settings(config, "config.toml")
    except ConfigError as error:
        assert str(error) == (
            "config.toml: [[schedule]] #3 name: 'morning' is also the name of [[schedule]] #1: "
            "give each schedule its own name"
        )
    else:
        raise AssertionError("the clash was not refused")


def test_unnamed_schedules_get_stable_derived_names() -> None:
    from core.config.settings import schedule_names

    first = settings_from('[[schedule]]\ncron = "30 7 * * 1-5"\nworkflow = "default"\nprompt = "a"\n')
    assert schedule_names(first.schedule) == ["default@30_7_x_x_1-5"]
    both = settings_from(
        '[[schedule]]\ncron = "0 9 * * *"\nprompt = "a"\n[[schedule]]\ncron = "0 9 * * *"\nprompt = "b"\n'
    )
    names = schedule_names(both.schedule)
    assert len(set(names)) == 2 and all(name.startswith("default@0_9_x_x_x~") for name in names)
    reordered = settings_from(
        '[[schedule]]\ncron = "0 9 * * *"\nprompt = "b"\n[[schedule]]\ncron = "0 9 * * *"\nprompt = "a"\n'
    )
    assert schedule_names(reordered.schedule) == names[::-1]


def test_a_paused_schedule_does_not_run_and_stays_paused_across_a_restart(tmp_path: Path) -> None:
    config = DIGEST.replace("{cwd}", str(tmp_path)) + 'name = "hourly"\n'
    clock = FakeClock(datetime(2026, 11, 25, 9, 10).astimezone())
    claude = ok_script(tmp_path / "claude")
    with scheduled(tmp_path / "home", config, ScheduleService(), claude, clock) as (engine, _):
        engine.service_context.control.pause_schedule("hourly")
    clock.now += timedelta(hours=3)
    service = ScheduleService()
    with scheduled(tmp_path / "home", config, service, claude, clock) as (engine, _):
        assert engine.ledger is not None and engine.ledger.list_jobs() == []
        control = engine.service_context.control
        (info,) = control.schedules()
        assert info.paused and info.state == "paused" and info.next_run is None
        control.resume_schedule("hourly")  # the runs that fell in the pause are skipped
        assert service.tick() == [] and engine.ledger.list_jobs() == []
        clock.now += timedelta(minutes=50, seconds=5)  # 13:00:05: its next time
        (job,) = service.tick()
        assert job.trigger == "schedule hourly (0 * * * *)"


def test_a_pause_on_redis_is_honoured_by_each_leader_in_turn(tmp_path: Path, redis_url: str) -> None:
    """Two engines share Redis; a schedule paused from another process does not run on the
    leader, nor on the engine that leads after it; resumed, it runs again."""
    from core.host.state import open_shared_state

    environ = {**os.environ, "FLOWTUI_QUEUE_URL": redis_url, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "c"))}
    config = (
        f'[queue]\nleader_lease_seconds = 2\n[workflows.default]\ncwd = "{tmp_path}"\n'
        '[[schedule]]\nname = "tick"\ncron = "* * * * * *"\nprompt = "tick"\n'
    )
    settings = settings_from(config)
    services = [ScheduleService(), ScheduleService()]
    engines = [
        Engine(settings, home_paths(tmp_path / f"engine-{n}"), environ=environ, services=[services[n]])
        for n in range(2)
    ]
    for engine in engines:
        engine.start()
    outside = open_shared_state(
        settings, home_paths(tmp_path / "cli"), environ
    )  # as `flowtui schedules` does
    try:
        ledger = outside.ledger
        wait_for(lambda: ledger.list_jobs(), timeout=20, what="a tick on the leader")
        outside.pause_schedule("tick")
        leader = wait_for(lambda: [n for n in (0, 1) if services[n].running], what="the leader")[0]
        for n in (leader, 1 - leader):
            wait_for(lambda n=n: services[n].running, timeout=20, what=f"engine {n} leading")
            count = len(ledger.list_jobs())
            moment = SYSTEM_CLOCK.now()
            wait_for(
                lambda moment=moment: SYSTEM_CLOCK.now() - moment > timedelta(seconds=1.5), what="a due tick"
            )
            assert services[n].tick() == [], n  # due every second, and paused
            assert len(ledger.list_jobs()) == count
            if n == leader:
                engines.pop(n).stop()  # the next leader reads the same pause from Redis
        assert outside.schedules()[0].paused
        paused_count = len(ledger.list_jobs())
        outside.resume_schedule("tick")
        wait_for(lambda: len(ledger.list_jobs()) > paused_count, timeout=20, what="a tick after the resume")
    finally:
        outside.ledger.close()
        for engine in engines:
            engine.stop()
