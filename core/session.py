"""What a surface talks to: this process's own engine, or the shared state of another's.

The first process for a data dir runs the engine; a second window attaches to the same
ledger and drives it through :class:`Control`, whose changes wake the real engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.control import Control
from core.engine import Engine
from core.events import EventBus
from core.ledger import Ledger
from core.lock import EngineBusy, EngineHolder
from core.paths import Paths
from core.queue import JobQueue
from core.services import default_services
from core.settings import Settings
from core.wake import poke


@dataclass
class Session:
    control: Control
    bus: EventBus
    engine: Engine | None
    holder: EngineHolder | None

    @property
    def owns_engine(self) -> bool:
        return self.engine is not None

    def describe(self) -> str:
        if self.engine is not None:
            return f"engine (pid {os.getpid()})"
        if self.holder is not None:
            return f"attached to engine (pid {self.holder.pid}, since {self.holder.since[11:16]})"
        return "no engine"

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        else:
            self.control.ledger.close()

    @classmethod
    def start(cls, settings: Settings, paths: Paths, environ: Mapping[str, str] | None = None) -> Session:
        """Run the engine here, or attach when another process already runs it."""
        env = dict(os.environ if environ is None else environ)
        engine = Engine(settings, paths, environ=env, services=default_services(settings, paths, env))
        try:
            engine.start()
        except EngineBusy as busy:
            session = cls.detached(settings, paths)
            session.holder = busy.holder
            return session
        assert engine.control is not None
        return cls(control=engine.control, bus=engine.bus, engine=engine, holder=None)

    @classmethod
    def detached(cls, settings: Settings, paths: Paths) -> Session:
        """The shared state without an engine in this process (attached windows, snapshots)."""
        paths.ensure_data_dir()
        ledger = Ledger(paths.ledger_db, settings.ledger.synchronous)
        control = Control(settings, ledger, JobQueue(paths.queue_db), lambda change: poke(paths.wake_fifo))
        return cls(control=control, bus=EventBus(), engine=None, holder=None)
