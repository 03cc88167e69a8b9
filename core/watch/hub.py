"""One watchfiles watcher for every watched root, with each change handed to the watches it is in.

watchfiles' Rust loop wakes once a step whatever happens, so a watcher per watch made an idle
engine's cost grow with every watch. Here the watches share one watcher per kind: every
native (inotify) root of the same recursiveness on one, and the polled roots of one interval
on one. A change goes to every watch whose directory holds it (a watch inside another's
root gets it too; a root inside another recursive root is not watched twice).

The set of paths is fixed per watcher, so a watch that arms or goes re-arms its kind's
watcher: the new one is armed before the old one stops, so the other watches miss nothing
in between (a change both see is handed on twice, which the watches' snapshots absorb).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field

from watchfiles import Change, awatch

from core.watch.timing import SHARED_STEP_MS

log = logging.getLogger(__name__)

Changes = set[tuple[Change, str]]
OVERLAP_MARGIN_SECONDS = 0.1
"""Thread hand-offs on a loaded machine, on top of a replaced watcher's longest hold."""
TICK_MS = 5_000
"""How often a quiet watcher says so (each watch then checks that its root is still the
directory it armed: one replaced by another directory raises no event of its own)."""


@dataclass(frozen=True)
class WatcherKind:
    """Which shared watcher a watch is on."""

    recursive: bool
    poll_interval_ms: int | None = None
    """None: the kernel's notifications; else polling at this interval."""

    def describe(self) -> str:
        how = "native" if self.poll_interval_ms is None else f"polling every {self.poll_interval_ms} ms"
        return f"{how}, {'recursive' if self.recursive else 'not recursive'}"


@dataclass(eq=False)
class Subscription:
    """One watch's place on a shared watcher: its directory and where its changes go."""

    directory: str
    kind: WatcherKind
    deliver: Callable[[Changes | None], None]
    """Changes under ``directory`` (None: a quiet tick)."""
    fail: Callable[[BaseException], None]
    """The watcher it was on failed: the watch re-arms."""
    armed: asyncio.Future[None] | None = field(default=None, repr=False)


@dataclass(eq=False)
class _Run:
    """One watchfiles watcher over a fixed set of paths."""

    paths: frozenset[str]
    stop_event: asyncio.Event
    task: asyncio.Task[None] | None = None


