"""Trigger latency: from a file save to the Claude process starting, flowtui vs the seed.

What is measured: t0 is ``time.time_ns()`` just before the bench rewrites an existing file
in place (``save-<side>-<n>.md``, created before the watchers start, so every save is a
plain "modified"); t1 is the wall-clock time the (fake) Claude process writes as its
first action. The token in the file name reaches the fake through the job's prompt.

- ours: ``flowtui serve`` as a subprocess with one ``[[watch]]`` on the directory, at the
  default ``settle_ms`` (150) and once more at ``--also-settle`` (default 0, which shows
  what the settle time itself costs).
- seed: the seed's recipe (``bench/seed_watch.py``): a watchdog observer in its own process
  that calls a SqliteHuey task for every event, and a separate ``huey_consumer -w 1`` that
  runs it (``bench/seed_app.py``, the same fake command, ``subprocess.run``).

Saves arrive sporadically, as a person makes them: each waits for the previous stamp, then
a random 50-300 ms (the same gaps for every side). The fake Claude is a /bin/sh script, so
all sides pay the same fork/exec cost; see ``bench/dispatch.py`` for the same method.

Then the 10,000-file burst: a folder of 10,000 files is created in the watched directory.
Ours runs with the queue paused, so the job stays queued to be inspected: reported are the
time from the first file to the job being queued, to the job listing all 10,000 paths,
and how many jobs the burst made. The seed's consumer is stopped first (10,000 Claude runs
would follow): reported is how many tasks its observer queued.

Last, the burst again under another name with the queue running and a fake Claude that
takes 2 s to begin answering (as the real CLI does: boot, then the API's first token):
reported are each Claude start (when, and how many paths its prompt listed), the jobs and
the attempts spent. With ``eager`` the first file starts Claude at once, the rest of the
burst supersedes that run, and the one job starts again with all 10,000 paths.

Run: ``uv run python bench/trigger.py [--samples 200]``. No asserts; the target is ours
p50 <= 100 ms with the default settle time.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dispatch import (
    READY_TEXT,
    READY_TIMEOUT,
    SEED_CLAUDE_ENV,
    SEED_DB_ENV,
    STAMP_ENV,
    WARMUP_JOBS,
    Child,
    StampFile,
    Summary,
    interrupt_on_signals,
    measure,
    random_gaps,
    running,
)

from core.clock import parse_time
from core.config.settings import CLAUDE_ENV, load_settings
from core.ledger.sqlite import Ledger
from core.ops.control import Control
from core.paths import HOME_ENV, resolve_paths
from core.queue.transport import JobQueue
from core.wake.doorbell import poke
from core.watch.status import read_statuses

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
BURST_FILES = 10_000
QUIET_AFTER_BURST = 2.0
"""Seconds without a new job (ours) or task (seed) that end the burst's count."""

FAKE_CLAUDE = """#!/bin/sh
# Stand-in for the Claude Code CLI: stamp the start, find the save's token in the prompt.
t=$(date +%s%N)
# The seed passes the prompt after "--"; flowtui speaks stream-json on stdin: the initialize
# request, then the prompt as the first user message (stdin stays open, so read two lines).
prompt=""; after=0
for arg; do [ "$after" = 1 ] && prompt=$arg; [ "$arg" = "--" ] && after=1; done
[ "$after" = 1 ] || { read -r _initialize; read -r prompt; }
token=$(printf '%s' "$prompt" | grep -o 'save-[a-z0-9-]*' | head -n 1)
printf '%s %s\\n' "$token" "$t" >> "$BENCH_STAMP_FILE"
case "$prompt" in *"/live-burst/"*)
  # The live burst: log the start and how many paths it got, then take as long as a real
  # CLI does to boot and begin answering (so a run can be superseded meanwhile).
  paths=$(printf '%s' "$prompt" | grep -o '/live-burst/' | wc -l)
  printf '%s %s\\n' "$t" "$paths" >> "$BENCH_STAMP_FILE.live"
  sleep 2 ;;
esac
printf '%s\\n' '{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0,\
"num_turns":1,"session_id":"s","usage":{"input_tokens":1,"output_tokens":1}}'
"""


class FirstStamps(StampFile):
    """Keeps the first stamp of a token: the seed starts Claude once per event, often twice."""

    def _read_new(self) -> None:
        before = dict(self.stamps)
        super()._read_new()
        self.stamps.update(before)


