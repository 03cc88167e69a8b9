"""``flowtui watch add/rm/ls/test`` and ``flowtui schedules [run|pause|resume NAME]``.

Adding and removing go through the operations door (``Control.add_watch``/``remove_watch``),
which edits ``config.toml`` with tomlkit (the user's comments and layout survive) and wakes a
running engine, which applies the change at once. ``watch ls`` reads
the status a running engine keeps in the ledger.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from core.clock import Clock, parse_time
from core.config.settings import ALL_CHANGE_KINDS, DEFAULT_WORKFLOW, WatchSettings
from core.display import printable
from core.summary import excerpt
from core.wake.lock import read_holder
from core.watch.explain import changed_path, explain_change

if TYPE_CHECKING:
    from cli.main import AppContext
    from core.ops.schedules import ScheduleInfo


@click.group()
def watch() -> None:
    """Watched paths: changes there become jobs (see `[[watch]]` in the config)."""


@watch.command("add")
@click.argument("path")
@click.option("--workflow", "-w", default=DEFAULT_WORKFLOW, show_default=True, help="Workflow to run.")
@click.option("--include", multiple=True, help="Only paths matching this glob count (repeatable).")
@click.option("--exclude", multiple=True, help="Paths matching this glob never count (repeatable).")
@click.option(
    "--poll", is_flag=True, help="Scan for changes instead of asking the kernel (NFS, SMB, WSL, 9p mounts)."
)
@click.option(
    "--poll-interval", "poll_interval_ms", type=int, default=None, help="Milliseconds between scans (--poll)."
)
@click.option(
    "--events",
    "events",
    multiple=True,
    type=click.Choice(ALL_CHANGE_KINDS),
    help="Only these kinds of change count (repeatable; default: all).",
)
@click.option("--content-hash", is_flag=True, help="Ignore saves that leave a file's bytes unchanged.")
@click.pass_obj
def watch_add(
    app: AppContext,
    path: str,
    workflow: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    poll: bool,
    poll_interval_ms: int | None,
    events: tuple[str, ...],
    content_hash: bool,
) -> None:
    """Watch PATH (a directory, or a file); a running engine starts watching at once."""
    from cli.main import open_control

    with open_control(app) as control:
        added = control.add_watch(
            path,
            workflow=workflow,
            include=include,
            exclude=exclude,
            poll=poll,
            poll_interval_ms=poll_interval_ms,
            events=events,
            content_hash=content_hash,
        )
    how = f", polled every {added.poll_interval_ms} ms" if added.poll else ""
    click.echo(printable(f"watching {added.path} (workflow {added.workflow}{how})"))
    if not os.path.exists(added.path):
        click.echo(
            printable(f"note: {added.path} does not exist yet: it is watched once it appears"), err=True
        )


@watch.command("rm")
@click.argument("path")
@click.pass_obj
def watch_rm(app: AppContext, path: str) -> None:
    """Stop watching PATH (a running engine stops at once)."""
    from cli.main import open_control

    with open_control(app) as control:
        stored = control.remove_watch(path)
    click.echo(printable(f"stopped watching {stored}"))


@watch.command("ls")
@click.option("--json", "as_json", is_flag=True, help="A JSON list with every watch's settings and status.")
@click.pass_obj
def watch_ls(app: AppContext, as_json: bool) -> None:
    """Watched paths with their status (active, missing, error) and last change."""
    rows = _watch_rows(app)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no watches yet: add one with `flowtui watch add PATH`")
        return
    click.echo(f"{'PATH':<40} {'WORKFLOW':<12} {'STATUS':<9} {'LAST CHANGE':<19}  REASON")
    for row in rows:
        reason = printable(str(row["reason"] or ""))
        click.echo(
            f"{excerpt(row['path'], 40):<40} {excerpt(row['workflow'], 12):<12} {row['status']:<9} "
            f"{_local(row['last_event'], app.clock):<19}  {reason}".rstrip()
        )


def _watch_rows(app: AppContext) -> list[dict[str, Any]]:
    from cli.main import open_control
    from core.config.watch_path import watch_key
    from core.watch.status import read_statuses

    engine = read_holder(app.paths.engine_lock)
    with open_control(app) as control:
        statuses = read_statuses(control.ledger) if engine is not None else {}
    rows: list[dict[str, Any]] = []
    for watch_settings in app.settings.watch:
        key = watch_key(watch_settings.path)
        status = statuses.get(key)
        row: dict[str, Any] = {**dataclasses.asdict(watch_settings), "path": key}
        if status is not None:
            row.update(status.to_dict())
            row["status"] = row.pop("state")
        else:
            row.update(_offline_status(watch_settings, key, engine is not None))
        rows.append(row)
    return rows


def _offline_status(watch_settings: WatchSettings, key: str, engine_running: bool) -> dict[str, Any]:
    """Status when no engine reports one: what can be told from here."""
    if not watch_settings.enabled:
        status, reason = "disabled", "enabled = false"
    elif engine_running:
        status, reason = "starting", "the engine has not reported on it yet"
    elif not os.path.exists(key):
        status, reason = "missing", "does not exist (and no engine is running)"
    else:
        status, reason = "inactive", "no engine is running: start one with `flowtui serve` or `flowtui`"
    return {"status": status, "reason": reason, "last_event": None, "since": None}


def _local(stamp: str | None, clock: Clock) -> str:
    if not stamp:
        return "-"
    return clock.local(parse_time(stamp)).strftime("%Y-%m-%d %H:%M:%S")


@watch.command("test")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="The verdict of every watch as JSON.")
@click.pass_obj
def watch_test(app: AppContext, path: str, as_json: bool) -> None:
    """Which watch a change to PATH triggers, and the exact prompt it would queue.

    Nothing is queued. Exits 1 when no watch takes the change.
    """
    verdicts = explain_change(app.settings, path, app.clock)
    if as_json:
        click.echo(json.dumps({"path": changed_path(path), "watches": verdicts}, indent=2))
    elif not verdicts:
        click.echo(printable(f"{changed_path(path)}: outside every watched path"))
    else:
        for verdict in verdicts:
            word = "counts" if verdict["counts"] else "ignored"
            heading = f"watch {verdict['watch']} (workflow {verdict['workflow']})"
            click.echo(printable(f"{heading}: {word}: {verdict['reason']}"))
            if verdict["counts"]:
                click.echo(
                    printable(f"  would queue a job: trigger {verdict['trigger']!r}, cwd {verdict['cwd']}")
                )
                click.echo("  prompt:")
                for line in verdict["prompt"].splitlines() or [""]:
                    click.echo(f"    {printable(line)}")
    if not any(verdict["counts"] for verdict in verdicts):
        raise SystemExit(1)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of the schedules.")
@click.pass_context
def schedules(ctx: click.Context, as_json: bool) -> None:
    """The `[[schedule]]` entries: name, cron, workflow, next and last run, pause, missed runs."""
    if ctx.invoked_subcommand is not None:
        return
    from cli.main import open_control

    app: AppContext = ctx.obj
    with open_control(app) as control:
        infos = control.schedules()
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    if not infos:
        click.echo("no schedules: add a [[schedule]] with `cron` and `workflow` to the config")
        return
    click.echo(
        f"{'#':>2}  {'NAME':<20} {'CRON':<18} {'WORKFLOW':<12} {'NEXT RUN':<19} {'LAST RUN':<19}  STATUS"
    )
    for info in infos:
        click.echo(
            f"{info.number:>2}  {printable(excerpt(info.name, 20)):<20} "
            f"{excerpt(info.schedule.cron, 18):<18} "
            f"{excerpt(info.schedule.workflow, 12):<12} "
            f"{_when(info.next_run):<19} {_when(info.last_run):<19}  {printable(_schedule_status(info))}"
        )


def _schedule_status(info: ScheduleInfo) -> str:
    if info.problem:
        return info.problem
    status = {"active": "ok"}.get(info.state, info.state)
    if info.paused_at is not None:
        status += f" since {info.paused_at:%Y-%m-%d %H:%M}"
    if info.due:
        status += f", {info.due} run{'s' if info.due != 1 else ''} due"
    caught = info.last_catch_up
    if caught:
        missed, ran, policy = caught.get("missed"), caught.get("ran"), caught.get("policy")
        status += f", last catch-up: {missed} missed, {ran} run ({policy})"
    return status


@schedules.command("run")
@click.argument("name")
@click.pass_obj
def schedules_run(app: AppContext, name: str) -> None:
    """Queue the schedule's job now (counts as its last run); prints the job's id."""
    from cli.main import open_control, who

    with open_control(app) as control:
        job = control.run_schedule(name, by=who())
    click.echo(job.id)


@schedules.command("pause")
@click.argument("name")
@click.pass_obj
def schedules_pause(app: AppContext, name: str) -> None:
    """Stop the schedule's runs until resumed (kept across restarts, on every machine)."""
    from cli.main import open_control

    with open_control(app) as control:
        info = control.pause_schedule(name)
    click.echo(f"schedule {printable(info.name)} paused")


@schedules.command("resume")
@click.argument("name")
@click.pass_obj
def schedules_resume(app: AppContext, name: str) -> None:
    """Run the schedule again from its next time (runs that fell in the pause are skipped)."""
    from cli.main import open_control

    with open_control(app) as control:
        info = control.resume_schedule(name)
    nxt = _when(info.next_run)
    click.echo(f"schedule {printable(info.name)} resumed: next run {nxt}")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
