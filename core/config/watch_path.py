"""The one normal form of a watch path: how ``[[watch]] path`` is stored, compared and reported.

It lives with the configuration because config.toml stores it; the watcher, the watch service,
``flowtui watch ls``, the window and the config editor all compare watch roots through it.
"""

from __future__ import annotations

import os
from pathlib import Path


def watch_key(path: str | Path) -> str:
    """Absolute, ``~`` expanded, symlinks resolved. A path that cannot be resolved (a symlink
    loop, a NUL) keeps its absolute form, so the watch itself reports the problem."""
    expanded = os.path.expanduser(path)
    try:
        return str(Path(expanded).resolve())
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(expanded)
