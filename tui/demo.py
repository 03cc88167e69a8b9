"""Demo states of the shared state, used by the snapshot tests and the screenshot command.

Everything is fixed (times, costs, ids) so pictures are the same on every machine.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.claude.conversation import Question, describe_input
from core.clock import Clock, zone_named
from core.config.settings import WorkflowSettings, load_settings
from core.host.session import Session
from core.jobs import JobState, RunOutcome
from core.ledger.notifications import Draft, NotificationStore
from core.ledger.sqlite import Ledger, NewJob
from core.paths import Paths
from core.watch.status import WatchStatus, write_statuses
from tui.app import FlowtuiApp, build_app
from tui.sources import Sources

DEMO_NOW = datetime(2026, 11, 25, 9, 30, 0, tzinfo=UTC)
DEMO_CLOCK = Clock.frozen(DEMO_NOW, zone_named("UTC"))
"""Everything the demo draws reads this clock, in a pinned zone: the scenes are the same on
any date and in any $TZ."""

_DEMO_JOBS: list[tuple[str, str, str, JobState, RunOutcome | None, tuple[str, str | None, str | None]]] = [
    (
        "Summarise the changes in notes/today.md",
        "default",
        "watch",
        JobState.SUCCEEDED,
        RunOutcome(
            JobState.SUCCEEDED,
            exit_code=0,
            cost_usd=0.0213,
            input_tokens=3420,
            output_tokens=251,
            turns=2,
            answer="Three notes were added today.",
        ),
        ("09:01:00", "09:01:02", "09:01:31"),
    ),
    (
        "Fix the failing test in tests/test_parser.py",
        "fix-tests",
        "telegram",
        JobState.FAILED,
        RunOutcome(JobState.FAILED, error="API Error: 400 prompt is too long", exit_code=1, cost_usd=0.0042),
        ("09:10:00", "09:10:01", "09:10:03"),
    ),
    (
        "Draft a reply to the landlord about the boiler",
        "default",
        "cli",
        JobState.CANCELLED,
        RunOutcome(JobState.CANCELLED, error="cancelled by the user"),
        ("09:12:00", "09:12:01", "09:13:00"),
    ),
    (
        "Review the diff of feature/export and list risks",
        "review",
        "cli",
        JobState.RUNNING,
        None,
        ("09:28:00", "09:28:40", None),
    ),
    (
        "Rename photos in ~/Pictures/2026 by date taken",
        "default",
        "schedule",
        JobState.QUEUED,
        None,
        ("09:29:30", None, None),
    ),
]


_DEMO_TRANSCRIPT = [
    {
        "type": "system",
        "subtype": "init",
        "session_id": "5f1c9e2a-demo",
        "model": "claude-sonnet-4-6",
        "cwd": "/home/me/notes",
        "tools": ["Bash", "Read"],
    },
    {
        "type": "assistant",
        "message": {
            "content": [
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "Bash",
                    "input": {"command": "git diff --stat notes/today.md"},
                }
            ]
        },
    },
    {
        "type": "user",
        "message": {
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": " notes/today.md | 12 ++++++++----\n"
                    " 1 file changed, 8 insertions(+), 4 deletions(-)",
                }
            ]
        },
    },
    *[
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": piece}},
        }
        for piece in (
            "Three notes were added today:\n",
            "- call the plumber about the boiler\n",
            "- book train tickets for Friday\n",
            "- renew the library books\n",
            "The boiler note is the urgent one: the landlord wants the plumber's invoice before the end of"
            " the month, the plumber can only come on Thursday morning, and the train on Friday leaves at"
            " 07:40, so the library books have to go back on Thursday evening at the latest.\n",
        )
    ],
    {
        "type": "assistant",
        "message": {"content": [{"type": "text", "text": "Three notes were added today: ..."}]},
    },
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "Three notes were added today.",
        "total_cost_usd": 0.0213,
        "num_turns": 2,
        "duration_ms": 29000,
        "session_id": "5f1c9e2a-demo",
        "usage": {"input_tokens": 3420, "output_tokens": 251},
    },
]


_DEMO_STREAMING = [
    {
        "type": "system",
        "subtype": "init",
        "session_id": "9b7d-demo",
        "model": "claude-sonnet-4-6",
        "cwd": "/home/me/src/shop",
        "tools": ["Bash", "Read"],
    },
    {
        "type": "assistant",
        "message": {
            "content": [
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "Bash",
                    "input": {"command": "git diff main...feature/export"},
                }
            ]
        },
    },
    {
        "type": "user",
        "message": {
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": "\n".join(f"+ line {n}" for n in range(14)),
                }
            ]
        },
    },
    {
        "type": "system",
        "subtype": "api_retry",
        "attempt": 1,
        "max_retries": 10,
        "retry_delay_ms": 2100,
        "error_status": 529,
    },
    *[
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": piece}},
        }
        for piece in (
            "Risks in feature/export:\n",
            "1. The CSV writer ignores the locale's ",
            "decimal separator.\n",
            "2. Exports over 10,000 rows ",
        )
    ],
]


def seed_demo_jobs(paths: Paths) -> None:
    """Five jobs, one in every state, with fixed times; the finished one has a transcript."""
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db, clock=DEMO_CLOCK)
    try:
        for prompt, workflow, source, state, outcome, times in _DEMO_JOBS:
            job = ledger.create(NewJob(prompt, workflow, source, "/tmp", max_attempts=3), "added by demo")
            if state is not JobState.QUEUED:
                ledger.claim(job.id, owner_pid=1)
            transcript = None
            if state in (JobState.SUCCEEDED, JobState.RUNNING):
                lines = _DEMO_TRANSCRIPT if state is JobState.SUCCEEDED else _DEMO_STREAMING
                transcript = paths.transcript_for(job.id, 1)
                transcript.write_text("".join(json.dumps(line) + "\n" for line in lines))
                ledger.record_process(job.id, 4242, 0.0, str(transcript))
            if outcome is not None:
                ledger.finish(job.id, outcome)
            freeze_times(ledger, job.id, times, session="5f1c9e2a-demo" if transcript else None)
    finally:
        ledger.close()


_DEMO_NOTIFICATIONS = [
    (1, "✓ #1 succeeded · default · watch notes/today.md · 29s · $0.0213", "sent", None, "09:01:32"),
    (
        2,
        "✗ #2 failed · fix-tests · telegram · API Error: 400 prompt is too long",
        "failed",
        "chat not found (400)",
        "09:10:04",
    ),
    (3, "⊘ #3 cancelled · default · cli", "pending", None, "09:13:01"),
]


_DEMO_CONFIG = """\
[[watch]]
path = "/home/me/notes"
include = ["*.md"]

