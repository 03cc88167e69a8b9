"""``flowtui serve``: the engine with no UI, until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from core.config.settings import Settings
from core.engine.engine import Engine
from core.host.logs import configure_logging
from core.host.services import default_services
from core.paths import Paths
from core.wake.lock import EngineBusy


def serve_forever(settings: Settings, paths: Paths) -> int:
    paths.ensure_data_dir()
    configure_logging(paths, to_stderr=True)
    environ = dict(os.environ)
    engine = Engine(settings, paths, environ=environ, services=default_services(settings, paths, environ))
    try:
        engine.start()
    except EngineBusy as busy:
        print(
            f"flowtui serve: an engine already runs for {paths.data_dir} "
            f"(pid {busy.holder.pid}, since {busy.holder.since})",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(
        f"flowtui serve: engine running for {paths.data_dir} (pid {os.getpid()})", file=sys.stderr, flush=True
    )
    while not stop.wait(3600):
        pass
    engine.stop()
    return 0
