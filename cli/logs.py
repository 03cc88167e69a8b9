"""``flowtui logs``: a job's transcripts rendered (or raw), and followed like ``tail -f``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from core.claude.events import parse_event
from core.claude.tail import TranscriptTail
from core.claude.transcript import TranscriptRenderer, decode_transcript_line
from core.jobs import Job
from core.ops.control import Control
from core.paths import Paths

FOLLOW_POLL_SECONDS = 0.1

Writer = Callable[[str], None]


def _render_lines(lines: Iterator[bytes], renderer: TranscriptRenderer, raw: bool) -> str:
    """The readable text, where every control sequence a tool printed (ANSI colours, cursor
    moves, titles) shows as a visible escape; ``raw`` gives the lines exactly as stored, for
    a pipe into ``jq`` or a terminal that should obey them."""
    parts = []
    for line in lines:
        if raw:
            parts.append(line.decode("utf-8", "replace") + "\n")
            continue
        parts.append(renderer.feed_all(parse_event(decode_transcript_line(line))))  # escaped there
    return "".join(parts)


def print_logs(
    control: Control,
    paths: Paths,
    job_id: int,
    write: Writer,
    raw: bool = False,
    follow: bool = False,
    attempt: int | None = None,
) -> None:
    """Every attempt's transcript in order (or just ``attempt``); with ``follow``, keep
    printing while the job runs (retries included) and return when it ends."""
    current = attempt or 1
    while True:
        job = control.get(job_id)
        if not raw and attempt is None and (current > 1 or job.attempts > 1):
            write(f"{chr(10) if current > 1 else ''}── attempt {current} ──\n")
        tail = TranscriptTail(paths.transcript_for(job_id, current))
        renderer = TranscriptRenderer()
        write(_render_lines(tail.new_lines(), renderer, raw))
        while follow and not (_attempt_over(control.get(job_id), current) and tail.caught_up):
            time.sleep(FOLLOW_POLL_SECONDS)
            write(_render_lines(tail.new_lines(), renderer, raw))
        write(_render_lines(tail.new_lines(), renderer, raw))
        job = control.get(job_id)
        if attempt is not None:
            return
        if current < job.attempts:
            current += 1
            continue
        if not follow or job.state.is_final:
            return
        _wait_for_next_attempt(control, job_id, current)  # queued for a retry
        if control.get(job_id).attempts <= current:
            return
        current += 1


def _attempt_over(job: Job, attempt: int) -> bool:
    """This attempt wrote its last line: a later attempt began, or the job stopped running."""
    return job.attempts > attempt or (job.attempts == attempt and job.state.value != "running")


def _wait_for_next_attempt(control: Control, job_id: int, current: int) -> None:
    while True:
        job = control.get(job_id)
        if job.attempts > current or job.state.is_final:
            return
        time.sleep(FOLLOW_POLL_SECONDS)
