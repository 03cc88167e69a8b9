"""GitHub webhooks: the signature check and the prompt a delivery becomes.

GitHub signs the raw body with the webhook's secret (HMAC-SHA256, ``X-Hub-Signature-256:
sha256=HEX``); only a delivery whose signature matches is read at all. The prompt summarises the
event in a few lines and then gives the payload as GitHub sent it, so Claude sees every field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_PREFIX = "sha256="


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=`` and the HMAC-SHA256 of ``body`` (constant-time)."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len(SIGNATURE_PREFIX) :].strip().encode())


def signature_for(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body`` (for tests and tools)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_summary(event: str, payload: dict[str, Any]) -> list[str]:
    """The few facts most events carry (repository, action, ref, who, what), as lines."""
    lines = [f"GitHub event: {event}"]
    repository = payload.get("repository")
    if isinstance(repository, dict) and repository.get("full_name"):
        lines.append(f"repository: {repository['full_name']}")
    for key in ("action", "ref", "before", "after"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            lines.append(f"{key}: {value}")
    sender = payload.get("sender")
    if isinstance(sender, dict) and sender.get("login"):
        lines.append(f"sender: {sender['login']}")
    for key in ("pull_request", "issue", "release", "workflow_run", "check_run", "comment"):
        item = payload.get(key)
        if isinstance(item, dict):
            title = item.get("title") or item.get("name") or item.get("tag_name") or ""
            number = item.get("number")
            label = f"#{number} " if number is not None else ""
            url = item.get("html_url") or ""
            lines.append(f"{key}: {label}{title} {url}".rstrip())
    commits = payload.get("commits")
    if isinstance(commits, list) and commits:
        lines.append(f"commits: {len(commits)}")
    return lines


def github_prompt(event: str, delivery: str | None, payload: dict[str, Any]) -> str:
    """The job's prompt: the summary, then the whole payload as JSON, literally."""
    lines = event_summary(event, payload)
    if delivery:
        lines.append(f"delivery: {delivery}")
    body = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True)
    return "\n".join([*lines, "", "The webhook's payload, as GitHub sent it:", body])


def trigger_name(event: str, payload: dict[str, Any]) -> str:
    """What the job's ``trigger`` column says: ``github push owner/repo``."""
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return f"github {event}" + (f" {name}" if isinstance(name, str) and name else "")
