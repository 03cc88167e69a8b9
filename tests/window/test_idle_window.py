"""An idle window reads the shared state only when something changed (issue 14): its second's
tick reads nothing, running durations tick from the snapshot it holds, and changes made by
another process arrive as events (the engine's named pipe, inotify, the Redis channel)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fakeclaude import ok_script
from textual.pilot import Pilot

from core.clock import Clock
from core.config.settings import CLAUDE_ENV, Settings, load_settings
from core.host.session import Session
from core.host.state import open_shared_state
from core.paths import Paths
from tui import reader
from tui.app import FlowtuiApp, build_app
from tui.demo import DEMO_NOW, demo_app, seed_demo_jobs
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine

SIZE = (120, 36)
RUNNING_JOB = "4"
"""The demo's running job (started 80 s before the demo's now)."""


async def wait_until(pilot: Pilot[object], condition: Callable[[], bool], what: str) -> None:
    """Until ``condition()``, letting the window handle its messages; never a fixed sleep."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def reads(app: FlowtuiApp) -> int:
    return app._reader.reads


def time_cell(app: FlowtuiApp, job_id: str) -> str:
    table = app.screen.query_one(JobTable)
    return str(getattr(table.get_cell(job_id, "time"), "plain", ""))


async def test_the_ticks_of_an_idle_window_read_nothing(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = reads(app)
        for _ in range(reader.SAFETY_READ_TICKS - 1):
            app._tick()
            app.apply_pending()
        await settle(pilot)
        assert reads(app) == before
        app._tick()  # the slow safety read heals a wake-up that went missing
        app.apply_pending()
        await settle(pilot)
        assert reads(app) == before + 1


async def test_running_durations_tick_from_the_snapshot_held(tmp_path: Path) -> None:
    moment = [DEMO_NOW]
    clock = Clock(lambda: moment[0])
    paths = Paths.under(tmp_path)
    seed_demo_jobs(paths)
    settings = load_settings(paths.config_file)
    app = build_app(settings, paths, lambda: Session.detached(settings, paths, clock=clock), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = reads(app)
        assert time_cell(app, RUNNING_JOB) == "1m20s"
        assert time_cell(app, "5") == "30s ago"
        finished = time_cell(app, "1")
        moment[0] = DEMO_NOW + timedelta(seconds=7)
        app._tick()
        await pilot.pause()
        assert time_cell(app, RUNNING_JOB) == "1m27s"
        assert time_cell(app, "5") == "37s ago"  # queued: it has waited 7 s longer
        assert time_cell(app, "1") == finished  # a finished job's duration stays
        await settle(pilot)
        assert reads(app) == before


async def test_a_change_through_another_door_shows_without_a_timer_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window runs the engine; another process's Control pokes it through the named pipe."""
    monkeypatch.setattr(reader, "SAFETY_READ_TICKS", 10**6)  # no read may come from the clock
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    environ = {**os.environ, CLAUDE_ENV: str(ok_script(tmp_path / "claude"))}
    settings = Settings()
    app = build_app(settings, paths, lambda: Session.start(settings, paths, environ))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.owns_engine
        other = open_shared_state(settings, paths, environ)  # as `flowtui add` would
        try:
            job = other.add("from another process", cwd=str(tmp_path))
            table = app.screen.query_one(JobTable)
            await wait_until(pilot, lambda: str(job.id) in [row.value for row in table.rows], "the new row")
            other.pause("from another process")
            status = app.screen.query_one(StatusLine)
            await wait_until(pilot, lambda: status.has_class("-paused"), "the pause")
        finally:
            other.ledger.close()


async def test_an_attached_window_on_redis_hears_another_process(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "SAFETY_READ_TICKS", 10**6)
    environ = {**os.environ, "FLOWTUI_QUEUE_URL": redis_url, CLAUDE_ENV: str(ok_script(tmp_path / "claude"))}
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    settings = Settings()
    engine = Session.start(settings, paths, environ)  # the engine this window attaches to
    try:
        app = build_app(settings, paths, lambda: Session.start(settings, paths, environ))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert not app.owns_engine
            other = open_shared_state(settings, paths, environ)
            try:
                other.pause("from another process")
                status = app.screen.query_one(StatusLine)
                await wait_until(pilot, lambda: status.has_class("-paused"), "the pause")
            finally:
                other.ledger.close()
    finally:
        engine.close()


async def test_the_watch_board_announces_each_write(tmp_path: Path) -> None:
    """A watch's status (active, missing) is no job row: its write is an event of its own."""
    from core.ledger.sqlite import Ledger
    from core.watch.service import StatusBoard
    from core.watch.status import WatchStatus, read_statuses

    paths = Paths.under(tmp_path)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    written = asyncio.Event()
    try:
        board = StatusBoard(ledger, written.set)
        board.report("/notes", WatchStatus("active"))
        await asyncio.wait_for(written.wait(), 10)
        assert read_statuses(ledger)["/notes"].state == "active"
    finally:
        ledger.close()
