"""The engine service that runs every ``[[watch]]`` and follows the config file.

All watches share one asyncio loop in one thread, and one watchfiles watcher per kind
(native or polled at an interval, see :mod:`core.watch.hub`). ``flowtui watch add/rm`` edit
``config.toml`` and poke the engine; the engine's config holder (``core.config.live``, which
also checks the file every two seconds, for hand edits) tells this service, which starts, stops
or restarts only the watches that changed, so the others keep every event. A config that
does not load leaves the running watches as they are and is reported in one line on the
event bus and in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from core.config.live import ConfigUpdate
from core.config.settings import WatchSettings
from core.config.watch_path import watch_key
from core.engine.service import ServiceContext
from core.events import Event, JobChanged, JobOutput, ServiceFailed, ServiceStateChanged
from core.jobs import Job, JobSource, JobState
from core.ledger.store import LedgerStore
from core.watch.activity import ActivityLog
from core.watch.hub import WatchHub
from core.watch.snapshot import SnapshotStore
from core.watch.status import WatchStatus, write_statuses
from core.watch.watcher import WatchContext, WatchTarget

log = logging.getLogger(__name__)

STATUS_WRITE_DELAY = 0.2
"""Status changes are written to the ledger at most this often."""


class StatusBoard:
    """Every watch's status, written to the ledger shortly after it changes."""

    def __init__(self, ledger: LedgerStore, on_written: Callable[[], None] = lambda: None) -> None:
        self._ledger = ledger
        self._on_written = on_written
        """Called after each write, so a window in this process shows the new statuses."""
        self._statuses: dict[str, WatchStatus] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None

    def report(self, path: str, status: WatchStatus) -> None:
        self._statuses[path] = status
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._handle = loop.call_later(STATUS_WRITE_DELAY, self._write_soon)

    def forget(self, path: str) -> None:
        if self._statuses.pop(path, None) is not None:
            self.report_all()

    def report_all(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(STATUS_WRITE_DELAY, self._write_soon)

    def _write_soon(self) -> None:
        self._handle = None
        statuses = dict(self._statuses)
        self._writing = asyncio.ensure_future(asyncio.to_thread(write_statuses, self._ledger, statuses))
        self._writing.add_done_callback(lambda _: self._on_written())

    async def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        await asyncio.to_thread(write_statuses, self._ledger, dict(self._statuses))


class WatchService:
    """Runs the configured watches beside the workers (see the module docstring)."""

    name = "watch"

    def __init__(self) -> None:
        self._activities = ActivityLog()
        self.hub = WatchHub()
        """The shared watchers (one per kind, for every watch): see :mod:`core.watch.hub`."""
        self._targets: dict[str, WatchTarget] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_config: Callable[[], None] | None = None
        self._applying: asyncio.Future[None] | None = None
        """The config update being applied; the next one waits for it."""
        self._context: ServiceContext | None = None
        self._board: StatusBoard | None = None
        self._failure: BaseException | None = None

    # -- the Service protocol ------------------------------------------------------

    def start(self, context: ServiceContext) -> None:
        self._context = context
        # watchfiles logs every batch at INFO: the job rows already say what changed.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run_loop, name="flowtui-watch", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._failure is not None:
            raise RuntimeError(f"the watcher did not start: {self._failure}") from self._failure
        self._unsubscribe = context.bus.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def statuses(self) -> dict[str, WatchStatus]:
        """The current status of each watch (for tests and an in-process UI)."""
        return {path: target.status for path, target in self._targets.items()}

    def target(self, path: str) -> WatchTarget | None:
        """The running watch on ``path`` (any spelling of it), if any."""
        return self._targets.get(watch_key(path))

    # -- the loop ------------------------------------------------------------------

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to start(), or logged once running
            self._failure = error
            log.exception("the watch service stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        assert self._context is not None
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self.hub = WatchHub()
        bus = self._context.bus
        self._board = StatusBoard(self._context.ledger, lambda: bus.publish(ServiceStateChanged(self.name)))
        # Subscribed before the first read, so an edit between the two is not missed.
        self._unsubscribe_config = self._context.live.subscribe(
            lambda update: self._call_soon(self._config_updated, update)
        )
        await self._apply(self._context.settings.watch)
        self._ready.set()
        await self._stopping.wait()
        if self._applying is not None:
            await asyncio.gather(self._applying, return_exceptions=True)
        await asyncio.gather(*(target.stop() for target in self._targets.values()))
        await self.hub.close()
        await self._board.flush()

    async def _apply(self, watches: list[WatchSettings]) -> None:
        """Make the running watches match the config: only changed ones restart."""
        assert self._context is not None and self._board is not None
        given = self._context
        wanted: dict[str, WatchSettings] = {}
        for watch in watches:
            key = watch_key(watch.path)
            if key in wanted:
                self._report_problem(f"{key} is watched twice in the config: the second [[watch]] is ignored")
                continue
            wanted[key] = watch
        for key, target in list(self._targets.items()):
            if wanted.get(key) != target.settings:
                del self._targets[key]
                await target.stop()
                self._board.forget(key)
        watch_context = WatchContext(
            control=given.control,
            bus=given.bus,
            store=SnapshotStore(given.paths.watch_snapshots_dir),
            activities=self._activities,
            hub=self.hub,
            report=self._board.report,
            supersede=given.supersede,
            clock=given.clock,
        )
        for key, watch in wanted.items():
            if key in self._targets:
                continue
            if not watch.enabled:
                disabled = WatchStatus(state="disabled", reason="enabled = false", since=given.clock.iso())
                self._board.report(key, disabled)
                continue
            target = WatchTarget(watch, watch_context)
            self._targets[key] = target
            target.start()

    def _config_updated(self, update: ConfigUpdate) -> None:
        """In the loop: the holder read a new config (or could not)."""
        if self._stopping is None or self._stopping.is_set():
            return
        if update.problem is not None:
            self._report_problem(
                f"config not applied, the watches keep running as they are: {update.problem}"
            )
            return
        if update.previous.watch == update.current.watch:
            return
        log.info("config changed: applying %d watch(es)", len(update.current.watch))
        previous = self._applying
        self._applying = asyncio.ensure_future(self._apply_after(previous, update.current.watch))

    async def _apply_after(self, previous: asyncio.Future[None] | None, watches: list[WatchSettings]) -> None:
        """Updates apply one after another, in the order the holder read them."""
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self._apply(watches)

    def _report_problem(self, reason: str) -> None:
        assert self._context is not None
        log.warning("%s", reason)
        self._context.bus.publish(ServiceFailed(name=self.name, reason=reason))

    # -- engine events (any thread) --------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobOutput):
            self._activities.output(event.job_id, event.events, time.monotonic())
        elif isinstance(event, JobChanged) and event.job.source == JobSource.WATCH:
            job = event.job
            now = time.monotonic()
            if job.state is JobState.RUNNING:
                if not self._activities.running(job.id):
                    self._activities.started(job.id, job.cwd, now)
            else:
                self._activities.ended(job.id, now)
            self._call_soon(self._route_job, job)

    def _route_job(self, job: Job) -> None:
        for target in self._targets.values():
            if target.wants(job):
                target.job_changed(job)

    def _call_soon(self, callback: object, *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the service is stopping
            loop.call_soon_threadsafe(callback, *args)  # type: ignore[arg-type]