def tokens_for(name: str, samples: int) -> list[str]:
    """The tokens ``dispatch.measure`` submits, warm-ups first."""
    return [f"{name}-warmup-{index}" for index in range(WARMUP_JOBS)] + [
        f"{name}-{index}" for index in range(samples)
    ]


def prepare(folder: Path, name: str, samples: int) -> None:
    folder.mkdir()
    for token in tokens_for(name, samples):
        (folder / f"{token}.md").write_text("before\n")


def saver(folder: Path) -> Callable[[str], None]:
    def save(token: str) -> None:
        with open(folder / f"{token}.md", "w") as handle:  # an in-place save
            handle.write(f"saved {token}\n")

    return save


# -- ours ----------------------------------------------------------------------


@dataclass(frozen=True)
class LiveBurstResult:
    written_ms: float
    starts: list[tuple[float, int]]
    """Each Claude start: ms after the first file, and how many paths its prompt listed."""
    jobs: int
    attempts: int


@dataclass(frozen=True)
class BurstResult:
    queued_ms: float
    complete_ms: float
    written_ms: float
    paths_listed: int
    jobs: int


def run_ours(
    root: Path, fake: Path, stamps: StampFile, gaps: Sequence[float], settle_ms: int | None, burst: bool
) -> tuple[list[float], BurstResult | None, LiveBurstResult | None]:
    label = "default" if settle_ms is None else str(settle_ms)
    name = f"save-ours{label}"
    home = root / f"home-{label}"
    home.mkdir()
    watched = root / f"watched-{label}"
    prepare(watched, name, len(gaps))
    extra = "" if settle_ms is None else f"settle_ms = {settle_ms}\n"
    (home / "config.toml").write_text(f'[[watch]]\npath = "{watched}"\n{extra}')
    env = {**os.environ, HOME_ENV: str(home), CLAUDE_ENV: str(fake), STAMP_ENV: str(stamps.path)}
    argv = [sys.executable, "-c", "from cli.main import main; main()", "serve"]

    def factory() -> Child:
        return Child("flowtui serve", argv, env, PROJECT_DIR, root / f"serve-{label}.log", signal.SIGTERM)

    with running(factory) as child:
        child.wait_for_text(READY_TEXT, READY_TIMEOUT)
        paths = resolve_paths({HOME_ENV: str(home)})
        settings = load_settings(paths.config_file)
        ledger = Ledger(paths.ledger_db, settings.ledger.synchronous)
        try:
            wait_until(lambda: _is_active(ledger, watched), "the watch to be active")
            latencies = measure(name, saver(watched), stamps, gaps)
            result = live = None
            if burst:
                control = Control(
                    settings,
                    ledger,
                    JobQueue(paths.queue_db),
                    lambda change: poke(paths.wake_fifo),
                    paths=paths,
                )
                result = run_ours_burst(watched, ledger, control)
                live = run_ours_live_burst(watched, ledger, Path(f"{stamps.path}.live"))
        except Exception:
            print(f"flowtui serve output (tail):\n{child.tail()}", file=sys.stderr)
            raise
        finally:
            ledger.close()
    return latencies, result, live


def _is_active(ledger: Ledger, watched: Path) -> bool:
    status = read_statuses(ledger).get(str(watched))
    return status is not None and status.state == "active"


def run_ours_burst(watched: Path, ledger: Ledger, control: Control) -> BurstResult:
    control.pause("bench: the burst's job stays queued to be inspected")
    time.sleep(0.2)  # the engine reads the pause at the poke; nothing may start meanwhile
    known = {job.id for job in ledger.list_jobs()}
    t0 = time.time_ns()
    written_ns = write_burst(watched)

    def burst_jobs() -> list[int]:
        return [job.id for job in ledger.list_jobs() if job.id not in known]

    wait_until(burst_jobs, "the burst's job", timeout=60)
    first = min(burst_jobs())

    def listed() -> int:
        return ledger.require(first).prompt.count("/burst/file-")

    wait_until(lambda: listed() == BURST_FILES, "the job to list every path", timeout=60)
    events = ledger.events(first)
    complete_at = parse_time(events[-1].at)
    wait_quiet(lambda: len(burst_jobs()))
    job = ledger.require(first)
    control.resume()
    return BurstResult(
        queued_ms=(parse_time(job.created_at).timestamp() * 1e9 - t0) / 1e6,
        complete_ms=(complete_at.timestamp() * 1e9 - t0) / 1e6,
        written_ms=(written_ns - t0) / 1e6,
        paths_listed=listed(),
        jobs=len(burst_jobs()),
    )


