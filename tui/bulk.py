"""The dashboard's keys for every job its `/` filter shows: retry the failed ones, cancel the
queued or running ones, each after a question that says how many.

The door counts first (in a worker: it reads the ledger), the question names that count, and
a yes acts on exactly the jobs counted, each as its own key would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.jobs import Job, JobState
from core.ops.bulk import BulkReport, BulkVerb, JobSelection

if TYPE_CHECKING:
    from tui.screens.dashboard import DashboardScreen

NO_FILTER = "filter the jobs first (/), then {key} acts on every {which} job the filter shows"


def act_on_shown(dashboard: DashboardScreen, verb: BulkVerb) -> None:
    """Count what ``verb`` would act on among the rows shown, ask, then act."""
    key, which = ("F", "failed") if verb is BulkVerb.RETRY else ("C", "queued or running")
    snapshot = dashboard.snapshot
    if not dashboard.job_filter.active or snapshot is None:
        dashboard.notify(NO_FILTER.format(key=key, which=which), severity="warning")
        return
    shown = frozenset(job.id for job in snapshot.jobs if dashboard.job_filter.matches(job))
    door = dashboard.door
    dashboard.operations.add(
        lambda: door.control.matching(verb, JobSelection(job_ids=shown)),
        then=lambda jobs: _ask(dashboard, verb, jobs, which),
    )


def _ask(dashboard: DashboardScreen, verb: BulkVerb, jobs: list[Job], which: str) -> None:
    from tui.screens.confirm import ConfirmScreen

    if not jobs:
        dashboard.notify(f"no {which} jobs among those shown", severity="warning")
        return
    chosen = JobSelection(job_ids=frozenset(job.id for job in jobs))
    door = dashboard.door

    def confirmed(yes: bool | None) -> None:
        if yes:
            dashboard.operations.add(lambda: door.control.bulk(verb, chosen), _toast)

    dashboard.app.push_screen(ConfirmScreen(question(verb, jobs), yes=f"{verb.capitalize()} them"), confirmed)


def question(verb: BulkVerb, jobs: list[Job]) -> str:
    """``Retry 7 failed jobs?``, ``Cancel 3 jobs (2 queued, 1 running)?``"""
    count = len(jobs)
    plural = "" if count == 1 else "s"
    if verb is BulkVerb.RETRY:
        return f"Retry {count} failed job{plural}?"
    order = (JobState.QUEUED, JobState.AWAITING_APPROVAL, JobState.RUNNING)
    parts = [
        f"{n} {state.replace('_', ' ')}" for state in order if (n := sum(job.state is state for job in jobs))
    ]
    if len(parts) == 1:
        return f"Cancel {count} {parts[0].split(' ', 1)[1]} job{plural}?"
    return f"Cancel {count} jobs ({', '.join(parts)})?"


def _toast(report: BulkReport) -> str:
    refused = [line.text for line in report.lines if not line.done]
    return report.summary() + (f" · {refused[0]}" if refused else "")
