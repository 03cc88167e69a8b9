"""A window opened beside a running `flowtui serve` attaches to it, and takes over when it dies."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for
from fakeclaude import ok_script, write_script

from core.config.settings import Settings
from core.host.session import Session
from core.paths import Paths
from tui.app import build_app
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    return Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))


def home_paths(flowtui: Flowtui) -> Paths:
    return Paths(config_file=flowtui.home / "config.toml", data_dir=flowtui.home)


async def test_window_beside_serve_sees_jobs_pauses_it_and_quits_without_touching_it(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    paths = home_paths(flowtui)
    flowtui.env["FLOWTUI_CLAUDE"] = str(
        write_script(tmp_path / "sleepy", 'echo \'{"type":"system"}\'\nsleep 300\n')
    )
    served = flowtui.serve()
    try:
        app = build_app(Settings(), paths, lambda: Session.start(Settings(), paths, flowtui.env))
        async with app.run_test(size=(120, 36)) as pilot:
            status = app.screen.query_one(StatusLine)
            await wait_async(pilot, lambda: f"attached to engine (pid {served.pid}" in str(status.render()))
            job_id = flowtui.ok("add", "from the cli", "--cwd", str(tmp_path)).strip()
            table = app.screen.query_one(JobTable)
            await wait_async(pilot, lambda: job_id in [row.value for row in table.rows])
            running = wait_for(
                lambda: json.loads(flowtui.ok("show", job_id, "--json"))["claude_pid"], what="start"
            )
            await pilot.press("p")
            await settle(pilot)  # the operation runs in a thread
            assert "paused" in flowtui.ok("jobs").splitlines()[0]
            await pilot.press("p")
            await settle(pilot)
            assert "paused" not in flowtui.ok("jobs").splitlines()[0]
        # the window is gone; the served engine and its running job are untouched
        assert served.poll() is None
        job = json.loads(flowtui.ok("show", job_id, "--json"))
        assert (job["state"], job["claude_pid"]) == ("running", running)
    finally:
        served.send_signal(signal.SIGTERM)
        served.wait(timeout=20)


async def wait_async(pilot: object, condition: object, timeout: float = 20) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_window_takes_over_when_the_engine_is_killed(flowtui: Flowtui, tmp_path: Path) -> None:
    paths = home_paths(flowtui)
    marker = tmp_path / "first-run"
    script = write_script(
        tmp_path / "claude-once-slow",
        f'if [ ! -e {marker} ]; then touch {marker}; echo \'{{"type":"system"}}\'; sleep 300; fi\n'
        + (tmp_path / "claude").read_text().split("\n", 1)[1],
    )
    flowtui.env["FLOWTUI_CLAUDE"] = str(script)
    engine = flowtui.serve()
    try:
        job_id = flowtui.ok("add", "interrupted", "--cwd", str(tmp_path)).strip()
        wait_for(
            lambda: json.loads(flowtui.ok("show", job_id, "--json"))["claude_pid"], what="claude to start"
        )
        app = build_app(Settings(), paths, lambda: Session.start(Settings(), paths, flowtui.env))
        async with app.run_test(size=(120, 36)) as pilot:
            assert app.session is not None and not app.session.owns_engine
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=10)
            await wait_async(pilot, lambda: app.session is not None and app.session.owns_engine)
            await wait_async(
                pilot, lambda: json.loads(flowtui.ok("show", job_id, "--json"))["state"] == "succeeded"
            )
            status = app.screen.query_one(StatusLine)
            await wait_async(pilot, lambda: "engine (pid" in str(status.render()))  # read in a thread
        done = json.loads(flowtui.ok("show", job_id, "--json"))
        assert done["attempts"] == 2
    finally:
        if engine.poll() is None:
            engine.kill()
