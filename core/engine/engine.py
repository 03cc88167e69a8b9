"""The engine: recovers what a crash left, runs the workers, and turns runs into ledger rows.

One engine runs per data dir (an flock held for its lifetime). At start it takes back what a
dead engine left (``recovery``), reads the pause (``pause``) and starts its workers, services
and the threads that listen for changes made elsewhere.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.claude.environment import job_environment, secret_values
from core.claude.runner import ClaudeRunner, RunControl
from core.clock import SYSTEM_CLOCK, Clock
from core.config.live import ConfigFollower, ConfigUpdate, LiveSettings
from core.config.settings import Settings
from core.engine.attempt import Runner, deliver_inputs, run_attempt
from core.engine.leases import LeaseKeeper
from core.engine.outcomes import ENGINE_STOPPED, Outcomes
from core.engine.pause import PauseKeeper
from core.engine.recovery import recover
from core.engine.service import Service, ServiceContext
from core.errors import ConfigError, log_failure
from core.events import EventBus, JobChanged, ServiceFailed, SharedStateChanged
from core.jobs import Job, JobState, RunOutcome
from core.ledger.store import LedgerStore, open_ledger
from core.ops.control import Control
from core.ops.spool import drain_spool
from core.paths import Paths, machine_name
from core.queue.transport import JobQueue
from core.queue.workers import WorkerPool
from core.wake.changes import Change, EngineNotifier, change_notifier
from core.wake.doorbell import Doorbell, PokeListener
from core.wake.lock import EngineLock

if TYPE_CHECKING:
    from core.wake.leader import LeaderLease
    from core.wake.redis_channel import RedisChangeListener

log = logging.getLogger(__name__)

_ENGINES_IN_PROCESS = itertools.count(1)
LEADER_ONLY_SERVICES = frozenset({"telegram", "notify", "schedules", "retention"})
"""Services that must run on exactly one engine when several share a Redis queue."""
SUPERSEDE_WAIT_SECONDS = 10.0
"""How long a watch waits for a superseded run to end (its reader notices within 0.2 s)."""


class EngineNotStarted(RuntimeError):
    """The engine's ledger, queue or operations were asked for before :meth:`Engine.start`."""


@dataclass(frozen=True)
class Started:
    """What exists only while the engine runs, built together by :meth:`Engine.start`, so the
    code that runs after it never asks whether each part is there yet."""

    ledger: LedgerStore
    queue: JobQueue
    control: Control
    pause: PauseKeeper
    outcomes: Outcomes
    leases: LeaseKeeper
    listener: PokeListener
    """Pokes from this machine's other processes, and the idle sweep."""
    pool: WorkerPool
    service_context: ServiceContext
    announce: EngineNotifier | None
    """Tells other machines of a change (with Redis only; alone, they read the ledger file)."""
    redis_listener: RedisChangeListener | None
    """Other machines' changes (with Redis only)."""
    leader: LeaderLease | None
    """Which engine runs the leader-only services (with Redis and such a service only)."""


