"""What a surface talks to: this process's own engine, or the shared state of another's.

The first process for a data dir runs the engine. A second window attaches: it reads the
same ledger, its operations wake the real engine, it hears every change through the data
dir's inotify events, and when that engine's process ends it takes the engine over (said
on the bus as :class:`EngineTakenOver`), so the window keeps working.

A window opens in two steps (:meth:`Session.open`, then :meth:`Session.start_engine` from a
thread): the shared state is readable at once for the first frame, and the engine with its
services (and their imports) starts while the window is already on screen.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.clock import SYSTEM_CLOCK, Clock, parse_time
from core.config.live import ConfigFollower, LiveSettings
from core.config.settings import Settings
from core.events import EngineTakenOver, EventBus, JobOutput, SharedStateChanged
from core.host.state import open_shared_state
from core.ops.control import Control
from core.paths import Paths
from core.wake.lock import EngineBusy, EngineHolder

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.ledger.store import LedgerStore
    from core.wake.attach import EngineVacancy, SharedStateWatcher
    from core.wake.redis_channel import RedisChangeListener

# The engine, its services and the attached window's watchers are imported by the methods
# that start them: a window draws its first frame before it pays for them.

log = logging.getLogger(__name__)


class Session:
    """What a surface talks to: this process's own engine, or another process's shared state."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        control: Control,
        bus: EventBus,
        engine: Engine | None,
        holder: EngineHolder | None,
        environ: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.live = control.live
        """The config as it is now, one holder for the door, the engine and the window."""
        self.clock = clock
        self.paths = paths
        self.control = control
        self.bus = bus
        self.engine = engine
        self.holder = holder
        self.environ = dict(os.environ if environ is None else environ)
        self._watcher: SharedStateWatcher | None = None
        self._vacancy: EngineVacancy | None = None
        self._redis_listener: RedisChangeListener | None = None  # with Redis only
        self._config_follower: ConfigFollower | None = None  # attached: no engine here follows it
        self._retired_ledgers: list[LedgerStore] = []
        self._lock = threading.Lock()
        self._closed = False
        self.engine_pending = False
        """Opened by :meth:`open`: :meth:`start_engine` is still to be called."""

    @property
    def owns_engine(self) -> bool:
        return self.engine is not None

    def describe(self) -> str:
        if self.engine is not None:
            return f"engine (pid {os.getpid()})"
        if self.engine_pending:
            return "starting the engine"
        if self.holder is not None:
            since = (
                self.clock.local(parse_time(self.holder.since)) if self.holder.since[:1].isdigit() else None
            )
            when = f", since {since:%H:%M}" if since else ""
            return f"attached to engine (pid {self.holder.pid}{when})"
        return "no engine"

    def close(self, handed_to: int | None = None) -> None:
        """Closing an attached window never touches the engine or its jobs. ``handed_to`` is
        the pid of the background engine waiting for this one's lock: the interrupted runs
        say they go there (they run again at once, their attempt not counted)."""
        with self._lock:
            if self._closed:
                return  # closed already (a hand-off closes it before the window's own close)
            self._closed = True
            if self._vacancy is not None:
                self._vacancy.cancel()
            if self._watcher is not None:
                self._watcher.stop()
            if self._redis_listener is not None:
                self._redis_listener.stop()
            if self._config_follower is not None:
                self._config_follower.stop()
            if self.engine is not None:
                if handed_to is None:
                    self.engine.stop()
                else:
                    self.engine.stop(f"handed to the background engine (pid {handed_to})")
            else:
                self.control.ledger.close()
            for ledger in self._retired_ledgers:
                ledger.close()

    # -- starting -----------------------------------------------------------------

    @classmethod
    def start(
        cls,
        settings: Settings,
        paths: Paths,
        environ: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Session:
        """Run the engine here, or attach when another process already runs it."""
        env = dict(os.environ if environ is None else environ)
        bus = EventBus()
        engine = _new_engine(LiveSettings(settings, paths.config_file), paths, env, bus, clock)
        try:
            engine.start()
        except EngineBusy as busy:
            session = cls.detached(settings, paths, env, bus, clock)
            session.holder = busy.holder
            session._attach()
            return session
        return cls(settings, paths, engine.control, bus, engine, None, env, clock)

    @classmethod
    def open(
        cls,
        settings: Settings,
        paths: Paths,
        environ: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Session:
        """The shared state at once, the engine later: call :meth:`start_engine` (it blocks,
        so from a thread) once the window shows what the ledger holds."""
        session = cls.detached(settings, paths, environ, clock=clock)
        session.engine_pending = True
        return session

    def start_engine(self) -> None:
        """Run the engine here, or attach when another process already runs it (for a
        session from :meth:`open`). Raises what the engine's start raises, EngineBusy aside."""
        with self._lock:
            if self._closed or not self.engine_pending:
                return
            engine = _new_engine(self.live, self.paths, self.environ, self.bus, self.clock)
            try:
                engine.start()
            except EngineBusy as busy:
                self.holder = busy.holder
                self._attach()
            else:
                # Screens may be reading through the old control on the UI thread right now:
                # its ledger is closed with the session, not under their feet.
                self._retired_ledgers.append(self.control.ledger)
                self.engine, self.control = engine, engine.control
            finally:
                self.engine_pending = False
        self.bus.publish(SharedStateChanged())

    @classmethod
    def detached(
        cls,
        settings: Settings,
        paths: Paths,
        environ: Mapping[str, str] | None = None,
        bus: EventBus | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Session:
        """The shared state without an engine in this process (attached windows, snapshots)."""
        control = open_shared_state(LiveSettings(settings, paths.config_file), paths, environ, clock)
        return cls(settings, paths, control, bus or EventBus(), None, None, environ, clock)

    # -- attached -------------------------------------------------------------------

    def _attach(self) -> None:
        from core.wake.attach import EngineVacancy, SharedStateWatcher

        self._watcher = SharedStateWatcher(
            self.paths,
            on_ledger=lambda: self.bus.publish(SharedStateChanged()),
            on_output=lambda job_id: self.bus.publish(JobOutput(job_id=job_id, attempt=0, events=[])),
        )
        self._watcher.start()
        self._config_follower = ConfigFollower(self.live)
        self._config_follower.subscription = self.live.subscribe(
            lambda update: self.bus.publish(SharedStateChanged())  # the header names a broken config
        )
        self._config_follower.start()
        redis_url = self.settings.queue_url(self.environ)
        if redis_url is not None:  # other machines' changes arrive on the Redis channel
            from core.wake.redis_channel import RedisChangeListener

            self._redis_listener = RedisChangeListener(
                redis_url, lambda: self.bus.publish(SharedStateChanged())
            )
            self._redis_listener.start()
        self._vacancy = EngineVacancy(self.paths.engine_lock, self._take_over)
        self._vacancy.start()

    def _take_over(self) -> None:
        """The engine's process ended: run the engine here (jobs it left are recovered)."""
        from core.wake.attach import EngineVacancy

        with self._lock:
            if self._closed or self.engine is not None:
                return
            previous = self.holder
            engine = _new_engine(self.live, self.paths, self.environ, self.bus, self.clock)
            try:
                engine.start()
            except EngineBusy as busy:  # another window was quicker: stay attached to it
                self.holder = busy.holder
                self._vacancy = EngineVacancy(self.paths.engine_lock, self._take_over)
                self._vacancy.start()
                return
            old_ledger = self.control.ledger
            self.engine, self.control, self.holder = engine, engine.control, None
            if self._config_follower is not None:  # the engine follows the config now
                self._config_follower.stop()
                self._config_follower = None
            if self._watcher is not None:
                self._watcher.stop()
                self._watcher = None
            old_ledger.close()
        log.warning("engine pid %s stopped; this process took it over", previous.pid if previous else "?")
        self.bus.publish(EngineTakenOver(previous_pid=previous.pid if previous else None))


def _new_engine(
    live: LiveSettings, paths: Paths, environ: dict[str, str], bus: EventBus, clock: Clock
) -> Engine:
    from core.engine.engine import Engine
    from core.host.services import default_services

    settings = live.current()
    return Engine(
        settings,
        paths,
        environ=environ,
        bus=bus,
        services=default_services(settings, paths, environ),
        clock=clock,
        live=live,
    )
