"""A real, throw-away redis-server on 127.0.0.1 for tests (CI installs Debian's ``redis-server``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

SERVER_ENV = "FLOWTUI_TEST_REDIS_SERVER"
"""Path of the redis-server binary to use instead of the one on PATH."""


def find_redis_server() -> str | None:
    """``$FLOWTUI_TEST_REDIS_SERVER``, else ``redis-server`` on PATH or in Debian's sbin/bin."""
    override = os.environ.get(SERVER_ENV, "").strip()
    if override:
        return override if Path(override).exists() else None
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server", "/usr/sbin/redis-server"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """Starts redis-server on a free loopback port, without persistence, in a temp dir.

    Another process may take the port between probing and binding, so a failed start is
    retried on a fresh port a few times.
    """

    def __init__(self, binary: str, start_timeout: float = 10.0) -> None:
        self.binary = binary
        self.start_timeout = start_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def __enter__(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="flowtui-redis-")
        failures: list[str] = []
        for _ in range(5):
            self.port = free_port()
            reason = self._start(Path(self._dir.name))
            if reason is None:
                return self
            failures.append(reason)
        self.stop()
        raise RuntimeError("redis-server did not start: " + "; ".join(failures))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self, workdir: Path) -> str | None:
        """Start and wait for PING; the reason it failed, or None once it answers."""
        log = workdir / f"redis-{self.port}.log"
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(log),
            "--daemonize",
            "no",
        ]
        self._process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + self.start_timeout
        try:
            while time.monotonic() < deadline:
                code = self._process.poll()
                if code is not None:
                    tail = log.read_text(errors="replace")[-500:].strip() if log.exists() else ""
                    self._process = None
                    return f"exited with code {code} on port {self.port}: {tail}"
                try:
                    if client.ping():
                        return None
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self._terminate()
        return f"no answer on port {self.port} within {self.start_timeout} s"

    def send_signal(self, signum: int) -> None:
        """SIGSTOP and SIGCONT stall and resume the server (its port keeps accepting connections)."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signum)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        self._terminate()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
