"""A job in a few words (state symbol, timing, cost, an excerpt), the same on every surface."""

from __future__ import annotations

from datetime import datetime

from core.clock import parse_time
from core.display import one_line
from core.jobs import Job, JobState

STATE_SYMBOLS = {
    JobState.AWAITING_APPROVAL: "?",
    JobState.QUEUED: "…",
    JobState.RUNNING: "▶",
    JobState.SUCCEEDED: "✓",
    JobState.FAILED: "✗",
    JobState.CANCELLED: "⊘",
}


def excerpt(text: str, width: int) -> str:
    """Outside text on one line of at most ``width`` characters, control characters shown."""
    return one_line(text, width)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def job_timing(job: Job, now: datetime) -> str:
    """Duration once started (running so far, or total), else age since queued."""
    current = now
    if job.started_at:
        end = parse_time(job.finished_at) if job.finished_at else current
        return format_duration((end - parse_time(job.started_at)).total_seconds())
    return format_duration((current - parse_time(job.created_at)).total_seconds()) + " ago"


def format_cost(cost: float | None) -> str:
    return "-" if cost is None else f"${cost:.4f}"
