"""The ``flowtui`` command: the TUI by default, plus a headless CLI over the same state.

Every bad input ends in one line on stderr and exit code 2; scripts read ids from
stdout (``id=$(flowtui add ...)``).
"""

from __future__ import annotations

import getpass
import importlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import click

from cli.render import format_job_detail, format_job_table
from core.clock import SYSTEM_CLOCK, Clock
from core.config.settings import Settings, load_settings
from core.display import one_line, printable
from core.errors import ConfigError, InputError, describe_os_error, describe_queue_error
from core.extras import MissingExtra
from core.host.state import open_shared_state
from core.jobs import NEEDS_YOU, Job, JobState
from core.ops.control import Control
from core.ops.record import job_record
from core.paths import Paths, resolve_paths

EXIT_USAGE = 2


@dataclass
class AppContext:
    """What every command is given: the settings, the paths and the clock."""

    settings: Settings
    paths: Paths
    clock: Clock = SYSTEM_CLOCK
    """The one wall clock every command reads (the system's, in its zone's rules)."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr; text echoed from argv, files or the network is shown, not obeyed."""
    click.echo(f"flowtui: {printable(message)}", err=True)
    sys.exit(code)


class JobIdType(click.ParamType):  # type: ignore[type-arg]
    """A job id as click parses it: `12` or `#12`, with one line for anything else."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lstrip("#")
        if not text.isdigit() or int(text) < 1:
            self.fail(f"bad job id {value!r}: give the number `flowtui jobs` shows", param, ctx)
        return int(text)


JOB_ID = JobIdType()

STDIN_PROMPT = "-"
"""A prompt given as ``-`` is read from stdin: argv takes at most 128 KiB an argument."""


def prompt_from(argument: str) -> str:
    """The prompt as given, or stdin's text when it is ``-`` (its last line end dropped, as
    ``$(...)`` drops it); an empty stdin is the empty prompt the door refuses."""
    if argument != STDIN_PROMPT:
        return argument
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        fail(f"the prompt on stdin is not UTF-8 text (byte {error.start}): convert it first")


@contextmanager
def open_control(app: AppContext) -> Iterator[Control]:
    """The shared state for one CLI command; wakes the engine(s) after each change."""
    try:
        control = open_shared_state(app.settings, app.paths, clock=app.clock)
    except ConfigError as error:
        fail(str(error))
    try:
        yield control
    except InputError as error:
        fail(str(error))
    finally:
        control.ledger.close()


def _unreachable_queue(error: Exception) -> bool:
    try:
        import redis
    except ImportError:
        return False
    return isinstance(error, redis.ConnectionError | redis.TimeoutError)


def _spool_instead(
    app: AppContext, prompt: str, workflow: str, cwd: str | None, priority: int | None, error: Exception
) -> None:
    """The shared queue is unreachable: keep the job locally; this machine's engine queues it later."""
    with open_control(app) as control:
        path = control.spool(prompt, workflow, cwd, priority)
    click.echo(
        f"flowtui: the shared queue is unreachable ({error}); the job waits in {path} and is "
        "queued by this machine's engine when the queue answers again",
        err=True,
    )


