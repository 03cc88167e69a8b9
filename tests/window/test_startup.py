"""A window shows the ledger at once and starts its engine behind the first frame."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Static

from core.config.settings import Settings
from core.host.session import Session
from core.paths import Paths
from tui.app import build_app
from tui.screens.error import ErrorScreen
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine


def data_paths(tmp_path: Path) -> Paths:
    return Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_first_frame_shows_the_ledger_and_the_engine_starts_after(tmp_path: Path) -> None:
    paths = data_paths(tmp_path)
    seeded = Session.detached(Settings(), paths)
    job = seeded.control.add("waiting since before the window", cwd=str(tmp_path))
    seeded.close()
    app = build_app(Settings(), paths)  # the factory's own opener, as the `flowtui` command runs it
    async with app.run_test(size=(120, 36)):
        assert app.session is not None  # at once: keys work before the engine is up
        table = app.screen.query_one(JobTable)
        await wait_until(lambda: [row.value for row in table.rows] == [str(job.id)])  # read in a thread
        await wait_until(lambda: app.owns_engine)
        # The header says so once it redraws (it redraws on a change of its text, not at once).
        await wait_until(lambda: "engine (pid" in str(app.screen.query_one(StatusLine).render()))
        # The engine took the queued job (no claude here: the attempt itself fails).
        await wait_until(lambda: app.control.get(job.id).attempts >= 1)


async def test_job_added_before_the_engine_started_is_queued_by_it(tmp_path: Path) -> None:
    paths = data_paths(tmp_path)
    session = Session.open(Settings(), paths)
    try:
        session.control.pause("so the job stays in the queue to be seen")
        job = session.control.add("before the engine", cwd=str(tmp_path))
        session.start_engine()
        assert session.owns_engine and not session.engine_pending
        assert session.engine is not None and session.engine.queue is not None
        assert job.id in session.engine.queue.known_job_ids()
    finally:
        session.close()


async def test_window_opened_beside_a_running_engine_attaches(tmp_path: Path) -> None:
    paths = data_paths(tmp_path)
    running = Session.start(Settings(), paths)
    try:
        assert running.owns_engine
        app = build_app(Settings(), paths)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(lambda: app.session is not None and app.session.holder is not None)
            await pilot.pause(0.1)
            assert not app.owns_engine
            assert "attached to engine" in str(app.screen.query_one(StatusLine).render())
    finally:
        running.close()


async def test_window_closed_before_its_engine_started_leaves_the_lock_free(tmp_path: Path) -> None:
    paths = data_paths(tmp_path)
    for _ in range(3):  # quit at once, whether the engine's start has begun or not
        async with build_app(Settings(), paths).run_test(size=(120, 36)):
            pass
    after = Session.start(Settings(), paths)
    try:
        assert after.owns_engine
    finally:
        after.close()


async def test_engine_that_cannot_start_shows_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(session: Session) -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/data/queue.db")

    monkeypatch.setattr(Session, "start_engine", refuse)
    app = build_app(Settings(), data_paths(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause()  # composed
        shown = str(app.screen.query_one(".error", Static).render())
        assert "/data/queue.db: the file system is read-only: set FLOWTUI_HOME" in shown
        assert "OSError" not in shown  # a sentence, not an exception's name
