"""``flowtui retry``, ``cancel`` (one job, or every job filters pick) and ``prune``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click

from cli.main import JOB_ID, AppContext, fail, open_control
from core.clock import parse_duration
from core.display import printable
from core.jobs import JobState
from core.ops.bulk import BulkReport, BulkVerb, JobSelection

F = TypeVar("F", bound=Callable[..., Any])


class DurationType(click.ParamType):  # type: ignore[type-arg]
    """``30m``, ``12h``, ``7d``: click names the flag in the one-line error."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = DurationType()


def filter_options(command: F) -> F:
    """The filters ``retry`` and ``cancel`` take instead of a job id."""
    options = (
        click.option(
            "--state",
            "states",
            multiple=True,
            type=click.Choice([str(state) for state in JobState]),
            help="Every job in this state (repeatable; retry's default: failed).",
        ),
        click.option("--workflow", default=None, help="Only jobs of this workflow."),
        click.option("--source", default=None, help="Only jobs from this source (cli, watch, telegram...)."),
        click.option(
            "--since", type=DURATION, default=None, help="Only jobs added this recently (30m, 12h, 7d)."
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def selection(
    app: AppContext,
    job_id: int | None,
    states: tuple[str, ...],
    workflow: str | None,
    source: str | None,
    since: timedelta | None,
) -> JobSelection | None:
    """The filters as given (None: a job id was given instead); both at once is refused."""
    given = JobSelection(
        states=frozenset(JobState(state) for state in states),
        workflow=workflow,
        source=source,
        since=None if since is None else app.clock.now() - since,
    )
    if job_id is not None and not given.empty:
        fail("give a job id or filters (--state, --workflow, --source, --since), not both")
    return None if job_id is not None else given


def print_report(report: BulkReport) -> None:
    """One line per job on stdout (a refusal on stderr), then the count."""
    for line in report.lines:
        click.echo(printable(line.text), err=not line.done)
    click.echo(report.summary())


@click.command()
@click.argument("job_id", type=JOB_ID, required=False)
@filter_options
@click.pass_obj
def retry(
    app: AppContext,
    job_id: int | None,
    states: tuple[str, ...],
    workflow: str | None,
    source: str | None,
    since: timedelta | None,
) -> None:
    """Queue a finished job again (a new job, same prompt and workflow); prints the new id.
    With filters instead of an ID, retries every job they match (failed ones unless --state
    says otherwise), leaving out jobs retried already."""
    chosen = selection(app, job_id, states, workflow, source, since)
    with open_control(app) as control:
        if chosen is not None:
            print_report(control.bulk(BulkVerb.RETRY, chosen))
            return
        assert job_id is not None
        job = control.retry(job_id)
        click.echo(job.id)
        click.echo(f"queued #{job.id} (retry of #{job_id})", err=True)


@click.command()
@click.argument("job_id", type=JOB_ID, required=False)
@filter_options
@click.pass_obj
def cancel(
    app: AppContext,
    job_id: int | None,
    states: tuple[str, ...],
    workflow: str | None,
    source: str | None,
    since: timedelta | None,
) -> None:
    """Cancel a queued job, or end a running one (its whole process group). With filters
    instead of an ID, cancels every waiting or running job they match."""
    chosen = selection(app, job_id, states, workflow, source, since)
    with open_control(app) as control:
        if chosen is not None:
            print_report(control.bulk(BulkVerb.CANCEL, chosen))
            return
        assert job_id is not None
        state = control.cancel(job_id)
        if state is JobState.CANCELLED:
            click.echo(f"cancelled #{job_id}")
        else:
            click.echo(f"cancelling #{job_id}: the engine is ending its claude process group")


@click.command()
@click.option(
    "--older-than",
    "older_than",
    type=DURATION,
    default=None,
    help="Jobs that finished longer ago than this (30m, 12h, 7d; default: [ledger] keep_days).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.pass_obj
def prune(app: AppContext, older_than: timedelta | None, dry_run: bool) -> None:
    """Delete finished jobs older than --older-than, with their events, transcripts,
    notifications and kept or discarded worktrees. Never a queued, running or waiting job,
    nor one whose changes wait for review."""
    if older_than is None:
        keep_days = app.settings.ledger.keep_days
        if keep_days == 0:
            fail("[ledger] keep_days is 0 (keep every job): give --older-than, as 90d")
        older_than = timedelta(days=keep_days)
    with open_control(app) as control:
        report = control.prune(older_than, dry_run=dry_run)
    for line in report.lines():
        click.echo(printable(line))
