"""Cron schedules: each ``[[schedule]]`` queues a job of its workflow when its time comes.

The last run of every schedule is kept in the ledger (``engine_state``), so a schedule
whose time passed while flowtui was down runs once at the next start: once, however
many ticks were missed. A schedule seen for the first time starts counting from then.
The schedules are read from the engine's config holder at each tick, and an edit of the
config wakes the sleeping thread, so an added or changed schedule counts from the edit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from core.clock import parse_time, to_iso
from core.config.live import ConfigUpdate
from core.config.settings import ScheduleSettings, Settings
from core.engine.service import ServiceContext
from core.errors import InputError
from core.events import ServiceFailed
from core.jobs import Job, JobSource
from core.ledger.store import LedgerStore

log = logging.getLogger(__name__)

LAST_RUN_PREFIX = "schedule.last:"
MAX_SLEEP_SECONDS = 30.0
"""Longest sleep between looks at the clock, so a suspend or a clock change is noticed."""
MISSED_COUNT_CAP = 1_000


def schedule_key(schedule: ScheduleSettings) -> str:
    """Names a schedule by what it does, so reordering the config keeps its last run."""
    text = f"{schedule.cron}\n{schedule.workflow}\n{schedule.prompt or ''}"
    return LAST_RUN_PREFIX + hashlib.sha1(text.encode()).hexdigest()[:12]


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is refused, or None when croniter takes it."""
    from croniter import croniter  # imported when schedules are used (it pulls in dateutil)

    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except (ValueError, KeyError, TypeError) as error:
        return f"invalid cron expression {expression!r}: {error}"
    return None


def next_after(expression: str, moment: datetime, zone: tzinfo) -> datetime:
    """The first time ``expression`` fires after ``moment``, read as wall-clock time in
    ``zone`` with its rules (07:30 stays 07:30 across a DST change)."""
    from croniter import croniter

    following: datetime = croniter(expression, moment.astimezone(zone)).get_next(datetime)
    return following


