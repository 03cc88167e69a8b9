"""``flowtui serve``: the engine with no UI, until SIGINT or SIGTERM; and the background
engine a window hands its jobs to when the user quits but wants them to go on.

The hand-off: the window starts ``flowtui serve --wait`` detached from its terminal, which
waits for the engine lock; the window then stops its engine (its running Claude processes
are its children over pipes and cannot be adopted, so their attempts are interrupted without
being counted) and the serve process takes the lock, recovers and runs them again at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from core.config.settings import Settings
from core.engine.engine import Engine
from core.host.logs import configure_logging
from core.host.services import default_services
from core.paths import HOME_ENV, Paths
from core.wake.lock import EngineBusy, read_holder

log = logging.getLogger(__name__)

HANDOFF_WAIT_SECONDS = 30.0
"""How long a closing window waits for its background engine to hold the lock (its start
imports the engine and its services: about a second here)."""


class _StopWaiting(Exception):
    """SIGINT/SIGTERM while ``serve --wait`` waits for the lock: leave without an engine."""


def serve_forever(settings: Settings, paths: Paths, wait: bool = False) -> int:
    """Run the engine until SIGINT/SIGTERM. With ``wait`` a running engine is waited for
    (the window handing its jobs over stops it next) instead of refused."""
    paths.ensure_data_dir()
    configure_logging(paths, to_stderr=True)
    environ = dict(os.environ)
    engine = Engine(settings, paths, environ=environ, services=default_services(settings, paths, environ))
    stop = threading.Event()
    waiting = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()
        if waiting:
            raise _StopWaiting  # ends the blocking wait for the lock (a handler that returns would not)

    # Before the engine starts, so a signal during its start stops it cleanly right after.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while True:
        try:
            engine.start()
            break
        except EngineBusy as busy:
            if not wait:
                print(
                    f"flowtui serve: an engine already runs for {paths.data_dir} "
                    f"(pid {busy.holder.pid}, since {busy.holder.since})",
                    file=sys.stderr,
                )
                return 1
            print(
                f"flowtui serve: waiting for the engine (pid {busy.holder.pid}) to stop",
                file=sys.stderr,
                flush=True,
            )
            waiting = True
            try:
                if stop.is_set():
                    return 0
                wait_for_vacancy(paths.engine_lock)
            except _StopWaiting:
                return 0
            finally:
                waiting = False
    print(
        f"flowtui serve: engine running for {paths.data_dir} (pid {os.getpid()})", file=sys.stderr, flush=True
    )
    while not stop.wait(3600):
        pass
    engine.stop()
    return 0


def wait_for_vacancy(lock_path: Path) -> None:
    """Block until no process holds the engine lock (the kernel wakes us, no polling); another
    engine may still be quicker to take it, so the caller tries again."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def serve_log(paths: Paths) -> Path:
    """Where a background engine's own output goes (its log lines go to the log file too):
    what it says before its logging is set up, a crash, the lines of ``flowtui serve``."""
    return paths.logs_dir / "serve.log"


def start_background_engine(paths: Paths, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``flowtui serve --wait`` detached from this terminal (its own session, so closing
    the terminal does not hang it up; no stdin; output to the data dir's serve log)."""
    paths.ensure_data_dir()
    env = dict(environ)
    if paths == Paths.under(paths.data_dir):
        env[HOME_ENV] = str(paths.data_dir)  # the same profile, whatever this process resolved
    with serve_log(paths).open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--wait"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=env,
            start_new_session=True,
            close_fds=True,
        )


def wait_for_background_engine(
    paths: Paths, process: subprocess.Popen[bytes], timeout: float = HANDOFF_WAIT_SECONDS
) -> bool:
    """Whether ``process`` holds the engine lock within ``timeout`` (False when it ended or
    another engine took the lock), so the window can say where its jobs went."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = read_holder(paths.engine_lock)
        if holder is not None and holder.pid == process.pid:
            return True
        if process.poll() is not None:
            return False
        if holder is not None and holder.pid not in (process.pid, os.getpid()):
            return False  # another window took the engine over: the jobs run there
        time.sleep(0.05)
    return False


def handoff_report(paths: Paths, process: subprocess.Popen[bytes], running: int | None) -> str:
    """The one line a window leaves on the terminal after handing its jobs over: where they
    went and what to do next, or, when the background engine did not take over, what happens
    to them then."""
    pid = process.pid
    if running is None:
        jobs = "the running jobs keep"
    else:
        jobs = f"{running} job{'s keep' if running != 1 else ' keeps'}"
    if wait_for_background_engine(paths, process):
        return (
            f"{jobs} running in the background (pid {pid}); run flowtui to watch them, "
            f"flowtui jobs to list them, flowtui pause to take no new ones, kill {pid} to stop it"
        )
    if process.poll() is None:
        process.terminate()  # it would take the engine over later, when nobody expects it
    return (
        f"the background engine (pid {pid}) did not take over (see {serve_log(paths)}): "
        "the interrupted jobs run again when an engine starts (flowtui or flowtui serve)"
    )