class Engine:
    """One data dir's engine: its workers, its services, and what happens to each run."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        environ: Mapping[str, str] | None = None,
        runner: Runner | None = None,
        bus: EventBus | None = None,
        services: Sequence[Service] = (),
        clock: Clock = SYSTEM_CLOCK,
        live: LiveSettings | None = None,
    ) -> None:
        self.live = live or LiveSettings(settings, paths.config_file)
        """The config as it is now, shared with the door, the services and the window (``live``
        when the window made it); its follower runs while the engine does."""
        self._follower = ConfigFollower(self.live)
        self.clock = clock
        """The one wall clock of this engine: its ledger, queue, services and runs read it."""
        self.paths = paths
        self.bus = bus or EventBus()
        env = dict(os.environ if environ is None else environ)
        self._builds_runner = runner is None
        self.runner: Runner = runner or self._claude_runner(settings, env)
        self.doorbell = Doorbell()
        self.environ = env
        self.services = list(services)
        self._started_services: list[Service] = []
        self._lock = EngineLock(paths.engine_lock, clock)
        self._running: dict[int, RunControl] = {}
        self._running_lock = threading.Lock()
        self._stopping = False
        self.owner_host = machine_name(env)
        self.redis_url = settings.queue_url(env)
        self._started_parts: Started | None = None
        self._unsubscribe_config: Callable[[], None] | None = None

    @property
    def settings(self) -> Settings:
        """The config as it is now (the last good one while the file does not load)."""
        return self.live.current()

    def _claude_runner(self, settings: Settings, environ: Mapping[str, str]) -> ClaudeRunner:
        return ClaudeRunner(
            command=settings.claude_command(environ),
            environ=job_environment(environ, settings),
            kill_grace_seconds=settings.claude.kill_grace_seconds,
            max_line_bytes=settings.claude.max_line_bytes,
            clock=self.clock,
            secret_values=secret_values(environ, settings),
        )

    def _config_changed(self, update: ConfigUpdate) -> None:
        """The next attempts run with the new ``[claude]`` settings (and secrets kept out of
        their environment); the window re-reads what it shows (the header names a problem)."""
        if update.changed and self._builds_runner:
            self.runner = self._claude_runner(update.current, self.environ)
        self.bus.publish(SharedStateChanged())

    # -- life cycle --------------------------------------------------------------

    def start(self) -> None:
        """Take the engine lock, recover, and start taking jobs. Raises EngineBusy."""
        self.paths.ensure_data_dir()
        self._lock.acquire()
        try:
            self._started_parts = started = self._build()
            recover(
                started.ledger,
                started.queue,
                started.control.handoff,
                owner_host=self.owner_host,
                kill_grace_seconds=self.settings.claude.kill_grace_seconds,
                sweep=self._sweep,
            )
            started.pause.refresh()
            if started.redis_listener is not None:
                started.redis_listener.start()
            started.leases.start()
            started.listener.start()
            started.pool.start()
            self._unsubscribe_config = self.live.subscribe(self._config_changed)
            self._follower.start()
        except BaseException:
            if self._started_parts is not None:
                self._started_parts.pause.stop()  # no timer may resume the queue of an engine that never ran
            self._started_parts = None
            self._lock.release()
            raise
        self._start_services([service for service in self.services if not self._leader_only(service)])
        if started.leader is not None:
            started.leader.start()
        log.info("engine started (pid %s, %s workers)", os.getpid(), self.settings.engine.workers)

    def _build(self) -> Started:
        """Every part of a running engine, none of its threads started yet."""
        ledger = open_ledger(self.settings, self.paths, self.environ, self.clock)
        queue = JobQueue(self.paths.queue_db, self.redis_url, self.clock)
        queue.bind(self._run_job, on_scheduled=self._wake_scheduler)
        control = Control(
            self.live, ledger, queue, self._on_local_change, paths=self.paths, machine=self.owner_host
        )
        pause = PauseKeeper(
            control,
            self.clock,
            on_adopted=self.bus.publish,
            on_written=lambda: self._changed_here(Change.PAUSE),
        )
        redis_listener = None
        leader = None
        if self.redis_url is not None:
            from core.wake.redis_channel import RedisChangeListener  # redis-py only when shared

            redis_listener = RedisChangeListener(self.redis_url, self.on_shared_change)
            if any(self._leader_only(service) for service in self.services):
                from core.wake.leader import LeaderLease

                leader = LeaderLease(
                    self.redis_url,
                    self._lease_identity(),
                    self.settings.queue.leader_lease_seconds,
                    on_elected=self._elected,
                    on_deposed=self._deposed,
                )
        return Started(
            ledger=ledger,
            queue=queue,
            control=control,
            pause=pause,
            outcomes=Outcomes(
                self.live, ledger, control.handoff, self._publish, lambda: pause.paused, pause.pause_self
            ),
            leases=LeaseKeeper(
                ledger,
                os.getpid(),
                self.owner_host,
                self.settings.queue.lease_seconds,
                self._running_controls,
                self._taken_back,
                self.settings.claude.kill_grace_seconds,
            ),
            listener=PokeListener(
                self.paths.wake_fifo,
                on_poke=self.on_shared_change,
                idle_timeout=self.settings.engine.idle_sweep_seconds,
                on_idle=self._sweep,
            ),
            pool=WorkerPool(
                queue,
                size=self.settings.engine.workers,
                doorbell=self.doorbell,
                is_paused=lambda: pause.paused,
                idle_seconds=self.settings.engine.idle_sweep_seconds,
            ),
            service_context=ServiceContext(
                live=self.live,
                paths=self.paths,
                clock=self.clock,
                bus=self.bus,
                control=control,
                ledger=ledger,
                supersede=self.supersede,
            ),
            announce=change_notifier(self.paths, self.redis_url) if self.redis_url else None,
            redis_listener=redis_listener,
            leader=leader,
        )

    @property
    def _started(self) -> Started:
        if self._started_parts is None:
            raise EngineNotStarted("the engine is not running: call start() first")
        return self._started_parts

    @property
    def ledger(self) -> LedgerStore:
        """The ledger this engine runs on (raises EngineNotStarted before start)."""
        return self._started.ledger

    @property
    def queue(self) -> JobQueue:
        """The queue (Huey) this engine's workers take jobs from."""
        return self._started.queue

    @property
    def control(self) -> Control:
        """The operations door of this engine: changes through it wake the engine at once."""
        return self._started.control

    @property
    def service_context(self) -> ServiceContext:
        """What this engine gives its services (a service restarted by hand is given it too)."""
        return self._started.service_context

    def _leader_only(self, service: Service) -> bool:
        """On a shared queue these run on one engine only; alone, this engine is the leader."""
        return self.redis_url is not None and service.name in LEADER_ONLY_SERVICES

    def _start_services(self, services: Sequence[Service]) -> None:
        for service in services:
            try:
                service.start(self._started.service_context)
            except ConfigError as error:  # a known config mistake: its one line says it all
                log.error("service %s cannot start: %s", service.name, error)
                self.bus.publish(ServiceFailed(name=service.name, reason=str(error)))
            except Exception as error:  # one broken service must not stop the queue
                log.exception("service %s failed to start", service.name)
                self.bus.publish(ServiceFailed(name=service.name, reason=str(error)))
            else:
                self._started_services.append(service)

    def _stop_services(self, services: Sequence[Service]) -> None:
        for service in reversed(services):
            if service not in self._started_services:
                continue
            self._started_services.remove(service)
            try:
                service.stop()
            except Exception:
                log.exception("service %s failed to stop", service.name)

    def _elected(self) -> None:
        self._start_services([service for service in self.services if self._leader_only(service)])
        self.bus.publish(SharedStateChanged())

    def _deposed(self) -> None:
        self._stop_services([service for service in self.services if self._leader_only(service)])
        self.bus.publish(SharedStateChanged())

    def _lease_identity(self) -> str:
        """Who holds the leader lease: unique per engine, also among engines in one process
        (tests, a window's takeover), or two of them would each renew the other's lease."""
        number = next(_ENGINES_IN_PROCESS)
        suffix = f" #{number}" if number > 1 else ""
        return f"{self.owner_host} pid {os.getpid()}{suffix}"

    @property
    def leader(self) -> str | None:
        """Which engine runs Telegram and the schedules (with Redis); this one when alone."""
        lease = self._started_parts.leader if self._started_parts is not None else None
        if lease is None:
            return f"{self.owner_host} pid {os.getpid()}"
        return lease.current_leader()

    def stop(self, interruption: str = ENGINE_STOPPED) -> None:
        """Stop cleanly: running jobs are ended and queued again without spending an attempt;
        ``interruption`` is what their history says (a hand-off names the engine taking over)."""
        self._stopping = True
        self._follower.stop()
        if self._unsubscribe_config is not None:
            self._unsubscribe_config()
        started = self._started_parts
        if started is not None and started.leader is not None:
            started.leader.stop()
        self._stop_services(list(self._started_services))
        if started is not None:
            started.pause.stop()
        with self._running_lock:
            controls = list(self._running.values())
        for run_control in controls:
            run_control.interrupt(interruption)
        if started is not None:
            started.pool.stop()
            started.leases.stop()
            started.listener.stop()
            if started.redis_listener is not None:
                started.redis_listener.stop()
            started.ledger.close()
        self._lock.release()
        log.info("engine stopped")

    def _running_controls(self) -> dict[int, RunControl]:
        with self._running_lock:
            return dict(self._running)

    def _taken_back(self, job: Job, state: JobState) -> None:
        """Another engine's expired job is ours to requeue (the queue entry died with it)."""
        if state is JobState.QUEUED:
            self._started.control.handoff.submit(job)
        self._announce_change(Change.JOBS)
        self.on_shared_change()

    # -- reacting to the shared state ------------------------------------------

    def _on_local_change(self, change: Change) -> None:
        """This process changed the ledger: re-read only what changed, and tell other machines."""
        if change is Change.PAUSE:
            self._started.pause.refresh()
        elif change is Change.CANCEL:
            self._apply_cancel_requests()
        elif change is Change.INPUT:
            self._apply_inputs()
        self._changed_here(change)

    def _changed_here(self, change: Change) -> None:
        """This engine knows of the change already: wake its workers, tell other machines, and
        tell this process's listeners (the window)."""
        self._follower.poke()  # `flowtui watch add` and the theme edit the config
        self.doorbell.ring()
        self._announce_change(change)
        self.bus.publish(SharedStateChanged())

    def _announce_change(self, change: Change) -> None:
        announce = self._started.announce
        if announce is not None:
            announce(change)

    def on_shared_change(self) -> None:
        """Something (here or in another process) changed the ledger: look again."""
        self._follower.poke()  # another process's `flowtui watch add` edited the config
        self._started.pause.refresh()
        self._apply_cancel_requests()
        self._apply_inputs()
        self._serve_review_requests()
        self.doorbell.ring()
        self.bus.publish(SharedStateChanged())

    def _serve_review_requests(self) -> None:
        """Keep and discard asked for on other machines, of worktrees on this one's disk."""
        try:
            self._started.control.serve_review_requests()
        except Exception as error:  # Redis away: the asker's deadline refuses; one line here
            log_failure(log, "cannot serve keep/discard requests from other machines", error)

    def _sweep(self) -> None:
        """The idle safety net: queued jobs whose queue entry was lost are submitted again,
        and jobs spooled while the shared queue was unreachable are queued."""
        started = self._started
        try:
            drain_spool(started.control, self.paths)
            self.on_shared_change()
            known = started.queue.known_job_ids()
            with self._running_lock:
                running = set(self._running)
            for job in started.ledger.queued():
                if job.id not in known and job.id not in running:
                    started.control.handoff.submit(job)
        except Exception as error:  # a full disk or Redis away: one line each sweep
            log_failure(log, "idle sweep failed", error)

    def _apply_cancel_requests(self) -> None:
        for job_id in self._started.ledger.cancel_requested_ids():
            with self._running_lock:
                run_control = self._running.get(job_id)
            if run_control is not None and not run_control.cancel_event.is_set():
                run_control.cancel("cancelled by the user")

    def _apply_inputs(self) -> None:
        """Answers and messages kept in the ledger for runs of this engine reach their Claude."""
        with self._running_lock:
            running = dict(self._running)
        if not running:
            return
        ledger = self._started.ledger
        for job_id in ledger.input_job_ids() & running.keys():
            deliver_inputs(ledger, job_id, running[job_id])

    def _wake_scheduler(self) -> None:
        if self._started_parts is not None:
            self._started_parts.pool.wake_scheduler()

    @property
    def paused(self) -> bool:
        """Whether this engine takes no jobs now (False before it started)."""
        return self._started_parts is not None and self._started_parts.pause.paused

    # -- running one job -------------------------------------------------------

    def _run_job(self, job_id: int) -> None:
        """Huey's task body: claim the job, run one attempt, record the outcome."""
        started = self._started
        # A window may have filled since the last run ended here (a run on another machine, a
        # parallel run's reading, a lower threshold in the config): checked before each start.
        started.outcomes.check_usage()
        if self._stopping or started.pause.paused:
            # Taken from the queue just as the engine paused or stopped: leave it queued.
            started.outcomes.requeue_untouched(job_id)
            return
        if started.outcomes.over_workflow_budget(job_id):
            return
        if started.queue.shared and started.outcomes.held_elsewhere(job_id, self.owner_host):
            return
        job = started.ledger.claim(job_id, os.getpid(), self.owner_host, self.settings.queue.lease_seconds)
        if job is None:
            return  # cancelled, already run, or a duplicate queue entry
        self._publish(job, f"attempt {job.attempts} started")
        run_control = RunControl()
        with self._running_lock:
            self._running[job_id] = run_control
        try:
            outcome = run_attempt(
                job,
                run_control,
                settings=self.settings,
                paths=self.paths,
                ledger=started.ledger,
                runner=self.runner,
                bus=self.bus,
                on_change=lambda: self._changed_here(Change.JOBS),
                host=self.owner_host,
            )
        except Exception as error:  # the worker must live on whatever one run does
            log.exception("job #%s crashed its runner", job_id)
            outcome = RunOutcome(state=JobState.FAILED, error=f"internal error: {error}", retryable=True)
        finally:
            with self._running_lock:
                self._running.pop(job_id, None)
        try:
            started.outcomes.record(job, outcome, run_control)
        finally:
            run_control.recorded.set()

    def supersede(self, job_id: int, reason: str, wait_seconds: float = SUPERSEDE_WAIT_SECONDS) -> bool:
        """Stop a run of this engine that Claude has not answered yet and put its job back in
        the ledger's queue (no attempt spent) but not in Huey's: the watch that started it on
        a burst's first change holds it until the burst settles, then queues it with every path.

        False when the run is not here, Claude already answers, or it did not end in time.
        """
        with self._running_lock:
            run_control = self._running.get(job_id)
        if run_control is None or not run_control.supersede(reason):
            return False
        return run_control.recorded.wait(wait_seconds)

    def _publish(self, job: Job, reason: str) -> None:
        self.bus.publish(JobChanged(job=job, reason=reason))
