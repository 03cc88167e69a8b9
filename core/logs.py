"""Where log lines go: a file in the data dir always, stderr too when there is no UI."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler

from core.paths import Paths
from core.queue import quiet_huey_logger

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(paths: Paths, to_stderr: bool) -> None:
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    file_handler = RotatingFileHandler(
        paths.logs_dir / "flowtui.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if to_stderr:
        stream_handler = logging.StreamHandler(sys.stderr)
        stream_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(stream_handler)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.INFO)
    quiet_huey_logger(file_handler)
