"""Snapshot tests of the control centre at 120x36, built like the screenshots are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import SCENES, scene_app


@pytest.mark.parametrize(("name", "seed", "keys", "size"), SCENES, ids=[scene[0] for scene in SCENES])
def test_scene(
    snap_compare: Any,
    tmp_path: Path,
    name: str,
    seed: bool | str,
    keys: tuple[str, ...],
    size: tuple[int, int],
) -> None:
    assert snap_compare(scene_app(tmp_path, seed), press=keys, terminal_size=size)
