"""The schedules as the door knows them: their names, last runs, pauses and missed runs.

Kept in the ledger's flags, so they live wherever the ledger does (SQLite, or Redis where the
leader's cron reads them): ``schedule.last:KEY`` is the last tick a schedule counted (by what it
does, so editing its cron starts it afresh), ``schedule.paused:NAME`` holds when it was paused
(by name, so a pause survives an edit of its cron), ``schedule.missed:NAME`` the last catch-up
after a downtime. The cron arithmetic (croniter) is here too: the door, the service and the
surfaces all count runs the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from core.clock import parse_time
from core.config.settings import ScheduleSettings, Settings, schedule_names
from core.errors import InputError
from core.ledger.store import LedgerStore

LAST_RUN_PREFIX = "schedule.last:"
PAUSED_PREFIX = "schedule.paused:"
MISSED_PREFIX = "schedule.missed:"
MISSED_COUNT_CAP = 1_000
"""Missed runs are counted up to this (an every-second cron over a week's downtime)."""
CATCH_UP_ALL_LIMIT = 24
"""``catch_up = "all"`` runs at most this many of the missed runs: the latest ones."""


def schedule_key(schedule: ScheduleSettings) -> str:
    """Names a schedule by what it does, so reordering the config keeps its last run."""
    text = f"{schedule.cron}\n{schedule.workflow}\n{schedule.prompt or ''}"
    return LAST_RUN_PREFIX + hashlib.sha1(text.encode()).hexdigest()[:12]


def paused_key(name: str) -> str:
    return PAUSED_PREFIX + name


def missed_key(name: str) -> str:
    return MISSED_PREFIX + name


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is refused, or None when croniter takes it."""
    from croniter import croniter  # imported when schedules are used (it pulls in dateutil)

    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except (ValueError, KeyError, TypeError) as error:
        return f"invalid cron expression {expression!r}: {error}"
    return None


def workflow_problem(settings: Settings, schedule: ScheduleSettings) -> str | None:
    if schedule.workflow in settings.workflow_names():
        return None
    return f"unknown workflow {schedule.workflow!r}"


def next_after(expression: str, moment: datetime, zone: tzinfo) -> datetime:
    """The first time ``expression`` fires after ``moment``, read as wall-clock time in
    ``zone`` with its rules (07:30 stays 07:30 across a DST change)."""
    from croniter import croniter

    following: datetime = croniter(expression, moment.astimezone(zone)).get_next(datetime)
    return following


@dataclass(frozen=True)
class DueRuns:
    """The runs a schedule owes between its last tick and now."""

    count: int
    """How many (up to ``MISSED_COUNT_CAP``)."""
    latest: tuple[datetime, ...]
    """The latest of them, oldest first (at most the ``keep`` asked for)."""

    @property
    def capped(self) -> bool:
        return self.count >= MISSED_COUNT_CAP


def due_runs(expression: str, last: datetime, now: datetime, zone: tzinfo, keep: int = 1) -> DueRuns:
    from croniter import croniter

    iterator = croniter(expression, last.astimezone(zone))
    latest: deque[datetime] = deque(maxlen=max(1, keep))
    count = 0
    while count < MISSED_COUNT_CAP:
        due: datetime = iterator.get_next(datetime)
        if due > now:
            break
        latest.append(due)
        count += 1
    return DueRuns(count, tuple(latest) if count else ())


def count_missed(expression: str, last: datetime, now: datetime, zone: tzinfo) -> int:
    return due_runs(expression, last, now, zone).count


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule as ``flowtui schedules`` and the window show it."""

    number: int
    name: str
    schedule: ScheduleSettings
    problem: str | None
    last_run: datetime | None
    next_run: datetime | None
    paused_at: datetime | None = None
    """When it was paused (``flowtui schedules pause``); None while it runs."""
    due: int = 0
    """Runs owed now and not yet run (no engine runs it, or it is about to)."""
    last_catch_up: dict[str, object] | None = None
    """The last catch-up after a downtime: ``at``, ``missed``, ``ran``, ``policy``."""

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def state(self) -> str:
        if self.problem is not None:
            return "error"
        if not self.schedule.enabled:
            return "disabled"
        return "paused" if self.paused else "active"

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "name": self.name,
            "cron": self.schedule.cron,
            "workflow": self.schedule.workflow,
            "prompt": self.schedule.prompt,
            "enabled": self.schedule.enabled,
            "catch_up": self.schedule.catch_up,
            "paused": self.paused,
            "paused_at": _iso(self.paused_at),
            "problem": self.problem,
            "last_run": _iso(self.last_run),
            "next_run": _iso(self.next_run),
            "missed": self.due,
            "last_catch_up": self.last_catch_up,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def describe_schedules(settings: Settings, ledger: LedgerStore) -> list[ScheduleInfo]:
    """Each schedule's problem, last and next run, pause and missed runs, by the ledger's
    clock (local times)."""
    clock = ledger.clock
    zone = clock.zone
    moment = clock.local()
    paused = ledger.flags_with_prefix(PAUSED_PREFIX)
    catch_ups = ledger.flags_with_prefix(MISSED_PREFIX)
    infos: list[ScheduleInfo] = []
    names = schedule_names(settings.schedule)
    for number, (name, schedule) in enumerate(zip(names, settings.schedule, strict=True), start=1):
        problem = cron_problem(schedule.cron) or workflow_problem(settings, schedule)
        stored = ledger.get_flag(schedule_key(schedule))
        last = clock.local(parse_time(stored)) if stored else None
        paused_at = paused.get(paused_key(name))
        following = None
        due = 0
        if problem is None and schedule.enabled:
            following = next_after(schedule.cron, max(last, moment) if last else moment, zone)
            if last is not None and next_after(schedule.cron, last, zone) <= moment:
                due = count_missed(schedule.cron, last, moment, zone)
                following = moment  # owed: runs at the engine's next start or tick
        if paused_at is not None:
            following = None
        infos.append(
            ScheduleInfo(
                number,
                name,
                schedule,
                problem,
                last,
                following,
                clock.local(parse_time(paused_at)) if paused_at else None,
                due,
                _catch_up(catch_ups.get(missed_key(name))),
            )
        )
    return infos


def _catch_up(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def find_schedule(settings: Settings, name: str) -> ScheduleSettings:
    """The schedule called ``name``; an InputError names the ones there are."""
    found = settings.schedule_named(name)
    if found is not None:
        return found
    names = schedule_names(settings.schedule)
    if not names:
        raise InputError(
            f"no schedule {name!r}: the config has no [[schedule]] (add one with cron and workflow)"
        )
    raise InputError(f"no schedule {name!r}: use one of {', '.join(names)} (see `flowtui schedules`)")
