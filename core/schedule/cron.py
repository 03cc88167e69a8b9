"""Cron schedules: each ``[[schedule]]`` queues a job of its workflow when its time comes.

The last run of every schedule is kept in the ledger (``engine_state``, or Redis), so a
schedule whose time passed while no engine ran catches up at the next start as its
``catch_up`` says: ``once`` (one run however many were missed), ``skip`` (none) or ``all``
(each, up to ``CATCH_UP_ALL_LIMIT``). A run counts as missed when its time is further back
than ``late_grace_seconds`` (a leader's hand-over on Redis is not a downtime). A paused
schedule (``flowtui schedules pause``, a ledger flag) does not run. A schedule seen for the
first time starts counting from then. The schedules are read from the engine's config
holder at each tick, and an edit of the config wakes the sleeping thread, so an added or
changed schedule counts from the edit.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from core.clock import parse_time, to_iso
from core.config.live import ConfigUpdate
from core.config.settings import ScheduleSettings, schedule_names
from core.engine.service import ServiceContext
from core.errors import InputError
from core.events import ServiceFailed
from core.jobs import Job, JobSource
from core.ops.schedules import (
    CATCH_UP_ALL_LIMIT,
    LAST_RUN_PREFIX,
    MISSED_COUNT_CAP,
    PAUSED_PREFIX,
    ScheduleInfo,
    count_missed,
    cron_problem,
    describe_schedules,
    due_runs,
    missed_key,
    next_after,
    paused_key,
    schedule_key,
)
from core.ops.schedules import workflow_problem as _workflow_problem

__all__ = [
    "CATCH_UP_ALL_LIMIT",
    "LAST_RUN_PREFIX",
    "MISSED_COUNT_CAP",
    "ScheduleInfo",
    "ScheduleService",
    "count_missed",
    "cron_problem",
    "describe_schedules",
    "next_after",
    "schedule_key",
]

log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 30.0
"""Longest sleep between looks at the clock, so a suspend or a clock change is noticed."""
LATE_GRACE_SECONDS = 60.0
"""A run whose time is at most this far back is on time (at least twice the leader lease)."""


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

    @property
    def running(self) -> bool:
        """Its thread runs: this engine leads (on Redis), or runs alone."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

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

    def _usable(self, paused_too: bool = False) -> list[tuple[str, ScheduleSettings]]:
        """(name, schedule) of each schedule that runs: enabled, sound, and not paused (unless
        ``paused_too``: the thread wakes at a paused one's times too, to see it resumed)."""
        settings = self._given.settings
        paused = {} if paused_too else self._given.ledger.flags_with_prefix(PAUSED_PREFIX)
        return [
            (name, schedule)
            for name, schedule in zip(schedule_names(settings.schedule), settings.schedule, strict=True)
            if schedule.enabled
            and paused_key(name) not in paused
            and cron_problem(schedule.cron) is None
            and _workflow_problem(settings, schedule) is None
        ]

    @property
    def late_grace_seconds(self) -> float:
        """How far back a run's time may be and still count as on time, not missed."""
        return max(LATE_GRACE_SECONDS, 2 * self._given.settings.queue.leader_lease_seconds)

    def tick(self) -> list[Job]:
        """Queue every schedule that is due; runs missed while no engine ran as ``catch_up`` says."""
        ledger = self._given.ledger
        clock = self._given.clock
        now = clock.local()
        queued: list[Job] = []
        for name, schedule in self._usable():
            key = schedule_key(schedule)
            stored = ledger.get_flag(key)
            if stored is None:
                ledger.set_flag(key, to_iso(now))  # first sight: count from now
                continue
            last = parse_time(stored)
            if next_after(schedule.cron, last, clock.zone) > now:
                continue
            due = due_runs(schedule.cron, last, now, clock.zone, keep=CATCH_UP_ALL_LIMIT)
            on_time = (now - due.latest[-1]).total_seconds() <= self.late_grace_seconds
            missed = due.count - 1 if on_time else due.count
            jobs = self._catch_up(name, schedule, now, due.latest, on_time, missed, due.capped)
            # Recorded after the jobs: a crash in between runs them again rather than never.
            ledger.set_flag(key, to_iso(now))
            if missed:
                record = {"at": to_iso(now), "missed": missed, "ran": len(jobs), "policy": schedule.catch_up}
                ledger.set_flag(missed_key(name), json.dumps(record))
            queued.extend(jobs)
        return queued

    def _catch_up(
        self,
        name: str,
        schedule: ScheduleSettings,
        now: datetime,
        latest: tuple[datetime, ...],
        on_time: bool,
        missed: int,
        capped: bool,
    ) -> list[Job]:
        """The jobs one tick queues for a schedule: its on-time run, and the missed ones as
        its ``catch_up`` says."""
        title = f"schedule {schedule.cron}" if schedule.name is None else f"schedule {name} ({schedule.cron})"
        total = f"{missed}{'+' if capped else ''}"
        count = f"{total} run{'s' if missed != 1 else ''} missed while flowtui was down"
        policy = schedule.catch_up
        triggers: list[str] = []
        if not missed:
            triggers.append(title)
        elif policy == "once":
            triggers.append(f"{title} ({count}: run once)")
        elif policy == "skip":
            if on_time:
                triggers.append(f"{title} ({count}: skipped)")
        else:
            owed = latest if not on_time else latest[:-1]
            kept = owed[-CATCH_UP_ALL_LIMIT:]
            for index, due in enumerate(kept, start=missed - len(kept) + 1):
                triggers.append(f"{title} (missed run {index} of {total}, due {due:%H:%M})")
            if on_time:
                triggers.append(title)
        jobs = [self._queue(name, schedule, now, trigger) for trigger in triggers]
        return [job for job in jobs if job is not None]

    def _queue(self, name: str, schedule: ScheduleSettings, now: datetime, trigger: str) -> Job | None:
        control = self._given.control
        try:
            return control.add(
                schedule.prompt or "",
                workflow=schedule.workflow,
                source=JobSource.SCHEDULE,
                trigger=trigger,
                template_values={"now": now.isoformat(timespec="seconds")},
            )
        except InputError as error:
            self._report(f"schedule {name} ({schedule.workflow}): {error}")
            return None

    def _seconds_to_next(self) -> float:
        clock = self._given.clock
        now = clock.local()
        schedules = self._usable(paused_too=True)
        if not schedules:
            return self._max_sleep
        soonest = min(next_after(schedule.cron, now, clock.zone) for _, schedule in schedules)
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
