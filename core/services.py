"""The services an engine runs beside its workers, built from the config."""

from __future__ import annotations

from collections.abc import Mapping

from core.engine import Service
from core.paths import Paths
from core.settings import Settings


def default_services(settings: Settings, paths: Paths, environ: Mapping[str, str]) -> list[Service]:
    """Every service this config asks for (each registers itself here)."""
    services: list[Service] = []
    return services
