"""Write ``screenshots/*.svg`` from the app factory and the same demo states the snapshot tests use.

Run: ``uv run python -m tui.screenshots [SCENE...]`` (every scene, or only the named ones)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tui.app import FlowtuiApp
from tui.demo import (
    broken_app,
    budget_paused_app,
    demo_app,
    engine_owning_demo_app,
    hostile_app,
    long_prompt_app,
    question_app,
    schedules_app,
    usage_app,
)
from tui.demo_review import review_app

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (120, 36)
SETTLE_SECONDS = 30.0


def scene_app(root: Path, seed: bool | str) -> FlowtuiApp:
    """A scene's app: empty, seeded with the demo state, or one whose state cannot open."""
    if seed == "broken":
        return broken_app(root)
    if seed == "budget":
        return budget_paused_app(root)
    if seed == "hostile":
        return hostile_app(root)
    if seed == "long-prompt":
        return long_prompt_app(root)
    if seed == "usage":
        return usage_app(root)
    if seed == "schedules":
        return schedules_app(root)
    if seed == "review":
        return review_app(root)
    if seed == "engine":
        return engine_owning_demo_app(root)
    if isinstance(seed, str) and seed.startswith("question-"):
        return question_app(root, seed.removeprefix("question-"))
    return demo_app(root, bool(seed))


async def settle(pilot: Pilot[Any], timeout: float = SETTLE_SECONDS) -> None:
    """Wait until the window shows the state after the last key: reads and operations run in
    threads and answer with messages, so quiet twice in a row (a message handled in one pass
    may start one more read, seen in the next)."""
    app = pilot.app
    assert isinstance(app, FlowtuiApp)
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        await pilot.pause()
        quiet = quiet + 1 if app.settled else 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"the window did not settle within {timeout} s")


async def play(pilot: Pilot[Any], keys: tuple[str, ...]) -> None:
    """Press ``keys`` one by one, each after the window settled from the one before."""
    await settle(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def shoot(name: str, seed: bool | str, keys: tuple[str, ...], size: tuple[int, int]) -> Path:
    with tempfile.TemporaryDirectory() as root:
        app = scene_app(Path(root), seed)
        async with app.run_test(size=size) as pilot:
            await play(pilot, keys)
            await pilot.pause()
            target = OUT / f"{name}.svg"
            target.write_text(app.export_screenshot(title=f"flowtui: {name}"))
            return target


FILTER_KEYS = ("slash", *"state:failed", "enter")
TO_FINISHED_JOB = ("j", "j", "j", "j")

# name, seeded with demo jobs, keys pressed first, terminal size: the snapshot tests use this list
SCENES: tuple[tuple[str, bool | str, tuple[str, ...], tuple[int, int]], ...] = (
    ("first-run", False, (), SIZE),
    ("queue", True, (), SIZE),
    ("output", True, TO_FINISHED_JOB, SIZE),
    ("output-wrapped", True, (*TO_FINISHED_JOB, "tab"), SIZE),
    ("paused", True, ("p",), SIZE),
    ("paused-by-budget", "budget", (), SIZE),
    ("streaming", True, ("j",), SIZE),
    ("filter", True, FILTER_KEYS, SIZE),
    ("job-detail", True, (*TO_FINISHED_JOB, "enter"), SIZE),
    ("job-detail-long-prompt", "long-prompt", ("enter",), SIZE),
    ("new-job", True, ("n",), SIZE),
    ("new-job-error", True, ("n", *"tidy up", "tab", "tab", "ctrl+u", *"/nowhere", "enter"), (80, 24)),
    ("help", True, ("question_mark",), SIZE),
    ("narrow", True, TO_FINISHED_JOB, (80, 24)),
    ("error", "broken", (), SIZE),
    ("confirm-cancel", True, ("j", "c"), SIZE),
    ("follow-up", True, (*TO_FINISHED_JOB, "u"), SIZE),
    ("add-watch", True, ("a",), SIZE),
    ("test-path", True, ("t",), SIZE),
    ("remove-watch", True, ("tab", "tab", "d"), SIZE),
    ("hostile-text", "hostile", ("j", "j", "j"), SIZE),
    ("narrow-side", True, ("s",), (80, 24)),
    ("context-footer", True, ("tab", "tab"), SIZE),
    ("quit-question", "engine", ("q",), SIZE),
    ("question-diff", "question-edit", (), SIZE),
    ("needs-you-header", "question-bash", (), (80, 24)),
    ("schedules", "schedules", ("S",), SIZE),
    ("usage-header", "usage", (), SIZE),
    ("review-marker", "review", (), SIZE),
    ("diff-view", "review", ("D",), SIZE),
)


async def main(names: list[str]) -> None:
    unknown = set(names) - {scene[0] for scene in SCENES}
    if unknown:
        raise SystemExit(f"no such scene: {', '.join(sorted(unknown))}")
    OUT.mkdir(exist_ok=True)
    for name, seed, keys, size in SCENES:
        if not names or name in names:
            print(await shoot(name, seed, keys, size))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
