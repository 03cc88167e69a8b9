"""Telegram, Redis and MCP are optional extras: without them everything else runs, and a
feature that needs one says in one line which extra to install (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.extras import MCP, REDIS, TELEGRAM, Extra, MissingExtra, installed, require

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs the ``flowtui`` entry point as if the given packages were not installed:
# ``sys.modules[name] = None`` makes every ``import name`` (and its submodules) raise ImportError.
WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["flowtui", *sys.argv[2:]]
import runpy
runpy.run_module("cli", run_name="__main__")  # what the flowtui script runs
"""

HINTS = {
    "telegram": "flowtui: Telegram needs the telegram extra: uv sync --extra telegram "
    "(or pip install 'flowtui[telegram]')\n",
    "redis": "flowtui: A Redis queue needs the redis extra: uv sync --extra redis "
    "(or pip install 'flowtui[redis]')\n",
    "mcp": "flowtui: flowtui mcp needs the mcp extra: uv sync --extra mcp (or pip install 'flowtui[mcp]')\n",
}


def flowtui_without(
    missing: str, *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTUI_")}
    environ.update({"FLOWTUI_HOME": str(home), "FLOWTUI_CLAUDE": "/bin/true", **(env or {})})
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, missing, *args],
        env=environ,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_package_is_a_missing_extra_with_a_one_line_hint() -> None:
    absent = Extra("nothing", "Nothing", "flowtui_no_such_package")
    assert not installed(absent)
    with pytest.raises(MissingExtra) as caught:
        require(absent)
    assert str(caught.value) == (
        "Nothing needs the nothing extra: uv sync --extra nothing (or pip install 'flowtui[nothing]')"
    )
    assert isinstance(caught.value, ImportError)


def test_the_dev_environment_has_every_extra() -> None:
    for extra in (TELEGRAM, REDIS, MCP):
        assert installed(extra), extra
        require(extra)


def test_help_and_doctor_run_without_any_extra(tmp_path: Path) -> None:
    done = flowtui_without("pyrogram,redis,mcp", "--help", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "telegram" in done.stdout and "mcp" in done.stdout

    done = flowtui_without("pyrogram,redis,mcp", "doctor", home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    extras: not installed: telegram, redis, mcp" in done.stdout
    assert "Traceback" not in done.stderr


def test_core_imports_without_any_extra() -> None:
    code = (
        "import sys\n"
        "for name in ('pyrogram', 'redis', 'mcp'):\n"
        "    sys.modules[name] = None\n"
        "import cli.main, cli.doctor, core.engine.engine, core.host.serve, core.host.session\n"
        "import core.host.state\n"
        "import core.telegram.service, core.telegram.status, cli.telegram, cli.mcp_command\n"
        "import tui.app, cli.entry\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("missing", "args", "env", "hint"),
    [
        ("pyrogram", ("telegram", "check"), {}, "telegram"),
        ("mcp", ("mcp",), {}, "mcp"),
        ("redis", ("jobs",), {"FLOWTUI_QUEUE_URL": "redis://127.0.0.1:9/0"}, "redis"),
        ("redis", ("add", "hello"), {"FLOWTUI_QUEUE_URL": "redis://127.0.0.1:9/0"}, "redis"),
        ("redis", ("serve",), {"FLOWTUI_QUEUE_URL": "redis://127.0.0.1:9/0"}, "redis"),
        ("redis", (), {"FLOWTUI_QUEUE_URL": "redis://127.0.0.1:9/0"}, "redis"),  # the window
    ],
    ids=["telegram-check", "mcp", "redis-jobs", "redis-add", "redis-serve", "redis-window"],
)
def test_a_feature_without_its_extra_says_which_one_and_exits_2(
    tmp_path: Path, missing: str, args: tuple[str, ...], env: dict[str, str], hint: str
) -> None:
    done = flowtui_without(missing, *args, home=tmp_path, env=env)
    assert (done.returncode, done.stderr) == (2, HINTS[hint])


def test_telegram_configured_without_its_extra_fails_doctor_with_the_hint(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[telegram]\napi_id = 1234567\napi_hash = "0123456789abcdef0123456789abcdef"\n'
        'bot_token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"\nallowed_users = [11111111]\n',
        encoding="utf-8",
    )
    done = flowtui_without("pyrogram", "telegram", "status", home=tmp_path)
    assert (done.returncode, done.stdout) == (1, HINTS["telegram"].removeprefix("flowtui: "))
    done = flowtui_without("pyrogram", "doctor", home=tmp_path)
    assert done.returncode == 1
    assert f"FAIL  telegram: {HINTS['telegram'].removeprefix('flowtui: ')}" in done.stdout


def test_the_telegram_service_reports_the_missing_extra_instead_of_crashing(tmp_path: Path) -> None:
    """The engine runs without kurigram; the bot's status line says which extra it needs."""
    code = (
        "import asyncio, sys\n"
        "sys.modules['pyrogram'] = None\n"
        "from pathlib import Path\n"
        "from core.telegram.gateway import PyrogramGateway, classify_error\n"
        "async def main():\n"
        "    gateway = PyrogramGateway(config=None, session_file=Path(sys.argv[1]) / 'bot.session')\n"
        "    async def ignore(_update): return None\n"
        "    try:\n"
        "        await gateway.start(ignore, ignore)\n"
        "    except Exception as error:\n"
        "        print(classify_error(error).reason)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, HINTS["telegram"].removeprefix("flowtui: "))
