"""``flowtui diff``, ``keep`` and ``discard``: what a job changed, and what becomes of it."""

from __future__ import annotations

import sys

import click

from cli.main import JOB_ID, AppContext, open_control, who
from core.display import printable
from core.ops.review import format_stat


@click.command()
@click.argument("job_id", type=JOB_ID)
@click.option("--stat", is_flag=True, help="Per file: lines added and removed.")
@click.pass_obj
def diff(app: AppContext, job_id: int, stat: bool) -> None:
    """What job ID changed, as a unified diff (from the working tree recorded before and after it)."""
    with open_control(app) as control:
        if stat:
            click.echo(printable(format_stat(control.changes(job_id))))
            return
        text = control.diff(job_id)
        if not text:
            click.echo(f"job #{job_id} changed nothing", err=True)
            return
        # On a terminal the diff is shown, not obeyed; piped (to `git apply`), it stays exact.
        sys.stdout.write(printable(text) if sys.stdout.isatty() else text)


@click.command()
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def keep(app: AppContext, job_id: int) -> None:
    """Commit job ID's worktree changes on its branch and merge them into the branch it started from."""
    with open_control(app) as control:
        job = control.keep(job_id, by=who())
        click.echo(f"kept #{job_id}: {job.branch} merged into {job.base_branch}")


@click.command()
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def discard(app: AppContext, job_id: int) -> None:
    """Remove job ID's worktree and branch (changes not kept are gone)."""
    with open_control(app) as control:
        job = control.discard(job_id, by=who())
        click.echo(f"discarded #{job_id}: {job.worktree} and {job.branch} removed")