[[watch]]
path = "/home/me/src/shop"
workflow = "fix-tests"

[[watch]]
path = "/mnt/usb/photos"
"""


def seed_demo_watches(paths: Paths) -> None:
    """Three watches: active, active with a recent change, and one whose path is missing."""
    paths.config_file.write_text(_DEMO_CONFIG)
    ledger = Ledger(paths.ledger_db, clock=DEMO_CLOCK)
    try:
        write_statuses(
            ledger,
            {
                "/home/me/notes": WatchStatus("active", last_event="2026-11-25T09:00:58.000Z"),
                "/home/me/src/shop": WatchStatus("active", last_event="2026-11-25T09:09:57.000Z"),
                "/mnt/usb/photos": WatchStatus("missing", reason="the path does not exist (yet)"),
            },
        )
    finally:
        ledger.close()


def seed_demo_notifications(paths: Paths) -> None:
    """Three notifications: sent, failed, and one waiting out a flood limit."""
    store = NotificationStore(paths.ledger_db, DEMO_CLOCK)
    try:
        for job_id, text, state, error, at in _DEMO_NOTIFICATIONS:
            (row,) = store.enqueue([Draft(chat_id=11111111, text=text, kind="job", job_id=job_id)])
            if state == "sent":
                store.mark_sent(row, message_id=100 + job_id)
            elif state == "failed":
                store.mark_failed(row.id, error or "")
            else:
                store.mark_retry(row.id, "FloodWait: 42 s", retry_at=4_102_444_800.0, count_attempt=False)
            stamp = f"2026-11-25T{at}.000Z"
            store._conn.execute(  # demo data only: fixed times for the pictures
                "UPDATE notifications SET created_at = ?, sent_at = CASE WHEN sent_at IS NULL THEN NULL"
                " ELSE ? END WHERE id = ?",
                (stamp, stamp, row.id),
            )
    finally:
        store.close()


def freeze_times(
    ledger: Ledger, job_id: int, times: tuple[str, str | None, str | None], session: str | None
) -> None:
    """Fixed times (and no live pids), so the pictures never change."""
    created, started, finished = (f"2026-11-25T{t}.000Z" if t else None for t in times)
    conn = ledger._conn  # demo data only: the ledger has no API for rewriting history, on purpose
    conn.execute(
        "UPDATE jobs SET created_at = ?, started_at = ?, finished_at = ?, owner_pid = NULL,"
        " claude_pid = NULL, claude_started = NULL, session_id = coalesce(?, session_id) WHERE id = ?",
        (created, started, finished, session, job_id),
    )
    stamps = [created, started, started, finished]
    event_ids = [
        row[0] for row in conn.execute("SELECT id FROM job_events WHERE job_id = ? ORDER BY id", (job_id,))
    ]
    for event_id, stamp in zip(event_ids, stamps, strict=False):
        conn.execute("UPDATE job_events SET at = ? WHERE id = ?", (stamp or created, event_id))


def demo_app(root: Path, seed: bool) -> FlowtuiApp:
    """The production app over a demo data dir, with no engine and a frozen clock."""
    paths = Paths.under(root)
    if seed:
        seed_demo_jobs(paths)
        seed_demo_notifications(paths)
        seed_demo_watches(paths)
    demo_workflows = {"fix-tests": WorkflowSettings(), "review": WorkflowSettings()}
    loaded = load_settings(paths.config_file)
    settings = dataclasses.replace(loaded, workflows={**demo_workflows, **loaded.workflows})
    return build_app(
        settings,
        paths,
        lambda: Session.detached(settings, paths, clock=DEMO_CLOCK),
        clock=DEMO_CLOCK,
        default_cwd=Path("/tmp"),
    )


class _EngineOwningDemoSession(Session):
    """The demo's shared state as a window running the engine sees it, so quitting asks
    about the running job; no engine runs, so the pictures stay fixed."""

    @property
    def owns_engine(self) -> bool:
        return True


def engine_owning_demo_app(root: Path) -> FlowtuiApp:
    """The demo state in a window that (as far as quitting can tell) runs the engine."""
    seeded = demo_app(root, seed=True)  # the demo's state and settings; its window is not used
    settings, paths = seeded.settings, seeded.paths
    return build_app(
        settings,
        paths,
        lambda: _EngineOwningDemoSession.detached(settings, paths, clock=DEMO_CLOCK),
        clock=DEMO_CLOCK,
        default_cwd=Path("/tmp"),
    )


_LONG_PROMPT = "\n".join(
    [
        "Review the export module before the release and answer in Markdown.",
        "",
        "Context:",
        *(
            f"- shop/export/step_{n:02d}.py: {what}"
            for n, what in enumerate(
                [
                    "reads the orders table in pages of 500 rows",
                    "formats prices with the shop's locale",
                    "writes CSV with a header row [bold] as given",
                    "uploads the file to the bucket named in EXPORT_BUCKET",
                    "retries an upload three times, then gives up",
                    "mails the shop owner a link that expires after 7 days",
                ]
                * 4,
                start=1,
            )
        ),
        "",
        "Questions:",
        "1. Which step can lose rows when an export runs while orders are written?",
        "2. Is the decimal separator right for a German shop?",
        "3. Show the smallest fix as a Python snippet.",
    ]
)

_MARKDOWN_ANSWER = """\
## Risks in the export