class LazyGroup(click.Group):
    """Command groups kept in their own modules are imported when named (or listed by
    ``--help``): ``flowtui`` alone, which opens the control centre, never loads them."""

    LAZY: ClassVar[dict[str, str]] = {
        "telegram": "cli.telegram:telegram",
        "notifications": "cli.telegram:notifications",
        "watch": "cli.watch:watch",
        "schedules": "cli.watch:schedules",
        "mcp": "cli.mcp_command:mcp_command",
        "diff": "cli.changes:diff",
        "keep": "cli.changes:keep",
        "discard": "cli.changes:discard",
        "retry": "cli.bulk:retry",
        "cancel": "cli.bulk:cancel",
        "prune": "cli.bulk:prune",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module_name, attribute = self.LAZY[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="flowtui", prog_name="flowtui", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """flowtui: file changes and messages become durable Claude Code jobs.

    With no command, opens the control centre (a terminal UI) with the engine inside.
    """
    paths = resolve_paths()
    try:
        settings = load_settings(paths.config_file)
    except ConfigError as error:
        fail(str(error))
    ctx.obj = AppContext(settings=settings, paths=paths)
    if ctx.invoked_subcommand is None:
        from cli.entry import open_control_centre

        sys.exit(open_control_centre(settings, paths))


@cli.command()
@click.option(
    "--wait",
    is_flag=True,
    help="When an engine runs, wait for it to stop and take over (a window's hand-off).",
)
@click.pass_obj
def serve(app: AppContext, wait: bool) -> None:
    """Run the engine with no UI until SIGINT/SIGTERM, then stop cleanly."""
    from core.host.serve import serve_forever

    sys.exit(serve_forever(app.settings, app.paths, wait=wait))


@cli.command()
@click.argument("prompt")
@click.option("--workflow", "-w", default="default", show_default=True, help="Workflow to run it with.")
@click.option("--cwd", type=click.Path(file_okay=False), help="Working directory (default: here).")
@click.option("--priority", type=int, help="Higher runs first (default: the workflow's).")
@click.pass_obj
def add(app: AppContext, prompt: str, workflow: str, cwd: str | None, priority: int | None) -> None:
    """Queue a job (PROMPT `-` reads it from stdin); prints its id alone on stdout."""
    prompt = prompt_from(prompt)
    try:
        with open_control(app) as control:
            job = control.add(prompt, workflow=workflow, cwd=cwd, priority=priority)
            click.echo(job.id)
    except Exception as error:
        if not _unreachable_queue(error):
            raise
        _spool_instead(app, prompt, workflow, cwd, priority, error)


@cli.command()
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([*(str(state) for state in JobState), NEEDS_YOU]),
    help=f"Only jobs in this state (repeatable); {NEEDS_YOU}: running and waiting for an answer.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many jobs.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list with the ledger's field names.")
@click.pass_obj
def jobs(app: AppContext, states: tuple[str, ...], limit: int | None, as_json: bool) -> None:
    """List jobs, newest first."""
    with open_control(app) as control:
        found = _jobs_in(control, states, limit)
        if as_json:
            click.echo(json.dumps([job.to_dict() for job in found], indent=2))
            return
        pause = control.pause_state()
        if pause.paused:
            click.echo(f"queue {one_line(pause.describe())}")
        if found or not states:
            click.echo(format_job_table(found, app.clock.now()))
        elif control.ledger.list_jobs(limit=1):
            click.echo(f"no jobs match --state {', '.join(states)}: `flowtui jobs` lists them all")
        else:
            click.echo(format_job_table([], app.clock.now()))


def _jobs_in(control: Control, states: tuple[str, ...], limit: int | None) -> list[Job]:
    """The jobs in ``states`` (all without any), newest first; ``needs-you`` adds the running
    jobs that wait for an answer."""
    ledger_states = [JobState(state) for state in states if state != NEEDS_YOU]
    if NEEDS_YOU not in states:
        return control.ledger.list_jobs(states=ledger_states, limit=limit)
    found = control.ledger.list_jobs(states=ledger_states, limit=limit) if ledger_states else []
    listed = {job.id for job in found}
    found += [job for job in control.questions() if job.id not in listed]
    return sorted(found, key=lambda job: job.id, reverse=True)[:limit]


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.option(
    "--json", "as_json", is_flag=True, help="A JSON object with the ledger's field names and events."
)
@click.pass_obj
def show(app: AppContext, job_id: int, as_json: bool) -> None:
    """One job, with its events and the answer text."""
    with open_control(app) as control:
        if as_json:
            click.echo(json.dumps(job_record(control, job_id), indent=2))
            return
        job = control.get(job_id)
        click.echo(format_job_detail(job, control.ledger.events(job_id), control.changes(job_id)))


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the job runs; end when it ends.")
@click.option("--raw", is_flag=True, help="The stream-json lines as Claude printed them.")
@click.option("--attempt", type=click.IntRange(min=1), help="Only this attempt (default: all).")
@click.pass_obj
def logs(app: AppContext, job_id: int, follow: bool, raw: bool, attempt: int | None) -> None:
    """A job's Claude output: text as it streamed, tool calls, retries and the cost."""
    from cli.logs import print_logs

    def write(text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()

    with open_control(app) as control:
        job = control.get(job_id)
        if attempt is not None and attempt > max(job.attempts, 1):
            fail(f"job #{job_id} has had {job.attempts} attempt(s): pick --attempt 1..{max(job.attempts, 1)}")
        if job.attempts == 0 and not follow:
            click.echo(
                f"job #{job_id} has not started yet ({job.state}): use --follow to wait for it", err=True
            )
            return
        with suppress(KeyboardInterrupt):
            print_logs(control, app.paths, job_id, write, raw=raw, follow=follow, attempt=attempt)


@cli.command()
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True, help="How many days back.")
@click.option("--json", "as_json", is_flag=True, help="Per day, workflow and source, as JSON.")
@click.pass_obj
def stats(app: AppContext, days: int, as_json: bool) -> None:
    """Cost, tokens, jobs and failures per day, per workflow and per source."""
    from core.ledger.stats import format_stats

    with open_control(app) as control:
        collected = control.ledger.stats(days)
        readings = control.usage()
        now = control.ledger.clock.now()
        if as_json:
            usage = {reading.window: reading.to_dict(now) for reading in readings}
            click.echo(json.dumps({**collected.to_dict(), "usage": usage}, indent=2))
        else:
            click.echo(printable(format_stats(collected)))
            for reading in readings:
                stale = "" if reading.current(now) else " (reset since it was read)"
                click.echo(printable(f"subscription: {reading.describe(control.ledger.clock)}{stale}"))


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.argument("prompt")
@click.pass_obj
def followup(app: AppContext, job_id: int, prompt: str) -> None:
    """Queue a job that continues job ID's Claude session (PROMPT `-` reads it from stdin);
    prints the new id."""
    prompt = prompt_from(prompt)
    with open_control(app) as control:
        job = control.followup(job_id, prompt)
        click.echo(job.id)


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.option("--always", is_flag=True, help="Allow the asked tool for the rest of the job.")
@click.pass_obj
def approve(app: AppContext, job_id: int, always: bool) -> None:
    """Say yes to what job ID waits for: approval to run, or a tool Claude asks to use."""
    with open_control(app) as control:
        waiting = control.get(job_id).question
        control.approve(job_id, by=who(), always=always, via="cli")
        if waiting is None:
            click.echo(f"approved #{job_id}: queued")
        else:
            tool = waiting.get("tool", "the tool")
            click.echo(f"allowed {tool} for #{job_id}" + (" (always, for this job)" if always else ""))


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.option("--reason", default=None, help="Why (Claude reads it when a tool is denied).")
@click.pass_obj
def deny(app: AppContext, job_id: int, reason: str | None) -> None:
    """Say no to what job ID waits for: a job awaiting approval is cancelled; a tool is refused."""
    with open_control(app) as control:
        waiting = control.get(job_id).question
        control.deny(job_id, by=who(), reason=reason, via="cli")
        if waiting is None:
            click.echo(f"denied #{job_id}: cancelled")
        else:
            click.echo(f"denied {waiting.get('tool', 'the tool')} for #{job_id}")


@cli.command()
@click.argument("job_id", type=JOB_ID)
@click.argument("message")
@click.pass_obj
def tell(app: AppContext, job_id: int, message: str) -> None:
    """Send MESSAGE to job ID's running Claude: it reads it at its next turn."""
    with open_control(app) as control:
        control.tell(job_id, message, by=who(), via="cli")
        click.echo(f"told #{job_id}: Claude reads it at its next turn")


def who() -> str:
    """Who answers, for the job's history: the login name, else what the gate always said."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "the CLI"


@cli.command()
@click.pass_obj
def pause(app: AppContext) -> None:
    """Stop taking new jobs (running ones finish); survives a restart."""
    with open_control(app) as control:
        control.pause()
        click.echo("paused: running jobs finish, queued jobs wait for `flowtui resume`")


@cli.command()
@click.pass_obj
def resume(app: AppContext) -> None:
    """Take jobs again."""
    with open_control(app) as control:
        control.resume()
        click.echo("resumed")


@cli.command()
@click.pass_obj
def doctor(app: AppContext) -> None:
    """Check the claude command, the data dir, the database and the config."""
    from cli.doctor import run_checks

    checks = run_checks(app.settings, app.paths, os.environ)
    for check in checks:
        label = "ok  " if check.ok else "warn" if check.warning else "FAIL"
        click.echo(f"{label}  {check.name}: {printable(check.detail)}")
    sys.exit(0 if all(check.ok or check.warning for check in checks) else 1)


def main() -> None:
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "flowtui"
        click.echo(f"{command}: {printable(error.format_message())}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as error:
        click.echo(f"flowtui: {printable(error.format_message())}", err=True)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except sqlite3.DatabaseError as error:
        fail(f"the ledger cannot be used ({error}): run `flowtui doctor`", 1)
    except MissingExtra as error:  # Telegram, Redis or MCP asked for but not installed
        fail(str(error))
    except ConfigError as error:  # from below a command's own checks (the engine `serve` builds)
        fail(str(error))
    except OSError as error:  # a full disk, a permission, a data dir that cannot be made
        fail(describe_os_error(error), 1)
    except Exception as error:
        line = describe_queue_error(error)
        if line is None:
            raise  # a bug: its traceback is the report
        fail(line, 1)
