"""A failure the user can act on (a full disk, a permission, the ledger, the shared queue) as one line:
the thing, what went wrong, and what to do."""

from __future__ import annotations

import errno
import logging
import sqlite3
import sys


class ConfigError(Exception):
    """A config problem, already phrased as the one line the user sees."""


class InputError(Exception):
    """A bad id or argument, phrased as the one line the user sees."""


_WRITABLE = "make it writable, or set FLOWTUI_HOME to a directory you can write"
_FIXES = {
    errno.ENOSPC: "the disk is full: free some space and try again",
    errno.EDQUOT: "the disk quota is used up: free some space and try again",
    errno.EACCES: f"permission denied: {_WRITABLE}",
    errno.EPERM: f"operation not permitted: {_WRITABLE}",
    errno.EROFS: "the file system is read-only: set FLOWTUI_HOME to a writable directory",
    errno.ENOENT: "no such file or directory: check the path (and FLOWTUI_HOME)",
    errno.ENOTDIR: "a part of the path is not a directory: check the path (and FLOWTUI_HOME)",
}


def describe_os_error(error: OSError) -> str:
    """``PATH: what went wrong: what to do``; the path is left out when the error names none."""
    what = _FIXES.get(error.errno or 0) or error.strerror or str(error) or "refused without a reason"
    where = error.filename
    if where is not None and error.filename2 is not None:
        where = f"{where} -> {error.filename2}"
    return f"{where}: {what}" if where is not None else what


QUEUE_HINT = "check [queue] backend / FLOWTUI_QUEUE_URL"


def describe_queue_error(error: BaseException) -> str | None:
    """One line for a Redis failure of the shared queue, or None when ``error`` is not one."""
    redis = sys.modules.get("redis")  # loaded only when a Redis queue is in use
    if redis is None:
        return None
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        return f"the shared queue is unreachable ({error}): {QUEUE_HINT}"
    if isinstance(error, redis.RedisError):
        return f"the shared queue refused the request ({error}): {QUEUE_HINT}"
    return None


def log_failure(
    logger: logging.Logger, what: str, error: BaseException, level: int = logging.WARNING
) -> str | None:
    """Log ``what`` failed: one line for a failure the user can act on (returned, to show),
    the traceback for anything else (None: a bug, with no sentence to show)."""
    line = describe_failure(error)
    if line is None:
        logger.error("%s", what, exc_info=error)
    else:
        logger.log(level, "%s: %s", what, line)
    return line


def describe_failure(error: BaseException) -> str | None:
    """The one line for a failure the user can act on (the config, the disk, the ledger, the
    queue, a missing extra), or None for anything else: a bug, whose traceback belongs in the log."""
    from core.extras import MissingExtra  # extras' hints are built from this module's words

    if isinstance(error, ConfigError | InputError | MissingExtra):
        return str(error)
    if isinstance(error, OSError):
        return describe_os_error(error)
    if isinstance(error, sqlite3.Error):
        return f"the ledger cannot be used ({error}): run `flowtui doctor`"
    return describe_queue_error(error)
