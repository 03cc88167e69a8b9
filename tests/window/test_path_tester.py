"""The path tester reads the config and the disk in a thread: a slow file system leaves the
window answering, only the newest test's verdict is shown, and a known failure is its line."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import Input

from core.errors import ConfigError
from tui.demo import demo_app
from tui.screens.watch_dialogs import TestPathScreen as PathTestScreen  # not a test class
from tui.screenshots import settle

GATE_SECONDS = 20.0
"""A gate never opened fails the test instead of hanging it."""


def verdict_of(screen: object) -> str:
    assert isinstance(screen, PathTestScreen)
    return str(screen.query_one("#verdict").render())


async def test_a_slow_test_leaves_the_window_answering_and_the_newest_verdict_wins(tmp_path: Path) -> None:
    gate = threading.Event()
    asked: list[str] = []

    def explain(path: str) -> list[dict[str, object]]:
        asked.append(path)
        if path == "/slow":
            assert gate.wait(GATE_SECONDS), "the slow test was never let through"
            return []
        return [{"watch": "/fast", "workflow": "review", "counts": False, "reason": "not included"}]

    app = demo_app(tmp_path, seed=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = PathTestScreen(explain)
        await app.push_screen(screen)
        box = screen.query_one("#path", Input)
        box.value = "/slow"
        await pilot.press("enter")  # on the app's thread this would hang the pilot until the gate
        assert "testing /slow" in verdict_of(screen)
        box.value = "/fast/a.md"
        await pilot.press("enter")  # the window still answers keys while /slow waits
        await pilot.pause()
        gate.set()
        await settle(pilot)
        assert asked == ["/slow", "/fast/a.md"]
        verdict = verdict_of(screen)
        assert "watch /fast (review): ignored: not included" in verdict
        assert "outside every watched path" not in verdict  # the slow answer came late: moot


async def test_a_known_failure_is_its_line_in_the_verdict(tmp_path: Path) -> None:
    def explain(path: str) -> list[dict[str, object]]:
        raise ConfigError("config.toml: [[watch]] #1 path: expected a string")

    app = demo_app(tmp_path, seed=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = PathTestScreen(explain)
        await app.push_screen(screen)
        screen.query_one("#path", Input).value = "/anywhere"
        await pilot.press("enter")
        await settle(pilot)
        verdict = verdict_of(screen)
        assert verdict == "the path cannot be tested: config.toml: [[watch]] #1 path: expected a string"
        assert not app.failures
