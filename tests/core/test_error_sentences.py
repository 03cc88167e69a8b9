"""Every error a sentence (issue 12, part 5): a user's mistake or a failing part (a full disk, a
permission, a data dir that cannot be made, Redis refusing, Telegram out of reach, a broken
service config) ends in one line naming the thing and the fix, never a traceback."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import Flowtui
from enginekit import home_paths, running_engine, settings_from, wait_job
from fakeclaude import ok_script
from telegramkit import telegram_config

from core.config.settings import Settings
from core.engine.engine import Engine
from core.errors import ConfigError, describe_failure, describe_os_error
from core.events import ServiceFailed
from core.host.services import default_services
from core.jobs import JobState

BROKEN_TELEGRAM = "[telegram]\nallowed_users = [1]\n"
"""A [telegram] section without credentials: the service cannot start, the engine runs on."""


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    return Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))


def without_flowtui_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOWTUI_")}


# -- the sentences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/data/ledger.db"),
            "/data/ledger.db: the disk is full: free some space and try again",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/data"),
            "/data: permission denied: make it writable, or set FLOWTUI_HOME to a directory you can write",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/data/x", None, "/data/y"),
            "/data/x -> /data/y: the file system is read-only: set FLOWTUI_HOME to a writable directory",
        ),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("plain text"), "plain text"),
    ],
)
def test_an_os_error_reads_as_the_file_what_and_the_fix(error: OSError, line: str) -> None:
    assert describe_os_error(error) == line


def test_known_failures_are_sentences_and_bugs_are_not_hidden() -> None:
    import sqlite3

    assert describe_failure(ConfigError("bad key: use x")) == "bad key: use x"
    assert describe_failure(sqlite3.OperationalError("database or disk is full")) == (
        "the ledger cannot be used (database or disk is full): run `flowtui doctor`"
    )
    assert describe_failure(KeyError("a bug")) is None  # its traceback belongs in the log


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["jobs"], ["add", "hi"], ["serve"], ["mcp"], ["notifications"]])
def test_a_data_dir_that_cannot_be_made_is_one_line(flowtui: Flowtui, command: list[str]) -> None:
    flowtui.env["FLOWTUI_HOME"] = "/proc/flowtui-cannot-be-here"
    line = one_line(flowtui.run(*command), 1)
    assert line == (
        "flowtui: /proc/flowtui-cannot-be-here: no such file or directory: check the path (and FLOWTUI_HOME)"
    )


@pytest.mark.parametrize("argv", [["-m", "cli", "serve"], ["-m", "cli"]])
def test_a_data_dir_without_permission_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    """Root may write almost anywhere, but not make directories in /sys; the second argv is
    ``flowtui`` alone, which opens the window without the command-line parser."""
    environ = {**without_flowtui_env(), "FLOWTUI_HOME": "/sys/flowtui-not-permitted"}
    done = subprocess.run(
        [sys.executable, *argv], env=environ, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert one_line(done, 1) == (
        "flowtui: /sys/flowtui-not-permitted: operation not permitted: make it writable, or set "
        "FLOWTUI_HOME to a directory you can write"
    )


def test_a_full_disk_during_a_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`except OSError` used to follow `except Exception`, so it never ran and a full disk
    printed a traceback."""
    from cli import main as cli
    from core.ops.control import Control

    def disk_full(self: Control, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "home" / "ledger.db"))

    monkeypatch.setattr(Control, "pause", disk_full)
    monkeypatch.setenv("FLOWTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "argv", ["flowtui", "pause"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        f"flowtui: {tmp_path / 'home' / 'ledger.db'}: the disk is full: free some space and try again\n"
    )


def test_a_full_disk_under_the_log_is_one_line_once(flowtui: Flowtui) -> None:
    """/dev/full takes the log file's writes and fails each with ENOSPC."""
    (flowtui.home / "logs").mkdir(parents=True)
    (flowtui.home / "logs" / "flowtui.log").symlink_to("/dev/full")
    done = subprocess.run(
        flowtui.argv("mcp"),
        env=flowtui.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, done.stderr
    failures = [line for line in done.stderr.splitlines() if "cannot write the log" in line]
    assert failures == [
        f"flowtui: cannot write the log {flowtui.home / 'logs' / 'flowtui.log'}: the disk is full: "
        "free some space and try again; log lines are lost"
    ]


def test_a_bad_queue_backend_for_serve_is_one_line(flowtui: Flowtui) -> None:
    flowtui.env["FLOWTUI_QUEUE_URL"] = "nonsense"
    assert one_line(flowtui.run("serve"), 2) == (
        "flowtui: queue backend 'nonsense' is not understood: use 'sqlite' or a redis://HOST:PORT/DB URL "
        "([queue] backend, or $FLOWTUI_QUEUE_URL)"
    )


@pytest.mark.parametrize("command", [["jobs"], ["serve"]])
def test_a_redis_that_refuses_is_one_line(flowtui: Flowtui, redis_url: str, command: list[str]) -> None:
    flowtui.env["FLOWTUI_QUEUE_URL"] = redis_url.rsplit("/", 1)[0] + "/999"  # no such database
    assert one_line(flowtui.run(*command), 1) == (
        "flowtui: the shared queue refused the request (DB index is out of range): "
        "check [queue] backend / FLOWTUI_QUEUE_URL"
    )


# -- a job whose transcript cannot be written ------------------------------------------------


def test_a_transcript_on_a_full_disk_fails_the_job_with_a_sentence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    (home / "transcripts").mkdir(parents=True)
    (home / "transcripts" / "job-1-attempt-1.jsonl").symlink_to("/dev/full")
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "claude"))}
    with running_engine(home, "[workflows.default]\nretries = 0\n", environ=environ) as engine:
        assert engine.control is not None
        job = engine.control.add("write me down", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.FAILED, JobState.SUCCEEDED)
    assert done.state is JobState.FAILED
    assert done.error == (
        f"cannot write the transcript: {home / 'transcripts' / 'job-1-attempt-1.jsonl'}: "
        "the disk is full: free some space and try again"
    )
    assert not [record for record in caplog.records if record.exc_info]


