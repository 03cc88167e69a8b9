"""Snapshot tests of the control centre at 120x36, built like the screenshots are."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import SCENES, play, scene_app


@pytest.mark.parametrize(("name", "seed", "keys", "size"), SCENES, ids=[scene[0] for scene in SCENES])
def test_scene(
    snap_compare: Any,
    tmp_path: Path,
    name: str,
    seed: bool | str,
    keys: tuple[str, ...],
    size: tuple[int, int],
) -> None:
    # Reads and operations answer from threads: each key waits for the window to settle.
    assert snap_compare(scene_app(tmp_path, seed), terminal_size=size, run_before=partial(play, keys=keys))
