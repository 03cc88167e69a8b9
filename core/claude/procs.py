"""Process groups: ending a Claude run and everything it started, and finding leftovers.

Claude is started as the leader of its own session, so its MCP servers and tools share
its process group and one signal reaches them all. A pid is only trusted together with
its start time, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import time

import psutil


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_same_process(pid: int, started: float | None) -> bool:
    """True when ``pid`` is still the process that started at ``started``."""
    if started is None:
        return False
    now_started = process_start_time(pid)
    return now_started is not None and abs(now_started - started) < 0.05


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def end_process_group(pgid: int, grace_seconds: float) -> bool:
    """SIGTERM the whole group, SIGKILL what is left after the grace period.

    Returns True when no member of the group is left.
    """
    if not _signal_group(pgid, signal.SIGTERM):
        return True
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.05)
    return not _group_alive(pgid)


def end_leftover(pid: int | None, started: float | None, grace_seconds: float) -> str | None:
    """End what a dead engine's job left running; returns what was done, for the job's history."""
    if pid is None:
        return None
    if is_same_process(pid, started):
        end_process_group(pid, grace_seconds)
        return f"ended leftover claude process group {pid}"
    if process_start_time(pid) is None and _group_alive(pid):
        # The leader is gone but its children kept the group; the pgid cannot be
        # reused while they live, so it still names them.
        end_process_group(pid, grace_seconds)
        return f"ended leftover children of claude process {pid}"
    return None


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    # killpg with signal 0 succeeds while any member (zombies too) exists; reap-free
    # check via psutil so zombies of our own children do not count.
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_is_live(member) for member in group_members(pgid))


def _is_live(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