1. **Lost rows**: step 01 pages with `OFFSET`, so rows written during an export shift the pages.
2. **Decimal separator**: step 02 formats with `str(price)`, which ignores the locale.

The smallest fix for both:

```python
def page(cursor, after_id: int, size: int = 500):
    return cursor.execute(
        "SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?", (after_id, size)
    ).fetchall()
```

Text like [bold] or [/] stays as written.
"""


def long_prompt_app(root: Path) -> FlowtuiApp:
    """The demo state with one more finished job: a long multi-line prompt and a Markdown
    answer with a code block (the details screen's picture)."""
    app = demo_app(root, seed=True)
    ledger = Ledger(Paths.under(root).ledger_db, clock=DEMO_CLOCK)
    try:
        job = ledger.create(NewJob(_LONG_PROMPT, "review", "cli", "/tmp", max_attempts=3), "added by demo")
        ledger.claim(job.id, owner_pid=1)
        outcome = RunOutcome(
            JobState.SUCCEEDED,
            exit_code=0,
            cost_usd=0.0871,
            input_tokens=9120,
            output_tokens=640,
            turns=3,
            answer=_MARKDOWN_ANSWER,
        )
        ledger.finish(job.id, outcome)
        freeze_times(ledger, job.id, ("09:20:00", "09:20:01", "09:21:10"), session="c0de-demo")
    finally:
        ledger.close()
    return app


def budget_paused_app(root: Path) -> FlowtuiApp:
    """The demo state with the queue paused by the daily budget until midnight."""
    app = demo_app(root, seed=True)
    ledger = Ledger(Paths.under(root).ledger_db, clock=DEMO_CLOCK)
    try:
        ledger.set_flag("paused_until", "2026-11-26T00:00:00.000Z")
        ledger.set_flag("paused", "budget: $20.00 of $20.00 spent today")
    finally:
        ledger.close()
    return app


_DEMO_SCHEDULES = """
[[schedule]]
name = "morning-digest"
cron = "30 7 * * 1-5"
prompt = "Plan my day from notes/today.md."

[[schedule]]
cron = "0 * * * *"
workflow = "fix-tests"
prompt = "Run the tests and fix what fails."
catch_up = "all"

[[schedule]]
name = "photos"
cron = "0 22 * * *"
prompt = "Rename the new photos by date taken."
catch_up = "skip"
"""


def schedules_app(root: Path) -> FlowtuiApp:
    """The demo state with three schedules: one ran this morning, one caught up after a
    downtime, one paused."""
    from core.config.settings import parse_settings
    from core.ops.schedules import missed_key, paused_key, schedule_key

    paths = Paths.under(root)
    seed_demo_jobs(paths)
    seed_demo_notifications(paths)
    seed_demo_watches(paths)
    with paths.config_file.open("a", encoding="utf-8") as config:
        config.write(_DEMO_SCHEDULES)
    digest, hourly, photos = parse_settings(_DEMO_SCHEDULES, "demo").schedule
    ledger = Ledger(paths.ledger_db, clock=DEMO_CLOCK)
    try:
        ledger.set_flag(schedule_key(digest), "2026-11-25T07:30:00.000Z")
        ledger.set_flag(schedule_key(hourly), "2026-11-25T09:00:02.000Z")
        ledger.set_flag(
            missed_key("fix-tests@0_x_x_x_x"),
            json.dumps({"at": "2026-11-25T09:00:02.000Z", "missed": 3, "ran": 3, "policy": "all"}),
        )
        ledger.set_flag(schedule_key(photos), "2026-11-24T22:00:00.000Z")
        ledger.set_flag(paused_key("photos"), "2026-11-25T08:15:00.000Z")
    finally:
        ledger.close()
    return demo_app(root, seed=False)


def usage_app(root: Path) -> FlowtuiApp:
    """The demo state with the subscription's five-hour window 93 % used, resetting at 14:00."""
    from core.claude.limits import USAGE_PREFIX, UsageReading

    app = demo_app(root, seed=True)
    read_at = datetime(2026, 11, 25, 9, 29, 0, tzinfo=UTC)
    readings = [
        UsageReading(
            "five_hour", "allowed_warning", 0.93, datetime(2026, 11, 25, 14, 0, tzinfo=UTC), read_at
        ),
        UsageReading("seven_day", "allowed", 0.41, datetime(2026, 11, 28, 8, 0, tzinfo=UTC), read_at),
    ]
    ledger = Ledger(Paths.under(root).ledger_db, clock=DEMO_CLOCK)
    try:
        for reading in readings:
            ledger.set_flag(USAGE_PREFIX + reading.window, reading.to_json())
    finally:
        ledger.close()
    return app


_DEMO_CSV = """\
import csv


def write_rows(rows, out):
    writer = csv.writer(out)
    for row in rows:
        price = str(row.price)
        writer.writerow([row.sku, row.name, price])
"""

DEMO_QUESTIONS: dict[str, tuple[str, dict[str, object]]] = {
    "edit": (
        "Edit",
        {
            "file_path": "shop/export/csv.py",
            "old_string": "        price = str(row.price)\n",
            "new_string": "        price = format_decimal(row.price, locale=row.locale)\n",
        },
    ),
    "bash": (
        "Bash",
        {"command": "make export && touch build/export.done", "description": "Build the export"},
    ),
}
"""The running demo job's tool question in the question scenes: a file edit, a command."""


def question_app(root: Path, kind: str) -> FlowtuiApp:
    """The demo state with the running job (#4) waiting for the answer to a tool question
    (``kind`` in ``DEMO_QUESTIONS``); a file edit's file is there to be diffed."""
    app = demo_app(root, seed=True)
    work = root / "work"
    (work / "shop" / "export").mkdir(parents=True)
    (work / "shop" / "export" / "csv.py").write_text(_DEMO_CSV)
    tool, tool_input = DEMO_QUESTIONS[kind]
    question = Question("demo-question", tool, dict(tool_input), "2026-11-25T09:29:50.000Z")
    ledger = Ledger(Paths.under(root).ledger_db, clock=DEMO_CLOCK)
    try:
        ledger._conn.execute("UPDATE jobs SET cwd = ? WHERE id = 4", (str(work),))  # demo data only
        ledger.set_waiting(4, question.to_json(), f"asks to use {tool}: {describe_input(question.input)}")
    finally:
        ledger.close()
    return app


def broken_app(root: Path) -> FlowtuiApp:
    """The app when the shared state cannot be opened (the error screen's picture)."""
    paths = Paths.under(root)

    def refuse() -> Session:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    return build_app(load_settings(paths.config_file), paths, refuse, clock=DEMO_CLOCK)


HOSTILE_DEMO_TEXTS = (
    "[/bold] stray [claude] line",
    "[red]x[/red] [link=x] [workflows.x]",
    "\x1b[31mred?\x1b[0m bell\x07 tab\tcr\r",
    "abc \u202eevil\u202c def · 漢字 🎉 e\u0301",
)
"""Text from Claude, tools and users that a careless screen would read as markup or obey."""


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (control characters escaped, everything else kept)."""
    escaped = "".join(
        f"\\u{ord(char):04x}" if ord(char) < 0x20 or ord(char) == 0x7F or char in '"\\' else char
        for char in text
    )
    return f'"{escaped}"'


def _hostile_transcript(text: str) -> list[dict[str, object]]:
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": f"{text}\n"}}
    return [
        {"type": "system", "subtype": "init", "session_id": text, "model": text, "cwd": text},
        {
            "type": "assistant",
            "message": {
                "content": [{"type": "tool_use", "id": "t1", "name": text, "input": {"command": text}}]
            },
        },
        {
            "type": "user",
            "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": text}]},
        },
        {"type": "stream_event", "event": delta},
        {"type": f"unknown {text}", "value": text},
        {"type": "result", "subtype": "success", "is_error": True, "result": text, "session_id": text},
    ]


def seed_hostile(paths: Paths, texts: tuple[str, ...] | list[str]) -> None:
    """One failed job per text, with that text everywhere outside text goes: prompt, trigger,
    cwd, event reasons, error, answer, session id, a transcript (Claude's text,
    a tool's name, input and output, an unknown line), a notification and its error, a watch
    path and its status reason; and the first text as the pause reason."""
    paths.ensure_data_dir()
    # A NUL is refused by the config check (no path can hold one), so the paths go without.
    watch_paths = [f"/nonexistent/{index}{text[:80]}".replace("\x00", "") for index, text in enumerate(texts)]
    paths.config_file.write_text("".join(f"[[watch]]\npath = {_toml_string(path)}\n" for path in watch_paths))
    ledger = Ledger(paths.ledger_db, clock=DEMO_CLOCK)
    store = NotificationStore(paths.ledger_db, DEMO_CLOCK)
    try:
        statuses = {}
        for index, text in enumerate(texts):
            job = ledger.create(NewJob(text, "default", "cli", text, max_attempts=1, trigger=text), text)
            ledger.claim(job.id, owner_pid=1)
            transcript = paths.transcript_for(job.id, 1)
            transcript.write_text("".join(json.dumps(line) + "\n" for line in _hostile_transcript(text)))
            ledger.record_process(job.id, 4242, 0.0, str(transcript))
            ledger.note(job.id, text)
            ledger.finish(job.id, RunOutcome(JobState.FAILED, error=text, exit_code=1, answer=text))
            freeze_times(ledger, job.id, ("09:20:00", "09:20:01", "09:20:30"), session=text or "-")
            (row,) = store.enqueue([Draft(chat_id=11111111, text=text or " ", kind="job", job_id=job.id)])
            store.mark_failed(row.id, text)
            store._conn.execute(  # demo data only: fixed times for the pictures
                "UPDATE notifications SET created_at = '2026-11-25T09:20:31.000Z' WHERE id = ?", (row.id,)
            )
            statuses[watch_paths[index]] = WatchStatus(
                "error", reason=text, last_event="2026-11-25T09:19:00.000Z"
            )
        write_statuses(ledger, statuses)
        if texts:
            ledger.set_flag("paused", texts[0])
    finally:
        store.close()
        ledger.close()


def hostile_app(
    root: Path,
    texts: tuple[str, ...] | list[str] = HOSTILE_DEMO_TEXTS,
    sources: Callable[[Session], Sources] | None = None,
) -> FlowtuiApp:
    """The demo app over a data dir full of hostile text, with workflows named after it too
    (``sources`` stands in for the watcher's and Telegram's state)."""
    paths = Paths.under(root)
    seed_hostile(paths, texts)
    loaded = load_settings(paths.config_file)
    named = {text: WorkflowSettings() for text in texts if text.strip()}
    settings = dataclasses.replace(loaded, workflows={**loaded.workflows, **named})
    return build_app(
        settings,
        paths,
        lambda: Session.detached(settings, paths, clock=DEMO_CLOCK),
        clock=DEMO_CLOCK,
        sources=sources,
        default_cwd=Path("/tmp"),
    )