def run_ours_live_burst(watched: Path, ledger: Ledger, starts_file: Path) -> LiveBurstResult:
    """The same burst with the queue running and a Claude that takes 2 s to answer: the
    first file starts it at once, the rest supersede that run and join its job."""
    known = {job.id for job in ledger.list_jobs()}
    time.sleep(0.5)  # the previous burst's job has started; this is a burst of its own
    t0 = time.time_ns()
    written_ns = write_burst(watched, "live-burst")

    def burst_jobs() -> list[int]:
        return [job.id for job in ledger.list_jobs() if job.id not in known and "/live-burst/" in job.prompt]

    def started() -> list[tuple[float, int]]:
        if not starts_file.exists():
            return []
        rows = [line.split() for line in starts_file.read_text().splitlines()]
        return [((int(at) - t0) / 1e6, int(count)) for at, count in rows]

    wait_until(
        lambda: any(count == BURST_FILES for _, count in started()),
        "a start with every path",
        60,
        lambda: f"starts so far (ms, paths): {started()}",
    )
    wait_quiet(lambda: (len(burst_jobs()), len(started())))
    jobs = [ledger.require(job_id) for job_id in burst_jobs()]
    return LiveBurstResult(
        written_ms=(written_ns - t0) / 1e6,
        starts=started(),
        jobs=len(jobs),
        attempts=sum(job.attempts for job in jobs),
    )


def write_burst(watched: Path, name: str = "burst") -> int:
    folder = watched / name
    folder.mkdir()
    for index in range(BURST_FILES):
        (folder / f"file-{index:05d}.txt").write_text("x")
    return time.time_ns()


# -- the seed --------------------------------------------------------------------


