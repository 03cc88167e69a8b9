"""Write ``screenshots/*.svg`` from the app factory and the same demo states the snapshot tests use.

Run: ``uv run python -m tui.screenshots``
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tui.demo import demo_app

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (120, 36)


async def shoot(name: str, seed: bool, keys: tuple[str, ...] = ()) -> Path:
    with tempfile.TemporaryDirectory() as root:
        app = demo_app(Path(root), seed)
        async with app.run_test(size=SIZE) as pilot:
            for key in keys:
                await pilot.press(key)
            await pilot.pause()
            target = OUT / f"{name}.svg"
            target.write_text(app.export_screenshot(title=f"flowtui: {name}"))
            return target


# name, seeded with demo jobs, keys pressed first: the same list the snapshot tests use
SCENES: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("first-run", False, ()),
    ("queue", True, ()),
    ("paused", True, ("p",)),
)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, seed, keys in SCENES:
        print(await shoot(name, seed, keys))


if __name__ == "__main__":
    asyncio.run(main())
