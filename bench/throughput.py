"""Throughput: no-op jobs per second through flowtui's ledger and queue vs bare SqliteHuey.

What is measured, one worker each, same run, same machine, a fresh temp dir per run:

- ours: an in-process ``Engine`` (``Settings()`` defaults, FLOWTUI_HOME-style paths) whose
  runner returns ``succeeded`` at once without spawning anything. Jobs go in through
  ``engine.control.add`` (ledger row + event, Huey enqueue, engine notified) and count as
  done when the engine publishes ``JobChanged`` with state ``succeeded``, i.e. after the
  claim and the finish were committed to the ledger. This is the whole bookkeeping cost
  of a job with Claude's own run taken out.
- bare: ``SqliteHuey(results=False)`` with Huey's defaults otherwise and a no-op task;
  a loop of ``huey.dequeue()`` / ``huey.execute(task)`` in one thread consumes.

Two ways, both reported:

(a) produce, then consume: N jobs are enqueued first (ours with the engine paused, so each
    add still wakes the engine's threads as a real paused engine's would), then consumed;
    prints the enqueue rate, the consume rate and N / (t_enqueue + t_consume).
(b) concurrent: the producer (this thread) enqueues N while the worker consumes; prints
    N / (time from the first enqueue until the N-th job is done).

Extra lines: ours with ``[ledger] synchronous = "full"`` (an fsync per ledger commit), and
bare Huey with ``fsync=False`` as flowtui's own queue uses. Note that Huey's defaults leave
SQLite at ``synchronous=FULL``, so the default bare Huey fsyncs each enqueue and dequeue,
while flowtui's ledger runs at ``NORMAL`` in WAL (durable across process crashes, no
fsync per commit) and its queue at ``OFF`` (the ledger rebuilds it).

Run: ``uv run python bench/throughput.py [--jobs 2000] [--repeat 5]``. No asserts; targets
to report: >= 1,000 durable jobs/s and >= 0.5x bare Huey. Each number is the median of
``--repeat`` runs (ours and bare interleaved).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from huey import SqliteHuey

from core.claude.runner import EventCallback, NoteCallback, RunControl, RunRequest, SpawnCallback
from core.config.settings import LedgerSettings, Settings
from core.engine.engine import Engine
from core.events import Event, JobChanged
from core.jobs import JobState, RunOutcome
from core.paths import HOME_ENV, resolve_paths

DONE_TIMEOUT = 120.0
NOOP_OUTCOME = RunOutcome(
    state=JobState.SUCCEEDED,
    exit_code=0,
    cost_usd=0.0,
    input_tokens=1,
    output_tokens=1,
    turns=1,
    session_id="s",
    answer="ok",
)


class NoopRunner:
    """Satisfies the engine's Runner protocol; spawns nothing and succeeds at once."""

    def run(
        self,
        request: RunRequest,
        control: RunControl,
        on_spawn: SpawnCallback,
        on_note: NoteCallback,
        on_event: EventCallback | None = None,
    ) -> RunOutcome:
        return NOOP_OUTCOME


@dataclass(frozen=True)
class Rates:
    """Jobs per second of one run of one mode."""

    enqueue: float
    consume: float | None = None  # produce-then-consume only
    total: float = 0.0  # combined (a) or concurrent (b)


def rate(jobs: int, seconds: float) -> float:
    return jobs / seconds if seconds > 0 else float("inf")