def run_seed(
    root: Path, fake: Path, stamps: StampFile, gaps: Sequence[float]
) -> tuple[list[float], int, float]:
    name = "save-seed"
    watched = root / "watched-seed"
    prepare(watched, name, len(gaps))
    db = root / "seed.db"
    env = {
        **os.environ,
        SEED_DB_ENV: str(db),
        SEED_CLAUDE_ENV: str(fake),
        STAMP_ENV: str(stamps.path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
    }
    consumer_bin = Path(sys.executable).with_name("huey_consumer")
    consumer_argv = (
        [str(consumer_bin)] if consumer_bin.exists() else [sys.executable, "-m", "huey.bin.huey_consumer"]
    )

    def watcher() -> Child:
        argv = [sys.executable, str(BENCH_DIR / "seed_watch.py"), str(watched)]
        return Child("seed watcher", argv, env, BENCH_DIR, root / "seed-watch.log", signal.SIGTERM)

    def consumer() -> Child:
        argv = [*consumer_argv, "seed_app.huey", "-w", "1"]
        return Child("huey_consumer", argv, env, BENCH_DIR, root / "consumer.log", signal.SIGINT)

    os.environ[SEED_DB_ENV] = str(db)
    sys.path.insert(0, str(BENCH_DIR))
    import seed_app

    with running(watcher) as watching:
        watching.wait_for_text("watching", READY_TIMEOUT)
        with running(consumer) as consuming:
            try:
                latencies = measure(name, saver(watched), stamps, gaps)
            except Exception:
                print(f"huey_consumer output (tail):\n{consuming.tail()}", file=sys.stderr)
                raise
        seed_app.huey.flush()  # leftover duplicate tasks: the burst's count starts at zero
        t0 = time.time_ns()
        write_burst(watched)
        last_change_ns = wait_quiet(lambda: int(seed_app.huey.pending_count()))
    return latencies, int(seed_app.huey.pending_count()), (last_change_ns - t0) / 1e6


# -- helpers -----------------------------------------------------------------------


def wait_until(
    condition: Callable[[], object],
    what: str,
    timeout: float = READY_TIMEOUT,
    seen: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f" ({seen()})" if seen else ""
            raise TimeoutError(f"timed out waiting for {what}{detail}")
        time.sleep(0.005)


def wait_quiet(count: Callable[[], object]) -> int:
    """Wait until ``count()`` stays the same for QUIET_AFTER_BURST s; returns when it last changed."""
    last_value = count()
    last_change = time.time_ns()
    while time.time_ns() - last_change < QUIET_AFTER_BURST * 1e9:
        time.sleep(0.01)
        value = count()
        if value != last_value:
            last_value, last_change = value, time.time_ns()
    return last_change


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=200, help="saves timed per side (default 200)")
    parser.add_argument("--min-gap", type=float, default=0.05, help="shortest gap between saves, s")
    parser.add_argument("--max-gap", type=float, default=0.30, help="longest gap between saves, s")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the gaps")
    parser.add_argument("--no-burst", action="store_true", help="skip the 10,000-file burst")
    parser.add_argument(
        "--also-settle", type=int, default=0, help="settle_ms of the second flowtui run (default 0)"
    )
    parser.add_argument("--tmp-dir", type=Path, default=None, help="parent of the temp dir (default: system)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_signals()
    seed, gaps = random_gaps(args)
    expected = args.samples * (statistics.fmean(gaps) + 0.1) * 3 + (0 if args.no_burst else 20)
    print(
        f"trigger latency: {args.samples} saves per side, gaps {args.min_gap * 1000:.0f}-"
        f"{args.max_gap * 1000:.0f} ms (seed {seed}), about {expected:.0f} s",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="flowtui-bench-trigger-", dir=args.tmp_dir) as tmp:
            root = Path(tmp)
            fake = root / "claude.sh"
            fake.write_text(FAKE_CLAUDE)
            fake.chmod(0o755)
            stamps = FirstStamps(root / "stamps.txt")
            ours, burst, live = run_ours(root, fake, stamps, gaps, settle_ms=None, burst=not args.no_burst)
            ours_zero, _, _ = run_ours(root, fake, stamps, gaps, settle_ms=args.also_settle, burst=False)
            seed_side, seed_tasks, seed_burst_ms = run_seed(root, fake, stamps, gaps)
    except KeyboardInterrupt:
        print("interrupted: children stopped, temp dir removed", file=sys.stderr)
        return 130

    ours_summary, zero_summary, seed_summary = Summary.of(ours), Summary.of(ours_zero), Summary.of(seed_side)
    print("time from a file save to the Claude process starting:")
    print("  " + ours_summary.line("ours, settle 150 ms (default)", len(ours)))
    print("  " + zero_summary.line(f"ours, settle {args.also_settle} ms".ljust(30), len(ours_zero)))
    print("  " + seed_summary.line("seed, watchdog + huey_consumer", len(seed_side)))
    print(
        f"  ratio seed/ours (default settle): p50 {seed_summary.p50 / ours_summary.p50:.2f}x, "
        f"p99 {seed_summary.p99 / ours_summary.p99:.2f}x; at settle {args.also_settle}: p50 "
        f"{seed_summary.p50 / zero_summary.p50:.2f}x, p99 {seed_summary.p99 / zero_summary.p99:.2f}x"
    )
    print(
        f"  ours p50 {ours_summary.p50:.1f} ms vs target <= 100 ms with the default settle time: "
        f"{'met' if ours_summary.p50 <= 100 else 'NOT met'} (eager: a save on an idle watch starts Claude "
        "at once; the settle time still gathers a burst into one job)"
    )
    if burst is not None:
        print(f"{BURST_FILES:,}-file burst (files written in {burst.written_ms:.0f} ms):")
        print(
            f"  ours: {burst.jobs} job(s); queued {burst.queued_ms:.0f} ms after the first file, listing "
            f"{burst.paths_listed:,} of {BURST_FILES:,} paths ({burst.complete_ms:.0f} ms)"
        )
        print(
            f"  seed: {seed_tasks:,} tasks queued (one per event), "
            f"the last {seed_burst_ms:.0f} ms after the first file"
        )
    if live is not None:
        print(
            f"the same burst with the queue running and a Claude that answers after 2 s (written in "
            f"{live.written_ms:.0f} ms):"
        )
        starts = ", ".join(f"{count:,} path(s) at {at:.0f} ms" for at, count in live.starts)
        print(f"  ours: {live.jobs} job(s), {live.attempts} attempt(s) spent; Claude started with {starts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
