"""The window follows config.toml while it runs: the New-job dialog offers a workflow added
meanwhile, and the header says when the file is broken (and the last good config runs)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.config.settings import load_settings
from core.paths import Paths
from tui.app import build_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.new_job import NewJobScreen
from tui.screenshots import settle
from tui.widgets.status_line import StatusLine


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def rewrite(config: Path, text: str) -> None:
    replacement = config.with_suffix(".new")
    replacement.write_text(text)
    os.replace(replacement, config)


async def test_the_window_lists_a_workflow_added_meanwhile_and_names_a_broken_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWTUI_CLAUDE", "true")  # no job runs here; the header needs no Claude warning
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    paths.config_file.write_text("")
    app = build_app(load_settings(paths.config_file), paths)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(lambda: app.owns_engine)
        await settle(pilot)
        rewrite(paths.config_file, '[workflows.docs]\nprompt = "Write docs: {prompt}"\n')
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NewJobScreen)
        assert screen.workflows == ["default", "docs"]
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)

        status = app.screen.query_one(StatusLine)
        rewrite(paths.config_file, '[workflows.docs]\nprompt = "Write docs: {prompt}"\nretries = "two"\n')
        # Nobody asks: the engine's follower notices and the window reads the state again.
        await wait_until(lambda: status.has_class("-config-broken"))
        header = str(status.render())
        problem = app.control.live.problem
        assert problem is not None and "retries" in problem
        assert f"config error: {problem} · using the last good config" in header
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)
        assert app.screen.workflows == ["default", "docs"]  # the last good config
        await pilot.press("escape")

        rewrite(paths.config_file, "[engine]\nworkers = 4\n")  # fixed; one key waits for a restart
        await wait_until(lambda: not status.has_class("-config-broken"))
        await settle(pilot)
        header = str(status.render())
        assert "config error" not in header
        assert "restart to apply: [engine] workers" in header
