"""A window on a stalled Redis keeps answering keys, says the state is unreachable, and
recovers when Redis answers again (issue 13: reads and operations run in thread workers)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from rediskit import RedisServer

from core.config.settings import Settings
from core.host.session import Session
from core.paths import Paths
from tui.app import build_app
from tui.reader import STALL_SECONDS
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine

KEY_SECONDS = 3.0
"""A key's screen change must complete well within Redis's client time-out (15 s)."""


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_stalled_redis_leaves_the_attached_window_answering(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    environ = {**os.environ, "FLOWTUI_QUEUE_URL": redis_url}
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    settings = Settings()
    engine = Session.start(settings, paths, environ)  # the engine this window attaches to
    try:
        assert engine.owns_engine
        job = engine.control.add("waits in the Redis ledger", cwd=str(tmp_path))
        app = build_app(settings, paths, lambda: Session.start(settings, paths, environ))
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            status = app.screen.query_one(StatusLine)
            assert "attached to engine" in str(status.render())
            assert app.session is not None and not app.session.owns_engine
            redis_server.send_signal(signal.SIGSTOP)
            try:
                await wait_until(
                    lambda: "unreachable" in str(status.render()),
                    timeout=STALL_SECONDS + 10,
                    what="the status line to say the state is unreachable",
                )
                assert status.has_class("-unreachable")
                started = time.monotonic()
                await pilot.press("question_mark")
                assert isinstance(app.screen, HelpScreen)
                await pilot.press("escape")
                assert isinstance(app.screen, DashboardScreen)
                await pilot.press("p")  # waits for Redis in its thread, not in the window
                await pilot.press("j", "k")
                assert time.monotonic() - started < KEY_SECONDS
                assert str(job.id) in [row.value for row in app.screen.query_one(JobTable).rows]
                assert "unreachable" in str(status.render())
            finally:
                redis_server.send_signal(signal.SIGCONT)
            await wait_until(
                lambda: "unreachable" not in str(status.render()) and "paused" in str(status.render()),
                timeout=30,
                what="the window to recover and show the pause pressed during the stall",
            )
            assert not status.has_class("-unreachable")
            assert app.control.pause_state().paused
    finally:
        engine.close()
