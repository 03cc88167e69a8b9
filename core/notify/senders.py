"""Delivering one row to its channel: a webhook's JSON POST, an ntfy POST, or a command's stdin.

Every failure is a :class:`ChannelError` with a reason that names no secret (the URL is shown
as its host only): an HTTP 4xx other than 408 and 429 is permanent (the channel refuses this
message as it is), anything else (no connection, a time-out, a 5xx, a non-zero exit) is tried
again later.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
from typing import Any

import httpx2

from core.ledger.notifications import Notification
from core.notify.channels import Channel, redact_url
from core.telegram.config import redact

RETRY_STATUSES = frozenset({408, 425, 429})
"""4xx answers that mean "later", not "never"."""
LONGEST_RETRY_AFTER = 3600.0
OUTPUT_LIMIT = 300


class ChannelError(Exception):
    """A delivery failed; ``permanent`` ones are never tried again, others after ``retry_after``."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


def webhook_body(row: Notification) -> dict[str, Any]:
    """The JSON a webhook gets: the job's facts, the text, and which notification it is."""
    payload = dict(row.payload or {})
    payload.pop("tags", None)
    payload.pop("priority", None)
    return {"notification_id": row.id, "channel": row.channel, **payload, "text": row.text}


def ntfy_headers(row: Notification) -> dict[str, str]:
    """Title, Tags and Priority as ntfy reads them (non-ASCII titles RFC 2047 encoded)."""
    payload = row.payload or {}
    headers = {
        "Title": _header_value(str(payload.get("title") or "flowtui")),
        "Tags": ",".join(str(tag) for tag in payload.get("tags") or []),
        "Priority": str(payload.get("priority") or "default"),
    }
    return {key: value for key, value in headers.items() if value}


def _header_value(text: str) -> str:
    text = " ".join(text.split())
    if text.isascii():
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


async def deliver(channel: Channel, row: Notification, client: httpx2.AsyncClient) -> None:
    """Send ``row`` through ``channel``; raises :class:`ChannelError` when it did not arrive."""
    if channel.kind == "command":
        await run_command(channel, row.text)
    elif channel.kind == "webhook":
        await _post(channel, client, json_body=webhook_body(row))
    else:
        await _post(channel, client, text_body=row.text, headers=ntfy_headers(row))


async def _post(
    channel: Channel,
    client: httpx2.AsyncClient,
    *,
    json_body: dict[str, Any] | None = None,
    text_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    shown = redact_url(channel.url)
    timeout = channel.settings.timeout_seconds
    try:
        if json_body is not None:
            response = await client.post(channel.url, json=json_body, headers=headers, timeout=timeout)
        else:
            content = (text_body or "").encode()
            response = await client.post(channel.url, content=content, headers=headers, timeout=timeout)
    except httpx2.TimeoutException:
        raise ChannelError(f"no answer from {shown} within {timeout:g}s") from None
    except httpx2.HTTPError as error:
        raise ChannelError(f"cannot reach {shown}: {_cause(error, channel)}") from None
    if response.is_success:
        return
    status = response.status_code
    reason = f"{shown} answered HTTP {status} {response.reason_phrase}".rstrip()
    if 400 <= status < 500 and status not in RETRY_STATUSES:
        raise ChannelError(reason, permanent=True)
    raise ChannelError(reason, retry_after=_retry_after(response.headers.get("retry-after")))


def _cause(error: BaseException, channel: Channel) -> str:
    """The deepest cause's words (``Connection refused``), with any piece of the URL blanked."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    words = getattr(error, "strerror", None) or " ".join(str(error).split()) or type(error).__name__
    return redact(str(words), channel.secrets())


def _retry_after(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return min(max(float(value), 0.0), LONGEST_RETRY_AFTER)
    except ValueError:
        return 0.0  # an HTTP date: the back-off decides


async def run_command(channel: Channel, text: str) -> None:
    """Run the channel's argv (no shell) with ``text`` on stdin, in its own process group, ended
    (the whole group) after ``timeout_seconds``; a non-zero exit is a failure to retry."""
    argv = channel.argv
    timeout = channel.settings.timeout_seconds
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        raise ChannelError(f"cannot run {argv[0]}: {error.strerror or error}") from None
    try:
        _, stderr = await asyncio.wait_for(process.communicate(text.encode()), timeout)
    except TimeoutError:
        _end_group(process.pid)
        await process.wait()
        raise ChannelError(f"{argv[0]} did not finish within {timeout:g}s (ended)") from None
    except asyncio.CancelledError:
        _end_group(process.pid)
        raise
    if process.returncode != 0:
        said = " ".join(stderr.decode(errors="replace").split())[:OUTPUT_LIMIT]
        raise ChannelError(f"{argv[0]} exited with {process.returncode}" + (f": {said}" if said else ""))


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def body_preview(row: Notification) -> str:
    """What a webhook would be sent, for ``--json``-minded debugging (no URL in it)."""
    return json.dumps(webhook_body(row), ensure_ascii=False)