@contextlib.contextmanager
def temp_dir(parent: Path | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flowtui-bench-throughput-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- ours ------------------------------------------------------------------------


class DoneCounter:
    """Counts ``succeeded`` JobChanged events; ``wait`` returns once ``target`` arrived."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = threading.Event()

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobChanged) and event.job.state is JobState.SUCCEEDED:
            self.count += 1  # only the worker thread publishes finishes
            if self.count >= self.target:
                self.done.set()

    def wait(self) -> None:
        if not self.done.wait(DONE_TIMEOUT):
            raise TimeoutError(f"only {self.count} of {self.target} jobs finished in {DONE_TIMEOUT:g}s")


def run_ours(jobs: int, concurrent: bool, settings: Settings, parent: Path | None) -> Rates:
    with temp_dir(parent) as home:
        paths = resolve_paths({HOME_ENV: str(home)})
        engine = Engine(settings, paths, environ={}, runner=NoopRunner())
        engine.start()
        try:
            control = engine.control
            counter = DoneCounter(jobs)
            unsubscribe = engine.bus.subscribe(counter)
            prompts = [f"no-op job {index}" for index in range(jobs)]
            if concurrent:
                t0 = time.perf_counter()
                for prompt in prompts:
                    control.add(prompt, cwd=home)
                t1 = time.perf_counter()
                counter.wait()
                t2 = time.perf_counter()
                result = Rates(enqueue=rate(jobs, t1 - t0), total=rate(jobs, t2 - t0))
            else:
                control.pause("benchmark: enqueue first")
                t0 = time.perf_counter()
                for prompt in prompts:
                    control.add(prompt, cwd=home)
                t1 = time.perf_counter()
                control.resume()
                counter.wait()
                t2 = time.perf_counter()
                result = Rates(
                    enqueue=rate(jobs, t1 - t0), consume=rate(jobs, t2 - t1), total=rate(jobs, t2 - t0)
                )
            unsubscribe()
            counts = engine.ledger.counts()
            if counts[JobState.SUCCEEDED] != jobs:
                raise RuntimeError(f"ledger disagrees: {counts}")
            return result
        finally:
            engine.stop()
            engine.queue.huey.storage.close()


# -- bare Huey -------------------------------------------------------------------


def make_bare(path: Path, fsync: bool | None) -> tuple[SqliteHuey, Callable[[int], object]]:
    options = {} if fsync is None else {"fsync": fsync}
    huey = SqliteHuey(name="bare", filename=str(path), results=False, **options)

    @huey.task()  # type: ignore[untyped-decorator]
    def noop(index: int) -> None:
        return None

    return huey, noop


def consume(huey: SqliteHuey, jobs: int, poll_sleep: float) -> None:
    done = 0
    while done < jobs:
        task = huey.dequeue()
        if task is None:
            if poll_sleep < 0:
                raise RuntimeError(f"queue empty after {done} of {jobs} tasks")
            time.sleep(poll_sleep)
            continue
        huey.execute(task)
        done += 1


def run_bare(jobs: int, concurrent: bool, parent: Path | None, fsync: bool | None = None) -> Rates:
    with temp_dir(parent) as root:
        huey, noop = make_bare(root / "bare.db", fsync)
        try:
            if concurrent:
                # The consumer thread polls an empty queue every 0.5 ms: kinder to Huey than
                # its consumer's 100 ms+ back-off, so this is the best case for the baseline.
                worker = threading.Thread(target=consume, args=(huey, jobs, 0.0005), daemon=True)
                t0 = time.perf_counter()
                worker.start()
                for index in range(jobs):
                    noop(index)
                t1 = time.perf_counter()
                worker.join(DONE_TIMEOUT)
                if worker.is_alive():
                    raise TimeoutError(f"bare Huey did not finish {jobs} tasks in {DONE_TIMEOUT:g}s")
                t2 = time.perf_counter()
                return Rates(enqueue=rate(jobs, t1 - t0), total=rate(jobs, t2 - t0))
            t0 = time.perf_counter()
            for index in range(jobs):
                noop(index)
            t1 = time.perf_counter()
            consume(huey, jobs, poll_sleep=-1)
            t2 = time.perf_counter()
            return Rates(enqueue=rate(jobs, t1 - t0), consume=rate(jobs, t2 - t1), total=rate(jobs, t2 - t0))
        finally:
            huey.storage.close()


# -- reporting ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    enqueue: float
    consume: float
    combined: float
    concurrent: float

    @classmethod
    def median_of(cls, separate: Sequence[Rates], together: Sequence[Rates]) -> Row:
        return cls(
            enqueue=statistics.median(r.enqueue for r in separate),
            consume=statistics.median(r.consume or 0.0 for r in separate),
            combined=statistics.median(r.total for r in separate),
            concurrent=statistics.median(r.total for r in together),
        )

    def cells(self) -> str:
        return (
            f"{self.enqueue:>10,.0f} {self.consume:>10,.0f} {self.combined:>10,.0f} {self.concurrent:>11,.0f}"
        )

    def ratio_cells(self, other: Row) -> str:
        return (
            f"{self.enqueue / other.enqueue:>9.2f}x {self.consume / other.consume:>9.2f}x "
            f"{self.combined / other.combined:>9.2f}x {self.concurrent / other.concurrent:>10.2f}x"
        )


def measure_pair(runs: Callable[[bool], Rates], repeat: int) -> Row:
    separate: list[Rates] = []
    together: list[Rates] = []
    for _ in range(repeat):
        separate.append(runs(False))
        together.append(runs(True))
    return Row.median_of(separate, together)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per run (default 2000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per number; the median is shown (default 5)"
    )
    parser.add_argument(
        "--no-extras", action="store_true", help="skip the synchronous=full and fsync=False lines"
    )
    parser.add_argument(
        "--tmp-dir", type=Path, default=None, help="parent of the temp dirs (default: system)"
    )
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    jobs, repeat, parent = args.jobs, args.repeat, args.tmp_dir
    where = parent or Path(tempfile.gettempdir())
    print(
        f"throughput: {jobs:,} no-op jobs per run, 1 worker, median of {repeat} run(s), "
        f"temp dirs under {where}",
        flush=True,
    )
    default_settings = Settings()
    try:
        separate: dict[str, list[Rates]] = {"ours": [], "bare": []}
        together: dict[str, list[Rates]] = {"ours": [], "bare": []}
        for _ in range(repeat):  # interleaved, so drift hits both sides alike
            for concurrent in (False, True):
                bucket = together if concurrent else separate
                bucket["ours"].append(run_ours(jobs, concurrent, default_settings, parent))
                bucket["bare"].append(run_bare(jobs, concurrent, parent))
        ours = Row.median_of(separate["ours"], together["ours"])
        bare = Row.median_of(separate["bare"], together["bare"])
        full = nofsync = None
        if not args.no_extras:
            full_settings = Settings(ledger=LedgerSettings(synchronous="full"))
            full = measure_pair(lambda c: run_ours(jobs, c, full_settings, parent), 1)
            nofsync = measure_pair(lambda c: run_bare(jobs, c, parent, fsync=False), 1)
    except KeyboardInterrupt:
        print("interrupted: engine stopped, temp dirs removed", file=sys.stderr)
        return 130

    header = f"{'jobs/s':<44}{'enqueue':>10} {'consume':>10} {'combined':>10} {'concurrent':>11}"
    print(header)
    print(f"{'ours (ledger + Huey queue, Settings())':<44}{ours.cells()}")
    print(f"{'bare SqliteHuey(results=False)':<44}{bare.cells()}")
    print(f"{'ratio ours / bare':<44}{ours.ratio_cells(bare)}")
    if full is not None:
        print(f"{'extra: ours, [ledger] synchronous = full':<44}{full.cells()}  (1 run)")
    if nofsync is not None:
        print(f"{'extra: bare SqliteHuey fsync=False':<44}{nofsync.cells()}  (1 run)")
        print(f"{'  ratio ours / bare fsync=False':<44}{ours.ratio_cells(nofsync)}")
    durable = min(ours.combined, ours.concurrent)
    ratio = min(ours.combined / bare.combined, ours.concurrent / bare.concurrent)
    print(
        f"targets: >= 1,000 durable jobs/s: {durable:,.0f} ({'met' if durable >= 1000 else 'NOT met'}); "
        f">= 0.5x bare Huey: {ratio:.2f}x ({'met' if ratio >= 0.5 else 'NOT met'}) "
        "(worst of combined and concurrent)"
    )
    return 0


if __name__ == "__main__":
    os.environ.pop(HOME_ENV, None)  # the engine gets explicit paths; never touch a real profile
    sys.exit(main())
