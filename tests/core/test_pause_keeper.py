"""The engine's pause on its own: taken from the ledger's flags or decided here, said once per
change, and ended by itself when it has an end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from enginekit import home_paths

from core.clock import Clock, to_iso
from core.config.settings import load_settings
from core.engine.pause import PauseKeeper
from core.events import EngineChanged
from core.ledger.sqlite import Ledger
from core.ops.control import Control
from core.queue.transport import JobQueue

MOMENT = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


@dataclass
class Keeper:
    pause: PauseKeeper
    control: Control
    adopted: list[EngineChanged] = field(default_factory=list)
    written: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def said(self) -> list[tuple[bool, str | None]]:
        return [(change.paused, change.reason) for change in self.adopted]


@pytest.fixture
def keeper(tmp_path: Path) -> Iterator[Keeper]:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    settings = load_settings(paths.config_file)
    control = Control(settings, ledger, JobQueue(paths.queue_db), lambda _: None, paths=paths)
    adopted: list[EngineChanged] = []
    written = threading.Semaphore(0)
    pause = PauseKeeper(control, Clock.frozen(MOMENT), on_adopted=adopted.append, on_written=written.release)
    try:
        yield Keeper(pause, control, adopted, written)
    finally:
        pause.stop()
        ledger.close()


def test_a_pause_decided_here_is_written_taken_and_said_once(keeper: Keeper) -> None:
    until = to_iso(MOMENT + timedelta(hours=1))
    keeper.pause.pause_self("a limit", until)
    assert keeper.pause.paused
    assert keeper.control.pause_state().until == until
    assert keeper.written.acquire(blocking=False)
    keeper.pause.refresh()  # reading back what was just decided changes nothing
    assert keeper.said() == [(True, "a limit")]


def test_a_pause_written_elsewhere_is_taken_on_refresh_without_telling_back(keeper: Keeper) -> None:
    keeper.control.write_pause("by hand", None)
    keeper.pause.refresh()
    keeper.pause.refresh()
    assert keeper.pause.paused
    assert keeper.said() == [(True, "by hand")]
    assert not keeper.written.acquire(blocking=False)  # the writer tells the others, not this engine
    keeper.control.write_resume()
    keeper.pause.refresh()
    assert not keeper.pause.paused
    assert keeper.said() == [(True, "by hand"), (False, None)]


def test_a_pause_whose_end_has_come_resumes_by_itself(keeper: Keeper) -> None:
    keeper.pause.pause_self("the budget", to_iso(MOMENT))
    assert keeper.written.acquire(timeout=10)  # the pause itself
    assert keeper.written.acquire(timeout=10)  # the resume, from the timer
    assert not keeper.pause.paused
    assert not keeper.control.pause_state().paused
    assert keeper.said() == [(True, "the budget"), (False, None)]
