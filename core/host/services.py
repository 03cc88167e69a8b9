"""The services an engine runs beside its workers, built from the config."""

from __future__ import annotations

from collections.abc import Mapping

from core.config.settings import Settings
from core.engine.service import Service
from core.host.retention import RetentionService
from core.notify.service import notify_services
from core.paths import Paths
from core.schedule.cron import ScheduleService
from core.schedule.steps import StepsService
from core.telegram.service import telegram_services
from core.watch.service import WatchService


def default_services(settings: Settings, paths: Paths, environ: Mapping[str, str]) -> list[Service]:
    """Every service this config asks for (each registers itself here)."""
    services: list[Service] = []
    services.extend(telegram_services(settings, environ))
    services.extend(notify_services(settings))
    if settings.http.listen is not None:
        from core.http.service import HttpService  # uvicorn and starlette only when asked for

        services.append(HttpService(environ))
    services.append(WatchService())
    services.append(ScheduleService())
    services.append(StepsService())
    services.append(RetentionService())
    return services
