"""One ``[[watch]]`` at run time: ``watchfiles.awatch`` on its directory, re-armed as needed.

A watch follows its root through everything a tree can do: a root that does not exist yet
or was deleted is looked for every quarter second and watched again once it is back; a
root replaced by another directory, an unreadable directory that became readable, or a
burst big enough to overflow the kernel's queue leads to a re-arm or a rescan against
the snapshot, so no change is lost. Changes count once they settle (``settle_ms`` of
quiet): they are then compared with the snapshot, the running job's own are dropped,
and the rest go to the watch's :class:`~core.watch.batching.Dispatcher`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchfiles import Change

from core.clock import SYSTEM_CLOCK, Clock
from core.config.settings import WatchSettings
from core.config.watch_path import watch_key
from core.engine.service import Supersede
from core.events import EventBus, ServiceFailed
from core.jobs import Job
from core.ops.control import Control
from core.watch.activity import ActivityLog
from core.watch.batching import Dispatcher
from core.watch.content import ContentHashes, filtered_changes
from core.watch.hub import Subscription, WatcherKind, WatchHub
from core.watch.rules import GITIGNORE, VENV_MARKER, WatchRules
from core.watch.snapshot import SnapshotStore
from core.watch.status import WatchState, WatchStatus, describe_os_error
from core.watch.timing import timing_for, wait_any
from core.watch.tree import Comparison, WatchedTree

log = logging.getLogger(__name__)

MISSING_RETRY_SECONDS = 0.25
"""How often a missing root is looked for."""
ERROR_RETRY_SECONDS = 1.0
"""How often an unreadable root (or a symlink loop) is tried again."""
RESCAN_BURST = 2_000
"""A batch this large may have overflowed the kernel's queue (whose loss watchfiles does not
report): the tree is rescanned against the snapshot when it settles."""
SAVE_DELAY_SECONDS = 1.0
"""Snapshots are saved at most this often (and at stop)."""
POLL_RECHECK_SECONDS = 1.1
"""A polled watch looks again this long after a change settles (whole-second mtimes)."""
RECENT_JOBS = 16
"""How many of a watch's latest jobs are remembered (a change may still be from one of them)."""


@dataclass(frozen=True)
class WatchContext:
    """What every watch shares."""

    control: Control
    bus: EventBus
    store: SnapshotStore
    activities: ActivityLog
    hub: WatchHub
    """The shared watchers every watch is on."""
    report: Callable[[str, WatchStatus], None]
    """Where status changes go (the service's board, persisted in the ledger)."""
    supersede: Supersede | None = None
    """The engine's way to restart a run with the rest of its burst (``eager`` watches)."""
    clock: Clock = SYSTEM_CLOCK
    """The engine's clock: status times and the prompts' ``{now}``."""


