"""CPU of an idle engine with ten watches and Telegram configured vs one bare watchfiles watcher.

Both sides run at the same time, each a subprocess, over the same ten directories (each with a
few files and a subdirectory), so the machine's load weighs on both alike:
- ours: ``flowtui serve`` (``FLOWTUI_HOME`` in a temp dir) whose config has ten ``[[watch]]``
  tables, one per directory, and a ``[telegram]`` section with made-up credentials (the values
  of ``tests/fixtures/telegramkit.py``): the Telegram service starts and keeps trying to reach
  Telegram's servers, which cannot be reached here, as far as it can.
- bare: ``for changes in watchfiles.watch(*the ten directories): pass`` in a fresh Python.
After ``--warmup`` seconds nobody touches either; their CPU (user + system, of the process and
its children, from psutil) and their wake-ups (voluntary context switches summed over every
thread, from ``/proc/PID/task/*/status``) are measured over ``--seconds`` of wall time.
Reported: % of one core each side, wake-ups a second, the ratio, and the busiest threads of
ours (by wake-ups). Target: ours <= 0.3 % of a core.

Run: ``uv run python bench/idle.py [--seconds 60] [--warmup 10]``; about ``warmup + seconds``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
WATCHES = 10
TARGET_PERCENT = 0.3
READY_TIMEOUT = 60.0
TELEGRAM_CONFIG = """
[telegram]
api_id = 12345
api_hash = "0123456789abcdef0123456789abcdef"
bot_token = "4242:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
allowed_users = [111]
notify_chat_id = 111
"""
BARE_WATCHER = "import sys, watchfiles\nfor changes in watchfiles.watch(*sys.argv[1:]):\n    pass\n"


def make_tree(root: Path) -> list[Path]:
    """Ten directories with a few files each, as small projects look."""
    directories = []
    for number in range(WATCHES):
        directory = root / f"project-{number}"
        (directory / "src").mkdir(parents=True)
        for name in ("README.md", "notes.txt", "src/main.py", "src/util.py"):
            (directory / name).write_text(f"{name} of project {number}\n")
        directories.append(directory)
    return directories


def write_config(home: Path, directories: Sequence[Path]) -> None:
    watches = "".join(f'\n[[watch]]\npath = "{directory}"\n' for directory in directories)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(watches + TELEGRAM_CONFIG)


def tree_cpu(process: psutil.Process) -> float:
    """User + system seconds of ``process`` and its children alive now."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def thread_wakeups(pid: int) -> dict[int, tuple[str, int, float]]:
    """Each thread's name, voluntary context switches (a wake-up after a wait) and CPU seconds."""
    result: dict[int, tuple[str, int, float]] = {}
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir():
        try:
            name = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                result[int(task.name)] = (name, int(line.split()[1]), cpu)
    return result


def start(argv: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=env,
            cwd=PROJECT_DIR,
            start_new_session=True,
        )


def wait_ready(process: subprocess.Popen[bytes], log: Path, text: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}:\n{log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready within {READY_TIMEOUT:g} s:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="flowtui-idle-"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        directories = make_tree(root / "trees")
        home = root / "home"
        write_config(home, directories)
        env = {**os.environ, "FLOWTUI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        env.pop("FLOWTUI_QUEUE_URL", None)
        logs = {"ours": root / "ours.log", "bare": root / "bare.log"}
        processes["ours"] = start([sys.executable, "-m", "cli", "serve"], env, logs["ours"])
        processes["bare"] = start(
            [sys.executable, "-c", BARE_WATCHER + "\n", *map(str, directories)], env, logs["bare"]
        )
        wait_ready(processes["ours"], logs["ours"], "engine running")
        time.sleep(args.warmup)
        handles = {side: psutil.Process(process.pid) for side, process in processes.items()}
        cpu_before = {side: tree_cpu(handle) for side, handle in handles.items()}
        wakes_before = {side: thread_wakeups(process.pid) for side, process in processes.items()}
        wall_before = time.monotonic()
        time.sleep(args.seconds)
        wall = time.monotonic() - wall_before
        cpu = {side: tree_cpu(handle) - cpu_before[side] for side, handle in handles.items()}
        wakes_after = {side: thread_wakeups(process.pid) for side, process in processes.items()}
        for side, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{side} exited {process.returncode}:\n{logs[side].read_text()}")
    finally:
        for process in processes.values():
            stop(process)
        shutil.rmtree(root, ignore_errors=True)
    print(f"idle CPU over {wall:.1f} s after a {args.warmup:g} s warm-up, {WATCHES} watched directories")
    percent: dict[str, float] = {}
    for side, label in (("ours", "flowtui serve, 10 watches + Telegram"), ("bare", "bare watchfiles.watch")):
        percent[side] = 100 * cpu[side] / wall
        per_thread = {
            tid: (
                name,
                count - wakes_before[side].get(tid, (name, 0, 0.0))[1],
                cpu_s - wakes_before[side].get(tid, (name, 0, 0.0))[2],
            )
            for tid, (name, count, cpu_s) in wakes_after[side].items()
        }
        wakeups = sum(count for _, count, _ in per_thread.values())
        threads = len(per_thread)
        print(
            f"   {side:<5} {percent[side]:6.3f} % of a core  ({cpu[side]:.2f} s CPU, "
            f"{wakeups / wall:7.1f} wake-ups/s over {threads} threads)  {label}"
        )
        if side == "ours":
            busiest = sorted(per_thread.items(), key=lambda item: -item[1][1])[: args.threads]
            for tid, (name, count, cpu_s) in busiest:
                print(
                    f"            thread {tid:>7} {name:<16} {count / wall:7.2f} wake-ups/s "
                    f"{100 * cpu_s / wall:6.3f} % of a core"
                )
    ratio = percent["ours"] / percent["bare"] if percent["bare"] > 0 else float("inf")
    print(f"   ratio ours/bare: {ratio:.2f}x")
    verdict = "meets" if percent["ours"] <= TARGET_PERCENT else "misses"
    print(f"   target: ours <= {TARGET_PERCENT} % of a core: {verdict} it")
    print(f"   load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured idle time")
    parser.add_argument("--warmup", type=float, default=10.0, help="idle time before measuring")
    parser.add_argument("--threads", type=int, default=8, help="how many of ours' threads to list")
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