def count_missed(expression: str, last: datetime, now: datetime, zone: tzinfo) -> int:
    from croniter import croniter

    iterator = croniter(expression, last.astimezone(zone))
    count = 0
    while count < MISSED_COUNT_CAP and iterator.get_next(datetime) <= now:
        count += 1
    return count


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule as ``flowtui schedules`` shows it."""

    number: int
    schedule: ScheduleSettings
    problem: str | None
    last_run: datetime | None
    next_run: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "cron": self.schedule.cron,
            "workflow": self.schedule.workflow,
            "prompt": self.schedule.prompt,
            "enabled": self.schedule.enabled,
            "problem": self.problem,
            "last_run": self.last_run.isoformat(timespec="seconds") if self.last_run else None,
            "next_run": self.next_run.isoformat(timespec="seconds") if self.next_run else None,
        }


def describe_schedules(settings: Settings, ledger: LedgerStore) -> list[ScheduleInfo]:
    """Each schedule's problem, last and next run, by the ledger's clock (local times)."""
    clock = ledger.clock
    zone = clock.zone
    moment = clock.local()
    infos: list[ScheduleInfo] = []
    for number, schedule in enumerate(settings.schedule, start=1):
        problem = cron_problem(schedule.cron) or _workflow_problem(settings, schedule)
        stored = ledger.get_flag(schedule_key(schedule))
        last = clock.local(parse_time(stored)) if stored else None
        following = None
        if problem is None and schedule.enabled:
            following = next_after(schedule.cron, max(last, moment) if last else moment, zone)
            if last is not None and next_after(schedule.cron, last, zone) <= moment:
                following = moment  # missed: runs at the engine's next start or tick
        infos.append(ScheduleInfo(number, schedule, problem, last, following))
    return infos


def _workflow_problem(settings: Settings, schedule: ScheduleSettings) -> str | None:
    if schedule.workflow in settings.workflow_names():
        return None
    return f"unknown workflow {schedule.workflow!r}"


class ScheduleService:
    """Queues scheduled jobs from a thread that sleeps until the next one is due."""

    name = "schedules"

    def __init__(self, max_sleep: float = MAX_SLEEP_SECONDS) -> None:
        self._max_sleep = max_sleep
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set by a config edit (or the stop): the thread looks at the schedules again now."""
        self._thread: threading.Thread | None = None
        self._context: ServiceContext | None = None
        self._reported: set[str] = set()
        self._unsubscribe_config: Callable[[], None] | None = None

    def start(self, context: ServiceContext) -> None:
        """Start (again: with a shared queue the schedules move between engines' leaders)."""
        self._context = context
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._report_bad_schedules()
        self.tick()  # runs what was missed while flowtui was down, once each
        self._unsubscribe_config = context.live.subscribe(self._config_updated)
        self._thread = threading.Thread(target=self._run, name="flowtui-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
            self._unsubscribe_config = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _config_updated(self, update: ConfigUpdate) -> None:
        if update.problem is None and update.previous.schedule != update.current.schedule:
            self._wake.set()

    @property
    def _given(self) -> ServiceContext:
        """What the engine gave at start; the schedules run only between start and stop."""
        if self._context is None:
            raise RuntimeError("the schedule service is not started")
        return self._context

    def _run(self) -> None:
        while not self._stop.is_set():
            edited = self._wake.wait(self._seconds_to_next())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if edited:
                    self._report_bad_schedules()
                self.tick()
            except Exception:
                log.exception("schedule tick failed")

    def _usable(self) -> list[ScheduleSettings]:
        settings = self._given.settings
        return [
            schedule
            for schedule in settings.schedule
            if schedule.enabled
            and cron_problem(schedule.cron) is None
            and _workflow_problem(settings, schedule) is None
        ]

    def tick(self) -> list[Job]:
        """Queue every schedule that is due (once, however many times it was missed)."""
        ledger = self._given.ledger
        clock = self._given.clock
        now = clock.local()
        queued: list[Job] = []
        for schedule in self._usable():
            key = schedule_key(schedule)
            stored = ledger.get_flag(key)
            if stored is None:
                ledger.set_flag(key, to_iso(now))  # first sight: count from now
                continue
            last = parse_time(stored)
            if next_after(schedule.cron, last, clock.zone) > now:
                continue
            missed = count_missed(schedule.cron, last, now, clock.zone)
            job = self._queue(schedule, now, missed)
            # Recorded after the job: a crash in between runs it again rather than never.
            ledger.set_flag(key, to_iso(now))
            if job is not None:
                queued.append(job)
        return queued

    def _queue(self, schedule: ScheduleSettings, now: datetime, missed: int) -> Job | None:
        control = self._given.control
        trigger = f"schedule {schedule.cron}"
        if missed > 1:
            more = "+" if missed >= MISSED_COUNT_CAP else ""
            trigger += f" ({missed}{more} runs missed while flowtui was down: run once)"
        try:
            return control.add(
                schedule.prompt or "",
                workflow=schedule.workflow,
                source=JobSource.SCHEDULE,
                trigger=trigger,
                template_values={"now": now.isoformat(timespec="seconds")},
            )
        except InputError as error:
            self._report(f"schedule {schedule.cron!r} ({schedule.workflow}): {error}")
            return None

    def _seconds_to_next(self) -> float:
        clock = self._given.clock
        now = clock.local()
        schedules = self._usable()
        if not schedules:
            return self._max_sleep
        soonest = min(next_after(schedule.cron, now, clock.zone) for schedule in schedules)
        return max(0.0, min(self._max_sleep, (soonest - now).total_seconds() + 0.001))

    def _report_bad_schedules(self) -> None:
        settings = self._given.settings
        for number, schedule in enumerate(settings.schedule, start=1):
            problem = cron_problem(schedule.cron) or _workflow_problem(settings, schedule)
            if problem is not None:
                self._report(f"[[schedule]] #{number}: {problem}: it does not run")

    def _report(self, reason: str) -> None:
        if reason in self._reported:
            return  # once per engine run, not once per tick
        self._reported.add(reason)
        log.warning("%s", reason)
        self._given.bus.publish(ServiceFailed(name=self.name, reason=reason))
