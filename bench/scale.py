"""Scale-out: no-op jobs per second with 1, 2 and 4 engine processes on Redis, beside SQLite.

Each engine process runs flowtui's real engine (ledger, queue, workers, leases, change
channel) with a runner that returns at once instead of starting Claude, so the numbers are
the cost of the durable bookkeeping itself: claim (with a lease), finish, events. The jobs
are queued first (N of them, through the same path as `flowtui add`), then the engines are
started and the clock runs until the ledger says every job succeeded.

A real `redis-server` is started on 127.0.0.1 on a free port (Debian's package).

Run: ``uv run python bench/scale.py [--jobs 2000] [--workers 1]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

CHILD = """
import os, signal, sys, threading
from pathlib import Path
from core.engine.engine import Engine
from core.jobs import JobState, RunOutcome
from core.paths import Paths
from core.config.settings import Settings, parse_settings

class NoopRunner:
    def run(self, request, control, on_spawn, on_note, on_event=None):
        return RunOutcome(state=JobState.SUCCEEDED, exit_code=0, cost_usd=0.0)

home = Path(sys.argv[1])
settings = parse_settings((home / "config.toml").read_text(), home / "config.toml")
engine = Engine(settings, Paths(home / "config.toml", home), environ=dict(os.environ), runner=NoopRunner())
engine.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
engine.stop()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def run_case(root: Path, name: str, url: str | None, engines: int, jobs: int, workers: int) -> float:
    from core.config.settings import parse_settings
    from core.host.state import open_shared_state
    from core.jobs import JobState
    from core.paths import Paths

    config = f'[engine]\nworkers = {workers}\n[queue]\nbackend = "{url or "sqlite"}"\n'
    homes = []
    for index in range(engines):
        home = root / f"{name}-{index}"
        home.mkdir()
        (home / "config.toml").write_text(config)
        homes.append(home)
    settings = parse_settings(config, "bench")
    if url is not None:
        import redis

        redis.Redis.from_url(url).flushdb()  # each case starts from an empty shared state
    control = open_shared_state(settings, Paths(homes[0] / "config.toml", homes[0]), {})
    for number in range(jobs):
        control.add(f"no-op {number}", cwd=root)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home)], cwd=PROJECT, stdout=subprocess.PIPE, text=True
        )
        for home in homes
    ]
    try:
        for child in children:
            assert child.stdout is not None
            child.stdout.readline()  # "ready": the clock starts when every engine is up
        start = time.perf_counter()
        while control.ledger.counts()[JobState.SUCCEEDED] < jobs:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)
        control.ledger.close()
    return jobs / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="worker threads per engine process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowtui-bench-scale-") as tmp:
        root = Path(tmp)
        redis_process, url = start_redis(root)
        try:
            results = {"sqlite x1": run_case(root, "sqlite", None, 1, args.jobs, args.workers)}
            for engines in (1, 2, 4):
                results[f"redis x{engines}"] = run_case(
                    root, f"redis{engines}", url, engines, args.jobs, args.workers
                )
        finally:
            redis_process.terminate()
            redis_process.wait(timeout=10)
    base = results["sqlite x1"]
    print(
        f"scale: {args.jobs:,} no-op durable jobs, {args.workers} worker thread(s) per engine process, "
        f"{os.cpu_count()} cores"
    )
    for name, rate in results.items():
        print(
            f"  {name:<10} {rate:>8,.0f} jobs/s   {rate / base:>5.2f}x sqlite x1   "
            f"{rate / results['redis x1']:>5.2f}x redis x1"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
