"""What a ``[[notify]]`` channel is told: a title, the text (as Telegram words it, without
buttons), and the job's facts for a webhook's JSON, fixed when the row is queued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config.settings import NotifyEvent
from core.jobs import Job
from core.telegram.notify import approval_message, job_body, job_header, question_message

TEXT_LIMIT = 4000
"""ntfy keeps a message up to 4,096 bytes as text; a desktop notification wants less still."""
TAGS = {"succeeded": "white_check_mark", "failed": "x", "cancelled": "no_entry", "needs_you": "question"}
"""ntfy's emoji short codes, one per event."""
PRIORITIES = {"succeeded": "default", "failed": "high", "cancelled": "default", "needs_you": "high"}


@dataclass(frozen=True)
class ChannelMessage:
    """One notification for a channel: ``text`` is its body, ``payload`` its JSON facts."""

    text: str
    payload: dict[str, Any]


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def job_message(job: Job, event: NotifyEvent, text: str | None = None) -> ChannelMessage:
    """The message about ``job`` for ``event``; ``text`` defaults to the finish message's."""
    if text is None:
        text = f"{job_header(job)}\n\n{job_body(job)}"
    title = _title(job, event)
    payload: dict[str, Any] = {
        "event": event,
        "title": title,
        "job_id": job.id,
        "state": str(job.state),
        "workflow": job.workflow,
        "source": job.source,
        "trigger": job.trigger,
        "cwd": job.cwd,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "cost_usd": job.cost_usd,
        "tags": [TAGS[event]],
        "priority": PRIORITIES[event],
    }
    return ChannelMessage(clip(text), payload)


def approval(job: Job) -> ChannelMessage:
    text, _ = approval_message(job)
    return job_message(job, "needs_you", f"{text}\n\nflowtui approve {job.id} / flowtui deny {job.id}")


def question(job: Job) -> ChannelMessage | None:
    asked = question_message(job)
    if asked is None:
        return None
    return job_message(
        job,
        "needs_you",
        f"{asked[0]}\n\nanswer in the window, on Telegram, or with "
        f"`flowtui approve {job.id}` / `flowtui deny {job.id}`",
    )


def _title(job: Job, event: NotifyEvent) -> str:
    if event == "needs_you":
        return f"flowtui: job #{job.id} needs you ({job.workflow})"
    return f"flowtui: job #{job.id} {event} ({job.workflow})"
