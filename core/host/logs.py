"""Where log lines go: a file in the data dir always, stderr too when there is no UI."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from core.errors import describe_os_error
from core.paths import Paths
from core.queue.transport import quiet_huey_logger

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFileHandler(RotatingFileHandler):
    """The log file; a failed write (a full disk, a permission) is one line on stderr, once,
    instead of Python's "--- Logging error ---" traceback for every record (under the UI,
    whose screen is stderr, nothing)."""

    def __init__(self, path: Path, report_to_stderr: bool) -> None:
        super().__init__(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        self.report_to_stderr = report_to_stderr
        self.failure: str | None = None
        """The first failed write, as the line reported."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if self.failure is not None:
            return  # said once already; the rest of the log would only repeat it
        what = describe_os_error(error) if isinstance(error, OSError) else str(error)
        self.failure = f"cannot write the log {self.baseFilename}: {what}; log lines are lost"
        if self.report_to_stderr:
            print(f"flowtui: {self.failure}", file=sys.stderr, flush=True)


def configure_logging(paths: Paths, to_stderr: bool) -> None:
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    file_handler = LogFileHandler(paths.log_file, report_to_stderr=to_stderr)
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
