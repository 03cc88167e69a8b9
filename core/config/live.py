"""The one holder of the current settings, shared by the engine, the operations door and the window.

Every long-lived process (the window, ``flowtui serve``, the MCP server) reads its settings
through a :class:`LiveSettings`, so a workflow added to ``config.toml`` while it runs is known
to the engine, the New-job dialog and the door at once, the way the CLI (which reads the file
afresh) already knows it. Each read compares the file's stat signature (a few microseconds)
and re-reads the file only when it changed; a :class:`ConfigFollower` thread does the same
every two seconds (and at once when poked) so services hear of a change nobody asked about.
A config that does not load keeps the last good one, and its one-line error is the same text
the CLI prints for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config.settings import Settings, load_settings
from core.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_CHECK_SECONDS = 2.0
"""How often the follower compares the config file's signature: a safety net for hand edits,
since every edit flowtui makes pokes the engine, which then checks at once. An idle engine
wakes for it no more than this."""

Signature = tuple[int, int, int] | None
"""The config file's (mtime_ns, size, inode), or None when it does not exist."""


def config_signature(path: Path) -> Signature:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def missing_problem(config_file: Path) -> str:
    """Why a config file that was there and went is not read as all defaults."""
    return f"{config_file} was removed"


def restart_needed(started: Settings, current: Settings) -> list[str]:
    """The keys that differ from what this process started with and that it cannot change while
    it runs: its workers, sweeps and leases are built once, and its ledger and queue are open."""
    fixed = [
        ("[engine] workers", started.engine.workers, current.engine.workers),
        (
            "[engine] idle_sweep_seconds",
            started.engine.idle_sweep_seconds,
            current.engine.idle_sweep_seconds,
        ),
        ("[queue] backend", started.queue.backend, current.queue.backend),
        ("[queue] lease_seconds", started.queue.lease_seconds, current.queue.lease_seconds),
        (
            "[queue] leader_lease_seconds",
            started.queue.leader_lease_seconds,
            current.queue.leader_lease_seconds,
        ),
        ("[ledger] synchronous", started.ledger.synchronous, current.ledger.synchronous),
        ("[telegram] added or removed", started.telegram is None, current.telegram is None),
        # the notify service runs when the engine starts with channels; later edits apply live
        ("the first [[notify]] added", False, not started.notify and bool(current.notify)),
        ("[http] listen", started.http.listen, current.http.listen),
    ]
    return [name for name, before, after in fixed if before != after]


@dataclass(frozen=True)
class ConfigUpdate:
    """What a listener hears after the file changed: the settings before and now, and the problem."""

    previous: Settings
    current: Settings
    problem: str | None
    """The one-line error of the file on disk when it did not load (``current`` is then the
    last good config, unchanged), None when the file loaded."""

    @property
    def changed(self) -> bool:
        return self.previous != self.current


ConfigListener = Callable[[ConfigUpdate], None]


class LiveSettings:
    """The last good config of one file and the file's current problem, if any (see the module)."""

    def __init__(self, settings: Settings, config_file: Path | None) -> None:
        """``settings`` as loaded from ``config_file`` just now; None follows no file (a test's
        settings, a short CLI command that read the file itself)."""
        self.config_file = config_file
        self.started = settings
        """What this process started with: :meth:`restart_needed` compares against it."""
        self._settings = settings
        self._problem: str | None = None
        self._signature = config_signature(config_file) if config_file is not None else None
        self._lock = threading.Lock()
        self._listeners: list[ConfigListener] = []

    @classmethod
    def fixed(cls, settings: Settings) -> LiveSettings:
        return cls(settings, None)

    def current(self) -> Settings:
        """The settings to act on now: re-read first when the file changed since the last look."""
        self.refresh()
        return self._settings

    @property
    def problem(self) -> str | None:
        """Why the file on disk is not in use (one line), None when it is."""
        return self._problem

    def refresh_problem(self) -> str | None:
        """The file's problem as of now (looked at first), for a write that must refuse it."""
        self.refresh()
        return self._problem

    def restart_needed(self) -> list[str]:
        return restart_needed(self.started, self._settings)

    def header_note(self) -> str | None:
        """The config's part of the window's header: its error, or what waits for a restart."""
        self.refresh()
        if self._problem is not None:
            return f"config error: {self._problem} · using the last good config"
        pending = self.restart_needed()
        if pending:
            return "restart to apply: " + ", ".join(pending)
        return None

    def subscribe(self, listener: ConfigListener) -> Callable[[], None]:
        """Call ``listener`` after each change of the settings or the problem, on the thread that
        noticed it (the follower's, or any reader's): a listener only hands the update on."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def refresh(self) -> ConfigUpdate | None:
        """Look at the file; the update when the settings or the problem changed, else None."""
        if self.config_file is None:
            return None
        with self._lock:
            signature = config_signature(self.config_file)
            if signature == self._signature:
                return None
            self._signature = signature
            previous, previous_problem = self._settings, self._problem
            if signature is None:
                self._problem = missing_problem(self.config_file)
            else:
                try:
                    self._settings = load_settings(self.config_file)
                    self._problem = None
                except ConfigError as error:
                    self._problem = " ".join(str(error).split())
            update = ConfigUpdate(previous, self._settings, self._problem)
            if not update.changed and update.problem == previous_problem:
                return None
            listeners = list(self._listeners)
        self._log(update)
        for listener in listeners:
            try:
                listener(update)
            except Exception:  # one listener's bug must not keep the others from hearing
                log.exception("a config listener failed")
        return update

    def _log(self, update: ConfigUpdate) -> None:
        if update.problem is not None:
            log.warning("config error: %s · using the last good config", update.problem)
            return
        log.info("config changed: %s applied", self.config_file)
        pending = self.restart_needed()
        if pending:
            log.warning("config: restart to apply: %s", ", ".join(pending))


class ConfigFollower:
    """A thread that refreshes a :class:`LiveSettings` every two seconds and when poked, so its
    listeners hear a hand edit nobody asked about. One per process that runs services."""

    def __init__(self, live: LiveSettings, check_seconds: float = CONFIG_CHECK_SECONDS) -> None:
        self.live = live
        self._check_seconds = check_seconds
        self._poked = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscription: Callable[[], None] | None = None
        """A listener its owner subscribed for as long as the follower runs (ended by :meth:`stop`)."""

    def start(self) -> None:
        if self.live.config_file is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="flowtui-config", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Look now (``flowtui watch add`` edited the file and woke the engine)."""
        self._poked.set()

    def stop(self) -> None:
        if self.subscription is not None:
            self.subscription()
            self.subscription = None
        self._stopping.set()
        self._poked.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._poked.wait(self._check_seconds)
            self._poked.clear()
            if self._stopping.is_set():
                return
            try:
                self.live.refresh()
            except Exception:  # an unreadable disk for a moment: the next look tries again
                log.exception("reading the config failed")
