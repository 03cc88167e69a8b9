"""Plain-text views of jobs for the CLI: the job table and one job's details."""

from __future__ import annotations

import json
from datetime import datetime

from core.display import one_line, printable
from core.jobs import Job, JobEvent
from core.ops.review import JobChanges, format_stat
from core.summary import STATE_SYMBOLS, excerpt, format_cost, job_timing


def format_job_table(jobs: list[Job], now: datetime) -> str:
    if not jobs:
        return "no jobs yet: queue one with `flowtui add PROMPT`"
    header = (
        f"{'ID':>5}  {'STATE':<19} {'WORKFLOW':<12} {'SOURCE':<9} {'TRY':>5} {'TIME':>10} {'COST':>9}  PROMPT"
    )
    lines = [header]
    for job in jobs:
        lines.append(
            f"{job.id:>5}  {STATE_SYMBOLS[job.state]} {job.state:<17} {excerpt(job.workflow, 12):<12} "
            f"{job.source:<9} {job.attempts:>2}/{job.max_attempts:<2} {job_timing(job, now):>10} "
            f"{format_cost(job.cost_usd):>9}  {excerpt(job.prompt, 50)}"
        )
    return "\n".join(lines)


def format_job_detail(job: Job, events: list[JobEvent], changes: JobChanges | None = None) -> str:
    rows = [
        ("state", f"{STATE_SYMBOLS[job.state]} {job.state}"),
        ("workflow", job.workflow),
        ("source", job.source + (f" (from #{job.parent_id})" if job.parent_id else "")),
        ("cwd", job.cwd),
        ("trigger", job.trigger or "-"),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("priority", str(job.priority)),
        ("created", job.created_at),
        ("started", job.started_at or "-"),
        ("finished", job.finished_at or "-"),
        ("exit code", "-" if job.exit_code is None else str(job.exit_code)),
        ("cost", format_cost(job.cost_usd)),
        ("tokens", f"{job.input_tokens or 0} in / {job.output_tokens or 0} out"),
        ("turns", "-" if job.turns is None else str(job.turns)),
        ("session", job.session_id or "-"),
        ("transcript", job.transcript_path or "-"),
    ]
    if job.worktree:
        rows.append(
            ("worktree", f"{job.worktree} on {job.branch} (from {job.base_branch or 'a detached HEAD'})")
        )
        rows.append(("review", _review(job)))
    if job.error:
        rows.append(("error", job.error))
    width = max(len(name) for name, _ in rows)
    lines = [f"job #{job.id}: {excerpt(job.prompt, 70)}"]
    lines += [f"  {name:<{width}}  {one_line(value)}" for name, value in rows]
    lines.append("")
    lines.append("events:")
    lines += [f"  {event.at}  {event.state:<9}  {one_line(event.reason)}" for event in events]
    if changes is not None and (changes.files or changes.in_git):
        lines += [
            "",
            "changes:" if changes.in_git else "files its edits named:",
            printable(format_stat(changes)),
        ]
    if job.answer:
        lines += ["", "answer:", printable(job.answer)]
    if job.structured_output:
        structured = json.dumps(job.structured_value, indent=2, ensure_ascii=False)
        lines += ["", "structured output:", printable(structured)]
    return "\n".join(lines)


def _review(job: Job) -> str:
    if job.changes_to_review:
        return (
            f"changes to review: `flowtui diff {job.id}`, then `flowtui keep {job.id}` or `discard {job.id}`"
        )
    return job.review or "-"