# -- a service that cannot start -------------------------------------------------------------


def test_a_service_with_a_config_error_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_from(BROKEN_TELEGRAM)
    environ = without_flowtui_env()
    engine = Engine(
        settings,
        home_paths(tmp_path),
        environ,
        services=default_services(settings, home_paths(tmp_path), environ),
    )
    failures: list[ServiceFailed] = []
    engine.bus.subscribe(lambda event: failures.append(event) if isinstance(event, ServiceFailed) else None)
    engine.start()
    engine.stop()
    reason = (
        "[telegram] api_id is missing: set it (from my.telegram.org) in the config or in "
        "$FLOWTUI_TELEGRAM_API_ID"
    )
    assert [(failure.name, failure.reason) for failure in failures] == [("telegram", reason)]
    logged = [record for record in caplog.records if "telegram" in record.getMessage()]
    assert [record.getMessage() for record in logged] == [f"service telegram cannot start: {reason}"]
    assert logged[0].exc_info is None  # no traceback


async def test_the_window_shows_why_a_service_did_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.app import build_app

    for name in list(os.environ):
        if name.startswith("FLOWTUI_TELEGRAM_"):
            monkeypatch.delenv(name)
    paths = home_paths(tmp_path)
    app = build_app(settings_from(BROKEN_TELEGRAM), paths)
    shown: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **options: shown.append(message))
    async with app.run_test(size=(120, 36)):
        deadline = asyncio.get_running_loop().time() + 20
        while not any(line.startswith("telegram: [telegram] api_id is missing") for line in shown):
            assert asyncio.get_running_loop().time() < deadline, shown
            await asyncio.sleep(0.05)


# -- telegram check without Telegram ---------------------------------------------------------


@pytest.fixture
def telegram_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every TCP connection pyrogram opens goes to a local port instead (Telegram cannot be
    reached from the tests: this is the narrow fake at that boundary)."""
    real_open = asyncio.open_connection
    target: dict[str, int] = {}

    async def redirected(host: Any = None, port: Any = None, **options: Any) -> Any:
        return await real_open("127.0.0.1", target["port"])

    monkeypatch.setattr(asyncio, "open_connection", redirected)
    from pyrogram.connection.connection import Connection

    monkeypatch.setattr(Connection, "MAX_CONNECTION_ATTEMPTS", 1)

    def point_at(port: int) -> None:
        target["port"] = port

    yield point_at


@pytest.fixture
def closing_server() -> Iterator[int]:
    """Accepts each connection, reads the request and closes without an answer, as the middlebox
    between this machine and Telegram does."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue  # look at the stop flag again
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    connection.recv(65536)
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(5)


ADDRESS = r"\(\d+\.\d+\.\d+\.\d+:443\)"


def test_telegram_check_through_a_closed_connection_says_what_it_tried(
    tmp_path: Path, telegram_at: Any, closing_server: int
) -> None:
    """The reported `flowtui: the check failed: KeyError: 0`: pyrogram decodes the empty answer."""
    from core.telegram.check import check_connection

    telegram_at(closing_server)
    result = check_connection(telegram_config(), tmp_path, timeout=30)
    assert not result.ok
    assert re.fullmatch(
        rf"telegram check: could not reach Telegram {ADDRESS}: the connection was closed without an "
        r"answer Telegram would give \(a firewall or proxy in the way\?\); check the network",
        result.line,
    ), result.line


def test_telegram_check_with_the_connection_refused_says_what_it_tried(
    tmp_path: Path, telegram_at: Any
) -> None:
    from core.telegram.check import check_connection

    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    telegram_at(port)  # nothing listens there any more: refused
    result = check_connection(telegram_config(), tmp_path, timeout=30)
    assert not result.ok
    assert re.fullmatch(
        rf"telegram check: could not reach Telegram {ADDRESS}: no connection could be made; "
        r"check the network",
        result.line,
    ), result.line


def test_the_service_reports_an_unreachable_telegram_as_its_sentence() -> None:
    from core.telegram.gateway import TelegramUnreachable, classify_error

    error = TelegramUnreachable("could not reach Telegram (149.154.167.51:443): no connection could be made")
    assert classify_error(error).reason == str(error)  # no exception name in front


def test_a_settings_default_has_no_secrets() -> None:
    from core.claude.environment import configured_secrets

    assert list(configured_secrets(Settings())) == []
