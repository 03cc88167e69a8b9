"""Placeholder until the control centre issue lands."""

from __future__ import annotations

from core.paths import Paths
from core.settings import Settings


def run_app(settings: Settings, paths: Paths) -> int:
    raise NotImplementedError