class WatchTarget:
    """One watch's life: probe, arm, take changes, settle them, re-arm."""

    def __init__(self, settings: WatchSettings, context: WatchContext) -> None:
        self.settings = settings
        self.path = watch_key(settings.path)
        self._context = context
        self._timing = timing_for(settings.settle_ms)
        self._status = WatchStatus(state="starting", reason="not armed yet", since=self._context.clock.iso())
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._rules: WatchRules | None = None
        self._tree = WatchedTree(self.path, context.store)
        self._was_active = False
        self._pending: dict[str, float] = {}
        self._rescan_all = False
        self._in_burst = False
        """Changes arrived and have not settled yet."""
        self._timer: asyncio.TimerHandle | None = None
        self._save_timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._dispatcher: Dispatcher | None = None
        self._recheck: set[str] = set()
        """Paths a polled watch looks at again (see :meth:`_recheck_later`)."""
        self._recheck_timer: asyncio.TimerHandle | None = None
        self._hashes: ContentHashes | None = None
        """The files' last known bytes (``content_hash = true``)."""
        self.job_ids: tuple[int, ...] = ()
        """This watch's recent jobs and their follow-ups (workflow steps), newest last: their
        own changes are not triggers. Replaced whole, so other threads read it safely."""

    # -- life cycle --------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watch {self.path}")

    async def stop(self) -> None:
        """Stop watching; changes not settled yet are found again by the next start's rescan."""
        self._stop.set()
        if self._task is not None:
            await self._task
        for handle in (self._timer, self._save_timer, self._recheck_timer):
            if handle is not None:
                handle.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._dispatcher is not None:
            # A held-back early job must not wait for a burst this watch no longer sees end.
            async with self._lock:
                await asyncio.to_thread(self._dispatcher.burst_settled)
        await self._save()

    @property
    def status(self) -> WatchStatus:
        return self._status

    def knows(self, rel: str) -> bool:
        """Whether ``rel`` is in the snapshot: a burst that created it has settled and gone
        where the busy policy sends it (tests wait on this)."""
        return rel in self._tree.files

    @property
    def quiet(self) -> bool:
        """No burst is open: the last changes settled (tests wait on this)."""
        return not self._in_burst and not self._pending

    @property
    def held_paths(self) -> set[str]:
        """Changes waiting for this watch's running job to end."""
        return self._dispatcher.held_paths if self._dispatcher is not None else set()

    def wants(self, job: Job) -> bool:
        if job.id in self.job_ids:
            return True
        if job.parent_id is not None and job.parent_id in self.job_ids:
            self._remember_job(job.id)  # a step of this watch's job: its changes are its own too
            return True
        return False

    def _remember_job(self, job_id: int) -> None:
        self.job_ids = (*self.job_ids[-(RECENT_JOBS - 1) :], job_id)

    def job_changed(self, job: Job) -> None:
        """The engine reported a change of one of this watch's jobs (loop thread)."""
        self._spawn(self._hand_on(job))

    async def _hand_on(self, job: Job) -> None:
        async with self._lock:
            if self._dispatcher is None:
                return
            created = await asyncio.to_thread(self._dispatcher.job_changed, job)
            self._after_dispatch(created)

    # -- probing and arming ------------------------------------------------------

    async def _run(self) -> None:
        while not self._stop.is_set():
            layout = self._probe()
            if isinstance(layout, WatchStatus):
                self._set_status(layout.state, layout.reason)
                delay = MISSING_RETRY_SECONDS if layout.state == "missing" else ERROR_RETRY_SECONDS
                await self._sleep(delay)
                continue
            directory, only_file = layout
            try:
                await self._watch(self._rules_for(directory, only_file))
            except FileNotFoundError:
                continue  # gone between the probe and the arm: probe again
            except OSError as error:
                self._set_status("error", describe_os_error(error))
                await self._sleep(ERROR_RETRY_SECONDS)
            except ValueError as error:  # a glob pathspec refuses
                self._set_status("error", f"bad include/exclude pattern: {error}")
                await self._sleep(ERROR_RETRY_SECONDS)
            except Exception as error:  # a watch must report, never take the service down
                log.exception("watch %s failed", self.path)
                self._set_status("error", f"watcher failed: {error}")
                await self._sleep(ERROR_RETRY_SECONDS)

    def _probe(self) -> tuple[Path, str | None] | WatchStatus:
        """Where to watch (the directory, and the file when the root is a file), or why not."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            if not self._tree.ready:
                self._tree.start_empty()
            reason = "was deleted" if self._was_active else "does not exist yet"
            return WatchStatus(state="missing", reason=f"{reason}: watched again once it appears")
        except OSError as error:
            return WatchStatus(state="error", reason=describe_os_error(error))
        if stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(self.path):
                    pass
            except OSError as error:
                return WatchStatus(state="error", reason=describe_os_error(error))
            return Path(self.path), None
        parent = Path(self.path).parent
        return parent, Path(self.path).name

    def _rules_for(self, directory: Path, only_file: str | None) -> WatchRules:
        rules = self._rules
        if rules is None or rules.directory != directory or rules.only_file != only_file:
            rules = WatchRules(
                directory,
                include=self.settings.include,
                exclude=self.settings.exclude,
                recursive=self.settings.recursive,
                only_file=only_file,
            )
            self._rules = rules
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                self.settings,
                self.path,
                directory,
                self._context.control,
                self._context.bus,
                now=self._context.clock.local,
                supersede=self._context.supersede,
            )
        self._dispatcher.directory = directory
        if self.settings.content_hash and (self._hashes is None or self._hashes.directory != directory):
            self._hashes = ContentHashes(directory)
        return rules

    async def _watch(self, rules: WatchRules) -> None:
        """Watch until stopped or until the root needs probing again."""
        inbox: asyncio.Queue[set[tuple[Change, str]] | BaseException | None] = asyncio.Queue()
        subscription = Subscription(
            directory=str(rules.directory),
            kind=WatcherKind(
                recursive=rules.recursive,
                poll_interval_ms=self.settings.poll_interval_ms if self.settings.poll else None,
            ),
            deliver=inbox.put_nowait,
            fail=inbox.put_nowait,
        )
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            armer = asyncio.ensure_future(self._context.hub.arm(subscription))
            arming: set[asyncio.Future[Any]] = {armer, stopper}
            done, _ = await asyncio.wait(arming, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                armer.cancel()
                await asyncio.gather(armer, return_exceptions=True)
                return
            armer.result()  # the watcher is armed (or this raises why not)
            armed = os.stat(rules.directory)
            await self._rescan_on_arm(rules)
            while True:
                getter = asyncio.ensure_future(inbox.get())
                waiting: set[asyncio.Future[Any]] = {getter, stopper}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    getter.cancel()
                    return
                item = getter.result()
                if isinstance(item, BaseException):
                    raise item
                arrived = time.monotonic()
                changes = item or set()
                if len(changes) >= RESCAN_BURST:
                    self._rescan_all = True
                if self._intake(rules, changes, arrived) or not _same_directory(rules.directory, armed):
                    self._rescan_all = True
                    self._schedule_settle()
                    return
        finally:
            stopper.cancel()
            self._context.hub.disarm(subscription)

    async def _rescan_on_arm(self, rules: WatchRules) -> None:
        async with self._lock:
            changed = await asyncio.to_thread(self._scan_on_arm, rules)
        problems = self._tree.problems
        if problems:
            noun = "directory" if len(problems) == 1 else "directories"
            self._set_status("active", f"{len(problems)} {noun} cannot be read: {'; '.join(problems[:3])}")
        else:
            self._set_status("active", "")
        if changed:
            now = time.monotonic()
            for rel in changed:
                self._pending.setdefault(rel, now)
            self._schedule_settle()
        self._recheck_later(self._tree.recent(POLL_RECHECK_SECONDS * 2))

    def _scan_on_arm(self, rules: WatchRules) -> list[str]:
        changed = self._tree.scan_on_arm(rules)
        if self._hashes is not None:
            # What changed while nobody watched is judged by its bytes before, which are gone:
            # it counts (no hash), and is hashed when it settles.
            moved = set(changed)
            self._hashes.learn(rel for rel in self._tree.files if rel not in moved)
        return changed

    # -- taking changes ----------------------------------------------------------

    def _intake(self, rules: WatchRules, changes: set[tuple[Change, str]], arrived: float) -> bool:
        """Note the changes that count; True when the watch must be re-armed."""
        rearm = False
        directory = str(rules.directory)
        real_parents: dict[str, str] = {}
        accepted = 0
        for change, path in changes:
            if path == directory:
                rearm = rearm or change == Change.deleted
                continue
            parent, name = os.path.split(path)
            real_parent = real_parents.get(parent)
            if real_parent is None:
                # notify follows symlinked directories and may report a path through a link.
                real_parent = real_parents[parent] = os.path.realpath(parent)
            rel = rules.relative(os.path.join(real_parent, name))
            if rel is None:
                continue
            if name in (GITIGNORE, VENV_MARKER):
                rules.forget(rel)
            if rel in self._tree.problem_dirs:
                rearm = True  # its permissions changed: notify must add its watches
            is_dir = os.path.isdir(os.path.join(real_parent, name))
            if not rules.counts(rel, is_dir):
                continue
            self._pending[rel] = arrived
            accepted += 1
        if accepted:
            self._status = WatchStatus(
                state=self._status.state,
                reason=self._status.reason,
                last_event=self._context.clock.iso(),
                since=self._status.since,
            )
            self._context.report(self.path, self._status)
        if accepted:
            self._in_burst = True
            if self.settings.eager:
                self._spawn(self._settle_early())
        if accepted or self._rescan_all:
            self._schedule_settle()
        return rearm

    def _schedule_settle(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._timing.wait_seconds, lambda: self._spawn(self._settle()))

    async def _settle_early(self) -> None:
        """Changes on an idle watch queue its job at once (``eager``); on a busy one they wait
        for the settle, and a run of this burst that Claude has not answered is superseded."""
        async with self._lock:
            rules = self._rules
            if rules is None or self._dispatcher is None or not self._pending or self._rescan_all:
                return
            pending, self._pending = self._pending, {}
            taken, created = await asyncio.to_thread(self._early_in_thread, rules, pending)
            if not taken:
                self._pending = {**pending, **self._pending}
                return
            self._after_dispatch(created)
        self._schedule_save()

    async def _settle(self) -> None:
        async with self._lock:
            closing, self._in_burst = self._in_burst, False
            if not self._pending and not self._rescan_all and not closing:
                return
            rules = self._rules
            if rules is None or self._dispatcher is None:
                return
            pending, self._pending = self._pending, {}
            rescan, self._rescan_all = self._rescan_all, False
            created = await asyncio.to_thread(self._settle_in_thread, rules, pending, rescan)
            self._after_dispatch(created)
        self._recheck_later(pending)
        self._schedule_save()

    # -- the polling watcher's blind second ------------------------------------------

    def _recheck_later(self, rels: Iterable[str]) -> None:
        """A polled watch looks at these paths again a little later: watchfiles' poller
        compares whole seconds of mtime, so a second change within the second of the last one
        (or of the tree's scan) raises nothing; the snapshot's nanoseconds see it."""
        if not self.settings.poll:
            return
        self._recheck.update(rels)
        if self._recheck and self._recheck_timer is None:
            loop = asyncio.get_running_loop()
            self._recheck_timer = loop.call_later(
                POLL_RECHECK_SECONDS, lambda: self._spawn(self._recheck_now())
            )

    async def _recheck_now(self) -> None:
        self._recheck_timer = None
        rels, self._recheck = self._recheck, set()
        rules = self._rules
        if rules is None or self._stop.is_set():
            return
        async with self._lock:
            moved = await asyncio.to_thread(self._tree.differing, rules, rels)
        if moved:
            now = time.monotonic()
            for rel in moved:
                self._pending.setdefault(rel, now)
            self._in_burst = True
            self._schedule_settle()

    def _early_in_thread(self, rules: WatchRules, pending: dict[str, float]) -> tuple[bool, Job | None]:
        assert self._dispatcher is not None
        if not self._dispatcher.idle():
            self._dispatcher.hold_back()
            return False, None
        comparison, counted = self._count(rules, pending, rescan=False)
        created = self._dispatcher.start_early(counted)
        self._tree.commit(comparison)
        return True, created

    def _settle_in_thread(self, rules: WatchRules, pending: dict[str, float], rescan: bool) -> Job | None:
        assert self._dispatcher is not None
        created = None
        if pending or rescan:
            comparison, counted = self._count(rules, pending, rescan)
            created = self._dispatcher.settled(counted)
            self._tree.commit(comparison)
        released = self._dispatcher.burst_settled()
        return created or released

    def _count(
        self, rules: WatchRules, pending: dict[str, float], rescan: bool
    ) -> tuple[Comparison, dict[str, str]]:
        """Compare the paths with the snapshot and drop the changes the watch's own job made
        and those its ``events`` and ``content_hash`` filter out."""
        comparison = self._tree.compare(rules, pending, rescan, time.monotonic())
        # Every change moves the hashes on (a job's own write too), then the filters drop some.
        wanted = filtered_changes(comparison.changes, self.settings.events, self._hashes)
        counted = {
            rel: kind
            for rel, kind in wanted.items()
            if not self._made_by_own_job(str(rules.directory / rel), comparison.arrivals[rel])
        }
        if len(counted) < len(wanted):
            dropped = len(wanted) - len(counted)
            log.info("watch %s: %d change(s) made by its own job ignored", self.path, dropped)
        return comparison, counted

    def _made_by_own_job(self, path: str, arrived: float) -> bool:
        if self.settings.self_trigger or not self.job_ids:
            return False
        return self._context.activities.owns(self.job_ids, path, arrived, self._timing.delivery_seconds)

    def _after_dispatch(self, created: Job | None) -> None:
        assert self._dispatcher is not None
        if created is not None and created.id not in self.job_ids:
            self._remember_job(created.id)
        problem = self._dispatcher.problem
        if problem is not None:
            # A job could not be queued (an unknown workflow, a missing cwd): say so on the watch.
            self._set_status("error", problem)
        elif created is not None and self._status.state == "error":
            self._set_status("active", "")
        self._tree.keep_pre_images(self._dispatcher.held_paths)

    # -- snapshots, status ---------------------------------------------------------

    def _schedule_save(self) -> None:
        if self._save_timer is None:
            loop = asyncio.get_running_loop()
            self._save_timer = loop.call_later(SAVE_DELAY_SECONDS, lambda: self._spawn(self._save()))

    async def _save(self) -> None:
        self._save_timer = None
        async with self._lock:
            if self._rules is not None and self._tree.ready:
                await asyncio.to_thread(self._tree.save, self._rules, self.held_paths)

    def _set_status(self, state: WatchState, reason: str) -> None:
        current = self._status
        self._was_active = self._was_active or state == "active"
        if current.state == state and current.reason == reason:
            return
        self._status = WatchStatus(
            state=state,
            reason=reason,
            last_event=current.last_event,
            since=self._context.clock.iso() if current.state != state else current.since,
        )
        self._context.report(self.path, self._status)
        if state in ("missing", "error"):
            log.warning("watch %s: %s: %s", self.path, state, reason)
            self._context.bus.publish(ServiceFailed(name=f"watch {self.path}", reason=f"{state}: {reason}"))
        elif current.state != state:
            log.info("watch %s: %s", self.path, state)

    # -- helpers ---------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sleep(self, seconds: float) -> None:
        await wait_any(self._stop, timeout=seconds)


def _same_directory(directory: Path, armed: os.stat_result) -> bool:
    try:
        now = os.stat(directory)
    except OSError:
        return False
    return (now.st_ino, now.st_dev) == (armed.st_ino, armed.st_dev)
