"""``flowtui doctor``: what works and what needs fixing, one line each."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from core.config.settings import Settings
from core.errors import ConfigError
from core.extras import EXTRAS, REDIS, installed
from core.http.status import doctor_check as http_check
from core.ledger.sqlite import Ledger
from core.notify.status import doctor_check as notify_check
from core.paths import Paths
from core.queue.transport import JobQueue
from core.telegram.status import doctor_check as telegram_check
from core.wake.lock import read_holder
from core.watch.mounts import MountTable, system_mounts, unpolled_remote_watches


@dataclass(frozen=True)
class Check:
    """One line of `flowtui doctor`: what was checked, and whether it works."""

    name: str
    ok: bool
    detail: str
    warning: bool = False
    """Works, but probably not as meant: printed as ``warn``, and doctor still exits 0."""


def run_checks(
    settings: Settings, paths: Paths, environ: Mapping[str, str], mounts: MountTable = system_mounts
) -> list[Check]:
    return [
        _check_config(paths),
        _check_data_dir(paths),
        _check_ledger(paths, settings),
        _check_queue(paths),
        _check_engine(paths),
        _check_claude(settings, environ),
        Check("telegram", *telegram_check(settings, paths, environ)),
        Check("notify", *notify_check(settings, paths)),
        _check_http(settings, environ),
        _check_extras(settings, environ),
        check_watch_mounts(settings, mounts),
    ]


def check_watch_mounts(settings: Settings, mounts: MountTable) -> Check:
    """A native watch on a network or 9p mount looks active and never sees another machine's writes."""
    try:
        remote = unpolled_remote_watches(settings.watch, mounts)
    except OSError as error:
        return Check("watch mounts", True, f"the mount table cannot be read: {error}", warning=True)
    if not remote:
        return Check("watch mounts", True, "no watch without `poll` is on a network or 9p mount")
    path, mount = remote[0]
    more = f" (and {len(remote) - 1} more)" if len(remote) > 1 else ""
    return Check(
        "watch mounts",
        False,
        f"{path} is on a {mount.fstype} mount ({mount.mountpoint}), where changes made elsewhere "
        f"raise no event: set `poll = true` on its [[watch]]{more}",
        warning=True,
    )


def _check_http(settings: Settings, environ: Mapping[str, str]) -> Check:
    health = http_check(settings, environ)
    return Check("http", health.ok, health.detail, warning=health.warning)


def _check_config(paths: Paths) -> Check:
    if paths.config_file.exists():
        return Check("config", True, f"{paths.config_file} is valid")
    return Check("config", True, f"{paths.config_file} not found: using the defaults")


def _check_data_dir(paths: Paths) -> Check:
    try:
        paths.ensure_data_dir()
        with tempfile.NamedTemporaryFile(dir=paths.data_dir, prefix=".doctor-"):
            pass
    except OSError as error:
        return Check("data dir", False, f"{paths.data_dir} is not writable: {error.strerror}")
    return Check("data dir", True, f"{paths.data_dir} is writable")


def _check_ledger(paths: Paths, settings: Settings) -> Check:
    try:
        ledger = Ledger(paths.ledger_db, settings.ledger.synchronous)
        try:
            problems = ledger.integrity_problems()
            counts = ledger.counts()
        finally:
            ledger.close()
    except sqlite3.DatabaseError as error:
        return Check("ledger", False, f"{paths.ledger_db}: {error}; restore it from a backup")
    if problems:
        return Check("ledger", False, f"{paths.ledger_db}: integrity check failed: {problems[0]}")
    summary = ", ".join(f"{count} {state}" for state, count in counts.items() if count) or "no jobs"
    return Check("ledger", True, f"{paths.ledger_db} intact ({summary})")


def _check_queue(paths: Paths) -> Check:
    try:
        queue = JobQueue(paths.queue_db)
        pending, scheduled = queue.pending_count(), queue.scheduled_count()
    except sqlite3.DatabaseError as error:
        return Check("queue", False, f"{paths.queue_db}: {error}; delete it, the engine rebuilds it")
    return Check("queue", True, f"{paths.queue_db}: {pending} waiting, {scheduled} delayed")


def _check_engine(paths: Paths) -> Check:
    holder = read_holder(paths.engine_lock)
    if holder is None:
        return Check("engine", True, "not running (start it with `flowtui` or `flowtui serve`)")
    return Check("engine", True, f"running (pid {holder.pid}, since {holder.since})")


def _check_extras(settings: Settings, environ: Mapping[str, str]) -> Check:
    """The optional extras: missing ones are fine unless the config needs them (a Redis queue;
    Telegram's own line says when it is configured without its extra)."""
    missing = [extra for extra in EXTRAS if not installed(extra)]
    if REDIS in missing:
        try:
            shared = settings.queue_url(environ) is not None
        except ConfigError as error:
            return Check("extras", False, str(error))
        if shared:
            return Check("extras", False, REDIS.hint())
    if not missing:
        return Check("extras", True, ", ".join(extra.name for extra in EXTRAS) + " installed")
    names = ", ".join(extra.name for extra in missing)
    return Check(
        "extras",
        True,
        f"not installed: {names} (only their features need them: uv sync --extra NAME, "
        "or pip install 'flowtui[NAME]'; [all] is every one)",
    )


def _check_claude(settings: Settings, environ: Mapping[str, str]) -> Check:
    command = settings.claude_command(environ)
    try:
        argv = shlex.split(command)
    except ValueError as error:
        return Check("claude", False, f"[claude] command {command!r} cannot be split: {error}")
    if not argv:
        return Check("claude", False, "[claude] command is empty: set it to the claude CLI's path")
    found = shutil.which(argv[0], path=environ.get("PATH"))
    if found is None:
        return Check(
            "claude",
            False,
            f"{argv[0]!r} not found: npm install -g @anthropic-ai/claude-code, "
            "or set [claude] command / FLOWTUI_CLAUDE to its path",
        )
    try:
        completed = subprocess.run(
            [*argv, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env=dict(environ),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("claude", False, f"{found} --version failed: {error}")
    if completed.returncode != 0:
        return Check("claude", False, f"{found} --version exited {completed.returncode}")
    return Check("claude", True, f"{completed.stdout.strip()} at {found}")
