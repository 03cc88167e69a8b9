"""Each watch's status, kept in the ledger so ``flowtui watch ls`` in another process sees it."""

from __future__ import annotations

import errno
import json
import socket
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from core.ledger.store import LedgerStore

STATUS_FLAG_PREFIX = "watch.status:"
"""One key per machine: with a shared (Redis) ledger, each machine watches its own paths."""

WatchState = Literal["starting", "active", "missing", "error", "disabled"]


@dataclass(frozen=True)
class WatchStatus:
    """A watch's health as every process sees it: active, missing or failing, and why."""

    state: WatchState
    reason: str = ""
    """Why it is missing or failing, or what is wrong with part of the tree; empty when all is well."""
    last_event: str | None = None
    """When a change that counts last arrived (UTC ISO)."""
    since: str | None = None
    """When the state last changed (UTC ISO)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_statuses(ledger: LedgerStore) -> dict[str, WatchStatus]:
    """What the running engine last wrote, by watch path (empty when it wrote nothing)."""
    raw = ledger.get_flag(status_flag())
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    statuses: dict[str, WatchStatus] = {}
    for path, fields in data.items():
        if isinstance(fields, dict) and fields.get("state") in get_args(WatchState):
            statuses[path] = WatchStatus(
                state=fields["state"],
                reason=str(fields.get("reason") or ""),
                last_event=fields.get("last_event"),
                since=fields.get("since"),
            )
    return statuses


def write_statuses(ledger: LedgerStore, statuses: dict[str, WatchStatus]) -> None:
    payload = {path: status.to_dict() for path, status in sorted(statuses.items())}
    ledger.set_flag(status_flag(), json.dumps(payload) if payload else None)


def status_flag() -> str:
    return STATUS_FLAG_PREFIX + socket.gethostname()


def describe_os_error(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"symlink loop: {error.filename or ''}".rstrip(": ")
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"cannot be read: permission denied ({error.filename or ''})".replace(" ()", "")
    if error.errno == errno.ENOTDIR:
        return f"a path component is not a directory: {error.filename or ''}".rstrip(": ")
    return f"{error.strerror or error}"