class _SharedWatcher:
    """The watcher of one kind and the subscriptions it serves."""

    def __init__(self, kind: WatcherKind, step_ms: int) -> None:
        self.kind = kind
        self._step_ms = step_ms
        self.subscriptions: list[Subscription] = []
        self._by_directory: dict[str, list[Subscription]] = {}
        self._run: _Run | None = None
        self._fresh_wanted = False
        self._retiring: set[_Run] = set()
        """Replaced watchers still delivering what they saw before their successor armed."""
        self._restart: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.restarts = 0
        """How many watchers this kind has started (tests and the log read it)."""

    @property
    def paths(self) -> frozenset[str]:
        return self._run.paths if self._run is not None else frozenset()

    def add(self, subscription: Subscription) -> None:
        self.subscriptions.append(subscription)
        # Armed afresh even when its directory is watched already: a watch re-arms because
        # the kernel's watches no longer cover its tree (a directory became readable).
        self._fresh_wanted = True
        self._index()
        self._schedule()

    def remove(self, subscription: Subscription) -> None:
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)
            self._index()
            self._schedule()

    def _index(self) -> None:
        by_directory: dict[str, list[Subscription]] = {}
        for subscription in self.subscriptions:
            by_directory.setdefault(subscription.directory, []).append(subscription)
        self._by_directory = by_directory

    def _schedule(self) -> None:
        if self._restart is None or self._restart.done():
            self._restart = asyncio.ensure_future(self._apply())

    def wanted_paths(self) -> frozenset[str]:
        directories = sorted({subscription.directory for subscription in self.subscriptions})
        if not self.kind.recursive:
            return frozenset(directories)
        roots: list[str] = []
        for directory in directories:  # sorted: a parent comes before what it holds
            if not any(_inside(directory, root) for root in roots):
                roots.append(directory)
        return frozenset(roots)

    async def _apply(self) -> None:
        # The watches armed in the same turns of the loop (an engine starting, a config
        # reload) share one restart.
        for _ in range(3):
            await asyncio.sleep(0)
        async with self._lock:
            while True:
                wanted = self.wanted_paths()
                if self._run is not None and self._run.paths == wanted and not self._fresh_wanted:
                    break
                if not wanted:
                    self._retire(self._run)
                    self._run = None
                    break
                waiting = [s for s in self.subscriptions if s.armed is not None and not s.armed.done()]
                self._fresh_wanted = False
                try:
                    started = await self._start(wanted)
                except Exception as error:  # OSError, or watchfiles' own error: blame the paths
                    self._refuse(error, waiting)
                    continue
                old, self._run = self._run, started
                self._retire(old, after=self._overlap_seconds())
            for subscription in self.subscriptions:
                if subscription.armed is not None and not subscription.armed.done():
                    subscription.armed.set_result(None)

    def _overlap_seconds(self) -> float:
        """How long an old watcher outlives its successor: a watcher that is stopped drops the
        changes it has not delivered yet, so it stops only once everything it saw before the
        new one was armed has been delivered (they are then seen twice, harmlessly)."""
        return (self._step_ms * 3) / 1000 + OVERLAP_MARGIN_SECONDS

    def _retire(self, run: _Run | None, after: float = 0.0) -> None:
        if run is None:
            return
        self._retiring.add(run)
        if after <= 0:
            run.stop_event.set()
        else:
            asyncio.get_running_loop().call_later(after, run.stop_event.set)
        if run.task is not None:
            run.task.add_done_callback(lambda _: self._retiring.discard(run))

    def _refuse(self, error: BaseException, waiting: list[Subscription]) -> None:
        """A watcher could not be armed over these paths: the subscriptions whose directory
        cannot be watched (or, when none can be told apart, the new ones) hear why and go."""
        culprits = [s for s in self.subscriptions if not _watchable(s.directory)]
        if not culprits:
            culprits = waiting or list(self.subscriptions)
        log.info("a %s watcher could not start: %s", self.kind.describe(), error)
        for subscription in culprits:
            self.subscriptions.remove(subscription)
            if subscription.armed is not None and not subscription.armed.done():
                subscription.armed.set_exception(error)
            else:
                subscription.fail(error)
        self._index()

    async def _start(self, paths: frozenset[str]) -> _Run:
        polling = self.kind.poll_interval_ms
        stop_event = asyncio.Event()
        stream = awatch(
            *sorted(paths),
            watch_filter=None,
            debounce=self._step_ms,
            step=self._step_ms,
            stop_event=stop_event,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            recursive=self.kind.recursive,
            ignore_permission_denied=True,
            force_polling=polling is not None,
            poll_delay_ms=polling if polling is not None else 300,
        )
        first: asyncio.Future[Changes] = asyncio.ensure_future(anext(stream))
        # One turn of the loop runs the generator up to its first wait: the watcher is armed
        # (or failed) before the watches scan their trees, so nothing falls in between.
        await asyncio.sleep(0)
        if first.done():
            try:
                first.result()
            except StopAsyncIteration:
                raise RuntimeError("the watcher ended as it started") from None
        run = _Run(paths=paths, stop_event=stop_event)
        run.task = asyncio.ensure_future(self._pump(run, stream, first))
        self.restarts += 1
        log.debug("%s watcher on %d path(s)", self.kind.describe(), len(paths))
        return run

    async def _pump(
        self, run: _Run, stream: AsyncGenerator[Changes, None], first: asyncio.Future[Changes]
    ) -> None:
        next_batch = first
        try:
            while True:
                try:
                    changes = await next_batch
                except StopAsyncIteration:
                    return
                self._dispatch(changes)
                next_batch = asyncio.ensure_future(anext(stream))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the watcher broke: every watch on it re-arms
            log.warning("the %s watcher failed: %s", self.kind.describe(), error)
            if self._run is run:
                self._run = None
                failed, self.subscriptions = self.subscriptions, []
                self._index()
                for subscription in failed:
                    subscription.fail(error)
        finally:
            run.stop_event.set()
            await asyncio.gather(next_batch, return_exceptions=True)
            with contextlib.suppress(Exception):
                await stream.aclose()

    def _dispatch(self, changes: Changes) -> None:
        if not changes:
            for subscription in list(self.subscriptions):
                subscription.deliver(None)
            return
        by_directory = self._by_directory
        shares: dict[int, tuple[Subscription, Changes]] = {}
        real_parents: dict[str, str] = {}
        for change in changes:
            path = change[1]
            parent = os.path.dirname(path)
            real_parent = real_parents.get(parent)
            if real_parent is None:
                # notify follows symlinked directories: a path may come through a link.
                real_parent = real_parents[parent] = os.path.realpath(parent)
            spellings = [path]
            if real_parent != parent:
                spellings.append(os.path.join(real_parent, os.path.basename(path)))
            for spelling in spellings:
                for directory in _self_and_ancestors(spelling):
                    for subscription in by_directory.get(directory, ()):
                        shares.setdefault(id(subscription), (subscription, set()))[1].add(change)
        for subscription, share in shares.values():
            subscription.deliver(share)

    async def close(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            await asyncio.gather(self._restart, return_exceptions=True)
        runs = [*self._retiring, *([self._run] if self._run is not None else [])]
        self._run = None
        for run in runs:
            run.stop_event.set()
        await asyncio.gather(*(run.task for run in runs if run.task is not None), return_exceptions=True)


class WatchHub:
    """The shared watchers of one watch service (one asyncio loop)."""

    def __init__(self, step_ms: int = SHARED_STEP_MS) -> None:
        self._step_ms = step_ms
        self._watchers: dict[WatcherKind, _SharedWatcher] = {}

    async def arm(self, subscription: Subscription) -> None:
        """Put ``subscription`` on its kind's watcher; returns once that watcher covers its
        directory, or raises why it cannot be watched."""
        watcher = self._watchers.get(subscription.kind)
        if watcher is None:
            watcher = self._watchers[subscription.kind] = _SharedWatcher(subscription.kind, self._step_ms)
        subscription.armed = asyncio.get_running_loop().create_future()
        watcher.add(subscription)
        try:
            await asyncio.shield(subscription.armed)
        except asyncio.CancelledError:
            watcher.remove(subscription)
            raise

    def disarm(self, subscription: Subscription) -> None:
        """Take ``subscription`` off its watcher (which re-arms without it, soon)."""
        watcher = self._watchers.get(subscription.kind)
        if watcher is not None:
            watcher.remove(subscription)

    def watched_paths(self) -> dict[WatcherKind, frozenset[str]]:
        """What each shared watcher watches now (tests and ``doctor`` read it)."""
        return {kind: watcher.paths for kind, watcher in self._watchers.items() if watcher.paths}

    def restarts(self) -> int:
        return sum(watcher.restarts for watcher in self._watchers.values())

    async def close(self) -> None:
        await asyncio.gather(*(watcher.close() for watcher in self._watchers.values()))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _self_and_ancestors(path: str) -> Iterable[str]:
    yield path
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return
        yield parent
        path = parent


def _watchable(directory: str) -> bool:
    try:
        with os.scandir(directory):
            return True
    except OSError:
        return False
