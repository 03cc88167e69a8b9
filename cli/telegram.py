"""``flowtui telegram check|status`` and ``flowtui notifications [resend ID]``.

Kept apart from ``cli.main`` so the main CLI stays small; pyrogram is imported only by
``telegram check``, which is the one command that goes to the network.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from core.config.settings import NOT_CONFIGURED
from core.display import printable
from core.ledger.notifications import Notification, NotificationStore
from core.summary import excerpt
from core.telegram.config import TelegramConfig, TelegramConfigError, resolve_config
from core.wake.lock import read_holder

if TYPE_CHECKING:
    from cli.main import AppContext

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"flowtui: {printable(message)}", err=True)
    sys.exit(code)


def _config(app: AppContext) -> TelegramConfig:
    try:
        config = resolve_config(app.settings, os.environ)
    except TelegramConfigError as error:
        _fail(str(error))
    if config is None:
        _fail(NOT_CONFIGURED)
    return config


@contextmanager
def _store(app: AppContext) -> Iterator[NotificationStore]:
    app.paths.ensure_data_dir()
    store = NotificationStore(app.paths.ledger_db, app.clock)
    try:
        yield store
    finally:
        store.close()


class NotificationIdType(click.ParamType):  # type: ignore[type-arg]
    """A notification id as click parses it, with one line for anything else."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip().lstrip("#")
        if not text.isdigit() or int(text) < 1:
            self.fail(
                f"bad notification id {value!r}: give the number `flowtui notifications` shows", param, ctx
            )
        return int(text)


# -- flowtui telegram ---------------------------------------------------------------------


@click.group()
def telegram() -> None:
    """The Telegram bot: is it set up, and can it log in."""


@telegram.command()
@click.pass_obj
def check(app: AppContext) -> None:
    """Log the bot in once; one line: who the bot is, or what is wrong (token, api_id, network)."""
    from core.extras import TELEGRAM, require
    from core.telegram.check import check_connection

    require(TELEGRAM)  # else one line naming the extra, exit 2
    result = check_connection(_config(app), app.paths.telegram_session_file)
    if not result.ok:
        _fail(result.line, EXIT_CHECK_FAILED)
    click.echo(printable(result.line))  # the bot's name comes from Telegram


@telegram.command()
@click.pass_obj
def status(app: AppContext) -> None:
    """Whether Telegram is configured, the outbox's state and ignored strangers (no network)."""
    from core.telegram.status import doctor_check

    ok, detail = doctor_check(app.settings, app.paths, os.environ)
    click.echo(printable(detail))
    sys.exit(0 if ok else 1)


# -- flowtui notifications ----------------------------------------------------------------


@click.group(invoke_without_command=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many rows.")
@click.option(
    "--json", "as_json", is_flag=True, help="A JSON list (id, job_id, channel, chat_id, state, error, ...)."
)
@click.pass_context
def notifications(ctx: click.Context, limit: int | None, as_json: bool) -> None:
    """Notifications (Telegram and the [[notify]] channels), newest first, with their delivery state."""
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.obj
    with _store(app) as store:
        rows = store.recent(limit)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    click.echo(format_notifications(rows))
    if app.settings.telegram is None and not app.settings.notify:
        click.echo(NOT_CONFIGURED, err=True)


@notifications.command()
@click.argument("notification_id", type=NotificationIdType())
@click.pass_obj
def resend(app: AppContext, notification_id: int) -> None:
    """Queue a notification again (a new row); the running engine sends it."""
    from cli.main import open_control

    with open_control(app) as control:
        copy = control.resend_notification(notification_id)
    click.echo(copy.id)
    if read_holder(app.paths.engine_lock) is None:
        click.echo(
            f"queued #{copy.id} (resend of #{notification_id}); no engine runs: it is sent when "
            "`flowtui serve` or `flowtui` starts",
            err=True,
        )
    else:
        click.echo(f"queued #{copy.id} (resend of #{notification_id})", err=True)


def format_notifications(rows: list[Notification]) -> str:
    if not rows:
        return "no notifications yet"
    lines = [
        f"{'ID':>5}  {'STATE':<8} {'KIND':<8} {'JOB':>6}  {'CHANNEL':<44}  {'CREATED':<24}  SENT / ERROR"
    ]
    for row in rows:
        job = f"#{row.job_id}" if row.job_id is not None else "-"
        outcome = row.sent_at or (excerpt(row.error, 60) if row.error else "-")
        if row.state == "pending" and row.error:
            outcome = f"retrying: {excerpt(row.error, 50)}"
        lines.append(
            f"{row.id:>5}  {row.state:<8} {row.kind:<8} {job:>6}  {excerpt(row.destination, 44):<44}  "
            f"{row.created_at:<24}  {outcome}"
        )
    return "\n".join(lines)
