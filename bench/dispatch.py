"""Dispatch latency: from adding a job to the Claude process starting, flowtui vs the seed.

What is measured: t0 is ``time.time_ns()`` in the producer just before the job is handed
over; t1 is the wall-clock time the (fake) Claude process writes as its first action.
The producer is this process, a different one from the consumer, as with ``flowtui add``.

- ours: ``flowtui serve`` runs as a subprocess (``FLOWTUI_HOME`` and ``FLOWTUI_CLAUDE``
  point into a temp dir). The producer builds a ``Control`` the way ``cli.main.open_control``
  does (ledger row, Huey enqueue, poke of the engine's named pipe) and calls ``add``.
- seed: Huey's own consumer (``huey_consumer seed_app.huey -w 1``, default polling with
  back-off) on a SqliteHuey file; its task runs the same fake command with
  ``subprocess.run`` (see ``bench/seed_app.py``). The producer calls the task.

Jobs arrive sporadically at an idle engine: each add waits for the previous job's stamp,
then a random 50-300 ms (the same sequence of gaps for both). This is the case a user
feels (a file saved, a message sent) and the one Huey's polling back-off makes slow.
The fake Claude is a /bin/sh script, so both sides pay the same fork/exec + ``date`` cost.

As context, one line also times a whole ``flowtui add`` CLI subprocess (interpreter
start-up included), which is what a shell script calling the CLI pays on top.

Run: ``uv run python bench/dispatch.py [--samples 150] [--cli-runs 5]``. No asserts:
it prints both distributions and the ratios; the target is ours p50 <= 100 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil

from core.config.settings import CLAUDE_ENV, load_settings
from core.ledger.sqlite import Ledger
from core.ops.control import Control
from core.paths import HOME_ENV, resolve_paths
from core.queue.transport import JobQueue
from core.wake.doorbell import poke

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
STAMP_ENV = "BENCH_STAMP_FILE"
SEED_DB_ENV = "BENCH_SEED_DB"
SEED_CLAUDE_ENV = "BENCH_FAKE_CLAUDE"
READY_TEXT = "engine running"
READY_TIMEOUT = 30.0
STAMP_TIMEOUT = 30.0
WARMUP_JOBS = 3

FAKE_CLAUDE = """#!/bin/sh
# Stand-in for the Claude Code CLI: stamp the start, print one result line, exit.
for prompt; do :; done
printf '%s %s\\n' "$prompt" "$(date +%s%N)" >> "$BENCH_STAMP_FILE"
printf '%s\\n' '{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0,\
"num_turns":1,"session_id":"s","usage":{"input_tokens":1,"output_tokens":1}}'
"""

Submit = Callable[[str], None]


# -- child processes -----------------------------------------------------------


class Child:
    """A subprocess in its own session, stopped (then killed, group and all) on exit."""

    def __init__(
        self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, log: Path, stop_signal: int
    ) -> None:
        self.name = name
        self.log = log
        self._stop_signal = stop_signal
        self._log_handle = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_text(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not print {text!r}; its output:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        pid = self.process.pid
        try:
            if self.process.poll() is None:
                self.process.send_signal(self._stop_signal)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the group may hold leftovers even after a clean exit
            self.process.wait(timeout=10)
        finally:
            self._log_handle.close()


@contextlib.contextmanager
def running(child_factory: Callable[[], Child]) -> Iterator[Child]:
    child = child_factory()
    try:
        yield child
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            child.stop()
        finally:
            signal.signal(signal.SIGINT, previous)


# -- stamps --------------------------------------------------------------------


class StampFile:
    """Reads ``<token> <ns>`` lines the fake Claude appends, incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()
        self._offset = 0
        self._partial = b""
        self.stamps: dict[str, int] = {}

    def _read_new(self) -> None:
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            token, _, stamp = line.decode().rpartition(" ")
            self.stamps[token] = int(stamp)

    def wait(self, token: str, timeout: float = STAMP_TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while True:
            if token in self.stamps:
                return self.stamps[token]
            self._read_new()
            if token in self.stamps:
                return self.stamps[token]
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fake claude never stamped {token!r} within {timeout:g}s")
            time.sleep(0.001)


# -- one side ------------------------------------------------------------------


def measure(name: str, submit: Submit, stamps: StampFile, gaps: Sequence[float]) -> list[float]:
    """Latencies in ms of ``len(gaps)`` jobs, each after its gap, warm-up jobs first."""
    for index in range(WARMUP_JOBS):
        token = f"{name}-warmup-{index}"
        submit(token)
        stamps.wait(token, timeout=READY_TIMEOUT)
    latencies: list[float] = []
    for index, gap in enumerate(gaps):
        time.sleep(gap)
        token = f"{name}-{index}"
        t0 = time.time_ns()
        submit(token)
        t1 = stamps.wait(token)
        latencies.append((t1 - t0) / 1e6)
    return latencies


IDLE_SECONDS = 10.0


def idle_cpu_percent(child: Child, seconds: float = IDLE_SECONDS) -> float:
    """CPU the idle consumer uses (user + system, % of one core) while no job arrives."""
    process = psutil.Process(child.process.pid)
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / seconds


def run_ours(
    root: Path, fake: Path, stamps: StampFile, gaps: Sequence[float], cli_runs: int
) -> tuple[list[float], list[tuple[float, float]], float]:
    home = root / "flowtui-home"
    home.mkdir()
    env = {**os.environ, HOME_ENV: str(home), CLAUDE_ENV: str(fake), STAMP_ENV: str(stamps.path)}
    argv = [sys.executable, "-c", "from cli.main import main; main()", "serve"]

    def factory() -> Child:
        return Child("flowtui serve", argv, env, PROJECT_DIR, root / "serve.log", signal.SIGTERM)

    with running(factory) as child:
        child.wait_for_text(READY_TEXT, READY_TIMEOUT)
        # As cli.main.open_control does, but kept open across adds (a long-lived producer).
        paths = resolve_paths({HOME_ENV: str(home)})
        settings = load_settings(paths.config_file)
        paths.ensure_data_dir()
        ledger = Ledger(paths.ledger_db, settings.ledger.synchronous)
        queue = JobQueue(paths.queue_db)
        control = Control(settings, ledger, queue, lambda change: poke(paths.wake_fifo), paths=paths)
        try:

            def submit(token: str) -> None:
                control.add(token, cwd=root)

            latencies = measure("ours", submit, stamps, gaps)
            cli = time_cli_add(env, root, stamps, cli_runs)
            idle = idle_cpu_percent(child)
        except Exception:
            print(f"flowtui serve output (tail):\n{child.tail()}", file=sys.stderr)
            raise
        finally:
            ledger.close()
    return latencies, cli, idle


def time_cli_add(env: dict[str, str], root: Path, stamps: StampFile, runs: int) -> list[tuple[float, float]]:
    """(wall ms of a whole ``flowtui add`` subprocess, ms from its launch to Claude's start)."""
    argv = [sys.executable, "-c", "from cli.main import main; main()", "add"]
    results: list[tuple[float, float]] = []
    for index in range(runs):
        time.sleep(0.1)
        token = f"cli-{index}"
        t0 = time.time_ns()
        subprocess.run([*argv, token, "--cwd", str(root)], env=env, cwd=root, check=True, capture_output=True)
        t_done = time.time_ns()
        t1 = stamps.wait(token)
        results.append(((t_done - t0) / 1e6, (t1 - t0) / 1e6))
    return results


def run_seed(root: Path, fake: Path, stamps: StampFile, gaps: Sequence[float]) -> tuple[list[float], float]:
    db = root / "seed.db"
    env = {
        **os.environ,
        SEED_DB_ENV: str(db),
        SEED_CLAUDE_ENV: str(fake),
        STAMP_ENV: str(stamps.path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
    }
    consumer = Path(sys.executable).with_name("huey_consumer")
    base = [str(consumer)] if consumer.exists() else [sys.executable, "-m", "huey.bin.huey_consumer"]
    argv = [*base, "seed_app.huey", "-w", "1"]

    def factory() -> Child:
        # SIGINT is the consumer's graceful stop (SIGTERM is its immediate one).
        return Child("huey_consumer", argv, env, BENCH_DIR, root / "consumer.log", signal.SIGINT)

    # The producer side of the seed: import the same app with the same db path.
    os.environ[SEED_DB_ENV] = str(db)
    sys.path.insert(0, str(BENCH_DIR))
    import seed_app

    with running(factory) as child:
        try:
            latencies = measure("seed", seed_app.run_claude, stamps, gaps)
            return latencies, idle_cpu_percent(child)
        except Exception:
            print(f"huey_consumer output (tail):\n{child.tail()}", file=sys.stderr)
            raise


# -- reporting -----------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
            mean=statistics.fmean(values),
        )

    def line(self, label: str, count: int) -> str:
        return (
            f"{label:<6} n={count:<4} p50 {self.p50:7.1f}  p90 {self.p90:7.1f}  "
            f"p99 {self.p99:7.1f}  max {self.max:7.1f}  mean {self.mean:7.1f}  (ms)"
        )


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=150, help="jobs timed per side (default 150)")
    parser.add_argument(
        "--cli-runs", type=int, default=5, help="`flowtui add` subprocesses timed (default 5)"
    )
    parser.add_argument("--min-gap", type=float, default=0.05, help="shortest gap between jobs, s")
    parser.add_argument("--max-gap", type=float, default=0.30, help="longest gap between jobs, s")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the gaps")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="parent of the temp dir (default: system)")
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_signals() -> None:
    """Ctrl-C, kill and a closed terminal all raise KeyboardInterrupt, so the bench's clean-up
    runs (even when started from a shell that left SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)


def random_gaps(args: argparse.Namespace) -> tuple[int, list[float]]:
    """``--samples`` gaps between ``--min-gap`` and ``--max-gap``, and the seed that made them."""
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    return seed, [rng.uniform(args.min_gap, args.max_gap) for _ in range(args.samples)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_signals()
    seed, gaps = random_gaps(args)
    expected = args.samples * (statistics.fmean(gaps) + 0.03) * 2
    print(
        f"dispatch latency: {args.samples} jobs per side, gaps {args.min_gap * 1000:.0f}-"
        f"{args.max_gap * 1000:.0f} ms (seed {seed}), about {expected:.0f} s",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="flowtui-bench-dispatch-", dir=args.tmp_dir) as tmp:
            root = Path(tmp)
            fake = root / "claude.sh"
            fake.write_text(FAKE_CLAUDE)
            fake.chmod(0o755)
            stamps = StampFile(root / "stamps.txt")
            ours, cli, ours_idle = run_ours(root, fake, stamps, gaps, args.cli_runs)
            seed_side, seed_idle = run_seed(root, fake, stamps, gaps)
    except KeyboardInterrupt:
        print("interrupted: children stopped, temp dir removed", file=sys.stderr)
        return 130

    ours_summary, seed_summary = Summary.of(ours), Summary.of(seed_side)
    print("time from add to the Claude process starting:")
    print("  " + ours_summary.line("ours", len(ours)))
    print("  " + seed_summary.line("seed", len(seed_side)))
    print(
        f"  ratio seed/ours: p50 {seed_summary.p50 / ours_summary.p50:.1f}x, "
        f"p99 {seed_summary.p99 / ours_summary.p99:.1f}x "
        f"(ours p50 {ours_summary.p50:.1f} ms vs target <= 100 ms: "
        f"{'met' if ours_summary.p50 <= 100 else 'NOT met'})"
    )
    print(
        f"idle CPU over {IDLE_SECONDS:.0f} s with no jobs: ours {ours_idle:.2f}% of a core, "
        f"seed {seed_idle:.2f}% (its polling back-off)"
    )
    if cli:
        walls = [wall for wall, _ in cli]
        starts = [start for _, start in cli]
        print(
            f"context: a whole `flowtui add` CLI subprocess takes {statistics.median(walls):.0f} ms "
            f"(median of {len(cli)}, min {min(walls):.0f}); "
            f"Claude started {statistics.median(starts):.0f} ms after launching it"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
