"""Building an engine on a temp data dir and waiting for what it does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psutil

from core.config.settings import Settings, parse_settings
from core.engine.engine import Engine
from core.jobs import Job, JobState
from core.paths import Paths

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll until ``condition`` is truthy; a generous timeout, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def home_paths(home: Path) -> Paths:
    return Paths(config_file=home / "config.toml", data_dir=home)


def settings_from(text: str = "") -> Settings:
    return parse_settings(text, "test-config.toml")


@contextmanager
def running_engine(
    home: Path, config: str = "", environ: Mapping[str, str] | None = None
) -> Iterator[Engine]:
    engine = Engine(settings_from(config), home_paths(home), environ=environ)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def wait_job(engine: Engine, job_id: int, *states: JobState, timeout: float = 30.0) -> Job:
    assert engine.ledger is not None
    ledger = engine.ledger

    def reached() -> Job | None:
        job = ledger.get(job_id)
        return job if job is not None and job.state in states else None

    return wait_for(reached, timeout, f"job #{job_id} to be {'/'.join(states)}")


def is_gone(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (PID 1 in a container may never reap)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
