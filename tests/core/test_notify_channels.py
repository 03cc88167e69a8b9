"""``[[notify]]`` channels: a webhook and an ntfy-like server on 127.0.0.1 and a real command, each
told through the durable outbox; ``on`` and ``workflows``; a receiver that is down (port closed, or
503) then back gets every row in order, also across a restart; config errors; secrets redacted.
The outbox's clock is a settable fake, so back-off is stepped through, never slept."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from clikit import Flowtui
from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import ok_script, result_line, write_script
from notifykit import Receiver, closed_port, stdin_writer
from telegramkit import FakeClock

from core.config.settings import Settings
from core.engine.engine import Engine
from core.errors import ConfigError
from core.host.services import default_services
from core.jobs import Job, JobState, RunOutcome
from core.ledger.notifications import Draft, NotificationStore
from core.ledger.schema import SCHEMA_VERSION
from core.ledger.sqlite import Ledger, NewJob
from core.notify.channels import Channel, redact_url, resolve_channels
from core.notify.messages import job_message
from core.notify.outbox import ChannelOutbox
from core.notify.senders import ntfy_headers, webhook_body

TOKEN = "tk_s3cretT0ken"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


@pytest.fixture
def store(tmp_path: Path, ledger: Ledger) -> Iterator[NotificationStore]:
    opened = NotificationStore(tmp_path / "ledger.db")
    yield opened
    opened.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(trust_env=False) as opened:
        yield opened


def channels_from(config: str) -> dict[str, Channel]:
    return resolve_channels(settings_from(config))


def finished_job(ledger: Ledger, state: JobState = JobState.FAILED, workflow: str = "default") -> Job:
    job = ledger.create(NewJob("tidy the notes", workflow, "cli", "/tmp", 1), "test")
    ledger.claim(job.id, 1)
    if state is JobState.SUCCEEDED:
        return ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, answer="all tidy"))
    return ledger.finish(job.id, RunOutcome(state, error="boom"))


def queue(outbox: ChannelOutbox, job: Job, channel: str, event: str = "failed") -> int:
    message = job_message(job, event)  # type: ignore[arg-type]
    target = outbox.configured[channel].target()
    draft = Draft(
        0, message.text, "job", job.id, channel=channel, payload={**message.payload, "target": target}
    )
    (row,) = outbox.enqueue([draft])
    return row.id


# -- each channel against its receiver ----------------------------------------------------


async def test_a_webhook_gets_the_notification_as_json(
    ledger: Ledger, store: NotificationStore, receiver: Receiver, client: httpx2.AsyncClient
) -> None:
    channels = channels_from(f'[[notify]]\nkind = "webhook"\nname = "ci"\nurl = "{receiver.url()}"\n')
    outbox = ChannelOutbox(store, channels, client, clock=FakeClock())
    job = finished_job(ledger)
    row_id = queue(outbox, job, "ci")
    assert await outbox.send_due() is None
    (body,) = receiver.bodies()
    assert receiver.received[0].path == "/hook"
    assert receiver.received[0].headers["Content-Type"] == "application/json"
    assert body["notification_id"] == row_id and body["channel"] == "ci" and body["event"] == "failed"
    assert (body["job_id"], body["state"], body["workflow"], body["source"]) == (
        job.id,
        "failed",
        "default",
        "cli",
    )
    assert body["finished_at"] == job.finished_at and body["error"] == "boom"
    assert body["text"].startswith(f"✗ #{job.id} failed · workflow default") and "boom" in body["text"]
    sent = store.require(row_id)
    assert sent.state == "sent" and sent.channel == "ci" and sent.message_id is None and sent.sent_at


async def test_ntfy_gets_the_text_with_title_tags_and_priority(
    ledger: Ledger, store: NotificationStore, receiver: Receiver, client: httpx2.AsyncClient
) -> None:
    url = receiver.url(f"/flowtui-alerts?auth={TOKEN}")
    channels = channels_from(f'[[notify]]\nkind = "ntfy"\nurl = "{url}"\non = ["succeeded"]\n')
    outbox = ChannelOutbox(store, channels, client, clock=FakeClock())
    job = finished_job(ledger, JobState.SUCCEEDED, workflow="default")
    queue(outbox, job, "ntfy", "succeeded")
    await outbox.send_due()
    (request,) = receiver.received
    assert request.path == f"/flowtui-alerts?auth={TOKEN}"
    assert request.text.startswith(f"✓ #{job.id} succeeded") and "all tidy" in request.text
    assert request.headers["Title"] == f"flowtui: job #{job.id} succeeded (default)"
    assert request.headers["Tags"] == "white_check_mark" and request.headers["Priority"] == "default"


def test_ntfy_headers_stay_ascii_for_any_workflow_name(ledger: Ledger) -> None:
    job = finished_job(ledger, workflow="default")
    message = job_message(job, "needs_you")
    payload = {**message.payload, "title": "flowtui: job #1 ✗ notes"}
    draft_row = type("Row", (), {"payload": payload})()
    headers = ntfy_headers(draft_row)  # type: ignore[arg-type]
    assert headers["Title"].startswith("=?UTF-8?B?") and headers["Title"].isascii()
    assert headers["Priority"] == "high" and headers["Tags"] == "question"


async def test_a_command_gets_the_text_on_stdin_and_a_failing_exit_is_retried(
    tmp_path: Path, ledger: Ledger, store: NotificationStore, client: httpx2.AsyncClient
) -> None:
    out = tmp_path / "desktop.txt"
    script = stdin_writer(tmp_path / "notify-desk", out)
    (tmp_path / "exit-code").write_text("3")
    channels = channels_from(f'[[notify]]\nkind = "command"\ncommand = ["{script}", "--urgency", "low"]\n')
    clock = FakeClock()
    outbox = ChannelOutbox(store, channels, client, clock=clock)
    job = finished_job(ledger)
    row_id = queue(outbox, job, "command")
    delay = await outbox.send_due()
    failed = store.require(row_id)
    assert failed.state == "pending" and failed.attempts == 1
    assert failed.error == f"{script} exited with 3"
    assert delay == pytest.approx(2.0)  # the first back-off
    (tmp_path / "exit-code").unlink()
    clock.advance(delay)
    assert await outbox.send_due() is None
    assert store.require(row_id).state == "sent"
    first, second, _ = out.read_text().split("---\n")
    assert first == second and first.startswith(f"✗ #{job.id} failed")  # the same text both times


async def test_a_command_that_hangs_is_ended_at_its_time_out(
    tmp_path: Path, ledger: Ledger, store: NotificationStore, client: httpx2.AsyncClient
) -> None:
    script = write_script(tmp_path / "hangs", "exec sleep 300\n")
    config = f'[[notify]]\nkind = "command"\ncommand = ["{script}"]\ntimeout_seconds = 0.3\n'
    outbox = ChannelOutbox(store, channels_from(config), client, clock=FakeClock())
    row_id = queue(outbox, finished_job(ledger), "command")
    await outbox.send_due()
    row = store.require(row_id)
    assert row.state == "pending" and row.error == f"{script} did not finish within 0.3s (ended)"


# -- down, then back: nothing lost ----------------------------------------------------------


async def test_a_receiver_that_is_down_gets_every_row_in_order_when_it_is_back(
    ledger: Ledger, store: NotificationStore, client: httpx2.AsyncClient
) -> None:
    port = closed_port()
    url = f"http://user:pa55word@127.0.0.1:{port}/hooks/{TOKEN}?key={TOKEN}"
    channels = channels_from(f'[[notify]]\nkind = "webhook"\nname = "ci"\nurl = "{url}"\n')
    clock = FakeClock()
    outbox = ChannelOutbox(store, channels, client, clock=clock)
    jobs = [finished_job(ledger) for _ in range(3)]
    ids = [queue(outbox, job, "ci") for job in jobs]
    delays = []
    for _ in range(3):  # three tries while the port is closed: the back-off doubles
        delay = await outbox.send_due()
        assert delay is not None
        delays.append(delay)
        clock.advance(delay)
    assert delays == pytest.approx([2.0, 4.0, 8.0])
    head = store.require(ids[0])
    assert head.state == "pending" and head.attempts == 3
    assert head.error is not None and head.error.startswith(f"cannot reach http://127.0.0.1:{port}/…")
    for secret in (TOKEN, "pa55word", "user:"):
        assert secret not in head.error
    assert [store.require(i).attempts for i in ids[1:]] == [0, 0]  # the later rows wait their turn
    assert head.destination == f"ci · webhook http://127.0.0.1:{port}/…"
    back = Receiver(port=port).start()
    try:
        while (delay := await outbox.send_due()) is not None:
            clock.advance(delay)
        assert [body["job_id"] for body in back.bodies()] == [job.id for job in jobs]
        assert back.received[0].path == f"/hooks/{TOKEN}?key={TOKEN}"
        assert [store.require(i).state for i in ids] == ["sent"] * 3
    finally:
        back.stop()


async def test_a_503_is_retried_after_its_retry_after_and_a_404_is_given_up(
    ledger: Ledger, store: NotificationStore, receiver: Receiver, client: httpx2.AsyncClient
) -> None:
    config = (
        f'[[notify]]\nkind = "ntfy"\nname = "phone"\nurl = "{receiver.url("/a")}"\n'
        f'[[notify]]\nkind = "webhook"\nname = "gone"\nurl = "{receiver.url("/b")}"\n'
    )
    clock = FakeClock()
    outbox = ChannelOutbox(store, channels_from(config), client, clock=clock)
    job = finished_job(ledger)
    receiver.status, receiver.retry_after = 503, "30"
    phone = queue(outbox, job, "phone")
    delay = await outbox.send_due()
    assert delay == pytest.approx(30.0)  # Retry-After outweighs the 2 s back-off
    assert (
        store.require(phone).error
        == f"http://127.0.0.1:{receiver.port}/… answered HTTP 503 Service Unavailable"
    )
    receiver.status = 404
    gone = queue(outbox, job, "gone")
    clock.advance(0.01)  # past the outbox's overall spacing
    await outbox.send_due()
    refused = store.require(gone)
    assert refused.state == "failed" and "HTTP 404" in (refused.error or "")
    receiver.status = 200
    clock.advance(30.0)
    assert await outbox.send_due() is None
    assert store.require(phone).state == "sent" and [r.path for r in receiver.received] == ["/a"]


async def test_pending_rows_are_sent_at_once_after_a_restart(
    tmp_path: Path, ledger: Ledger, client: httpx2.AsyncClient
) -> None:
    port = closed_port()
    config = f'[[notify]]\nkind = "webhook"\nurl = "http://127.0.0.1:{port}/hook"\n'
    clock = FakeClock()
    first_store = NotificationStore(tmp_path / "ledger.db")
    outbox = ChannelOutbox(first_store, channels_from(config), client, clock=clock)
    job = finished_job(ledger)
    row_id = queue(outbox, job, "webhook")
    assert await outbox.send_due() == pytest.approx(2.0)
    first_store.close()  # the engine stops with the row pending, its retry 2 s away
    back = Receiver(port=port).start()
    try:
        again = NotificationStore(tmp_path / "ledger.db")
        assert again.clear_backoff(("webhook",)) == 1
        restarted = ChannelOutbox(again, channels_from(config), client, clock=clock)
        assert await restarted.send_due() is None  # no waiting out the old back-off
        assert [body["job_id"] for body in back.bodies()] == [job.id]
        assert again.require(row_id).state == "sent"
        again.close()
    finally:
        back.stop()


async def test_telegram_rows_are_left_to_telegram_and_a_removed_channel_fails_its_rows(
    ledger: Ledger, store: NotificationStore, receiver: Receiver, client: httpx2.AsyncClient
) -> None:
    (telegram_row,) = store.enqueue([Draft(111, "for the chat", "reply")])
    channels = channels_from(f'[[notify]]\nkind = "webhook"\nurl = "{receiver.url()}"\n')
    outbox = ChannelOutbox(store, channels, client, clock=FakeClock())
    orphan = queue(outbox, finished_job(ledger), "webhook")
    outbox.set_channels({})
    outbox.channels = ("webhook",)  # a row read just before the entry went
    await outbox.send_due()
    assert store.require(orphan).state == "failed"
    assert store.require(orphan).error == "no [[notify]] channel named 'webhook' now"
    assert store.require(telegram_row.id).state == "pending" and receiver.received == []
    assert [row.id for row in store.pending_heads()] == [telegram_row.id]


# -- the engine: events, on and workflows, approval, restart --------------------------------

FAILING = result_line(is_error=True, result="boom")


def engine_config(receiver_url: str, script: Path, ntfy_url: str) -> str:
    return (
        "[workflows.other]\n"
        "[workflows.gated]\napproval = true\n"
        f'[[notify]]\nkind = "webhook"\nname = "hook"\nurl = "{receiver_url}"\n'
        'on = ["succeeded", "failed", "needs_you"]\n'
        f'[[notify]]\nkind = "ntfy"\nname = "phone"\nurl = "{ntfy_url}"\non = ["failed"]\n'
        f'[[notify]]\nkind = "command"\nname = "desk"\ncommand = ["{script}"]\nworkflows = ["other"]\n'
    )


def start_engine(home: Path, config: str, claude: Path) -> Engine:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config)
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(claude)}
    settings = settings_from(config)
    services = default_services(settings, home_paths(home), environ)  # as `flowtui serve` builds them
    assert [service.name for service in services if service.name == "notify"] == ["notify"]
    engine = Engine(settings, home_paths(home), environ=environ, services=services)
    engine.start()
    return engine


def rows_of(home: Path) -> list[tuple[int | None, str, str]]:
    store = NotificationStore(home / "ledger.db")
    try:
        return sorted((row.job_id, row.channel, row.state) for row in store.recent())
    finally:
        store.close()


def test_the_engine_tells_each_channel_what_its_on_and_workflows_ask_for(
    tmp_path: Path, receiver: Receiver
) -> None:
    out = tmp_path / "desk.txt"
    script = stdin_writer(tmp_path / "desk", out)
    claude = ok_script(tmp_path / "claude")
    config = engine_config(receiver.url("/hook"), script, receiver.url("/phone"))
    home = tmp_path / "home"
    engine = start_engine(home, config, claude)
    try:
        plain = engine.control.add("plain", cwd=tmp_path)
        other = engine.control.add("other", workflow="other", cwd=tmp_path)
        gated = engine.control.add("gated", workflow="gated", cwd=tmp_path)
        wait_job(engine, plain.id, JobState.SUCCEEDED)
        wait_job(engine, other.id, JobState.SUCCEEDED)
        expected = [
            (plain.id, "hook", "sent"),
            (other.id, "desk", "sent"),
            (other.id, "hook", "sent"),
            (gated.id, "hook", "sent"),
        ]
        wait_for(lambda: rows_of(home) == expected, what=f"the rows {expected} (have {rows_of(home)})")
    finally:
        engine.stop()
    events = {(body["job_id"], body["event"]) for body in receiver.bodies()}
    assert events == {(plain.id, "succeeded"), (other.id, "succeeded"), (gated.id, "needs_you")}
    assert [r.path for r in receiver.received].count("/phone") == 0  # phone hears failures only
    assert out.read_text().startswith(f"✓ #{other.id} succeeded · workflow other")


def test_a_failure_reaches_ntfy_and_a_receiver_down_during_the_run_gets_it_after_a_restart(
    tmp_path: Path,
) -> None:
    port = closed_port()
    claude = write_script(tmp_path / "claude", f"echo '{FAILING}'\nexit 1\n")
    config = (
        "[workflows.default]\nretries = 0\n"
        f'[[notify]]\nkind = "ntfy"\nname = "phone"\nurl = "http://127.0.0.1:{port}/alerts"\n'
        'on = ["failed"]\n'
    )
    home = tmp_path / "home"
    engine = start_engine(home, config, claude)
    try:
        job = engine.control.add("will fail", cwd=tmp_path)
        wait_job(engine, job.id, JobState.FAILED)

        def tried() -> bool:
            store = NotificationStore(home / "ledger.db")
            try:
                return any(row.attempts >= 1 and row.state == "pending" for row in store.recent())
            finally:
                store.close()

        wait_for(tried, what="a first try against the closed port")
    finally:
        engine.stop()
    back = Receiver(port=port).start()
    try:
        engine = start_engine(home, config, claude)
        try:
            wait_for(lambda: back.received, what="the notification after the restart")
            wait_for(lambda: rows_of(home) == [(job.id, "phone", "sent")], what="the row marked sent")
        finally:
            engine.stop()
        (request,) = back.received
        assert request.headers["Priority"] == "high" and request.headers["Tags"] == "x"
        assert f"#{job.id} failed" in request.text
    finally:
        back.stop()


# -- config, redaction, the file ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('kind = "sms"', "[[notify]] #1 kind: expected 'webhook', 'ntfy' or 'command' (got 'sms')"),
        ('kind = "webhook"', "[[notify]] #1 url: required for kind 'webhook': the http(s) URL to POST to"),
        (
            'kind = "ntfy"\nurl = "ftp://host/topic"',
            "[[notify]] #1 url: expected an http:// or https:// URL with a host",
        ),
        (
            'kind = "ntfy"\nurl = "ntfy.sh/topic"',
            "[[notify]] #1 url: expected an http:// or https:// URL with a host",
        ),
        (
            'kind = "ntfy"\nurl = "https://ntfy.sh/t"\non = ["failed", "done"]',
            "[[notify]] #1 on.1: expected 'succeeded', 'failed', 'cancelled' or 'needs_you' (got 'done')",
        ),
        (
            'kind = "command"\ncommand = "notify-send hi"',
            "[[notify]] #1 command: expected a list of strings: the program and its arguments, no shell"
            " (got 'notify-send hi')",
        ),
        (
            'kind = "command"',
            '[[notify]] #1 command: required for kind "command": the argv, such as ["notify-send"]',
        ),
        (
            'kind = "webhook"\nurl = "https://h/x"\nworkflows = ["nope"]',
            "[[notify]] #1 workflows.0: unknown workflow 'nope': use one of default",
        ),
        (
            'kind = "webhook"\nurl = "https://h/x"\nname = "telegram"',
            "[[notify]] #1 name: 'telegram' is also Telegram's name: give each channel its own name",
        ),
        ('kind = "webhook"\nurl = "https://h/x"\ncolour = "red"', "[[notify]] #1 colour: unknown key;"),
    ],
)
def test_a_bad_notify_entry_is_one_line_naming_the_key(entry: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(f"[[notify]]\n{entry}\n")
    message = str(raised.value)
    assert message.startswith(f"test-config.toml: {error}") and "\n" not in message


def test_a_url_with_a_secret_is_never_in_an_error_or_a_repr() -> None:
    secret_url = f"https://bob:{TOKEN}@ntfy.example/{TOKEN}"
    with pytest.raises(ConfigError) as raised:
        settings_from(f'[[notify]]\nkind = "ntfy"\nurl = "{secret_url}"\non = ["nope"]\n')
    assert TOKEN not in str(raised.value)
    settings = settings_from(f'[[notify]]\nkind = "ntfy"\nurl = "{secret_url}"\n')
    assert TOKEN not in repr(settings)
    assert redact_url(secret_url) == "https://ntfy.example/…"
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/"


def test_names_default_to_the_kind_and_entries_default_their_events() -> None:
    settings: Settings = settings_from(
        '[[notify]]\nkind = "ntfy"\nurl = "https://a/x"\n[[notify]]\nkind = "ntfy"\nurl = "https://b/y"\n'
        '[[notify]]\nkind = "command"\ncommand = ["notify-send", "flowtui"]\n'
    )
    channels = resolve_channels(settings)
    assert list(channels) == ["ntfy", "ntfy-2", "command"]
    assert channels["command"].target() == "command notify-send"
    assert channels["ntfy"].settings.on == ["succeeded", "failed", "needs_you"]
    assert channels["ntfy"].wants("failed", "any") and not channels["ntfy"].wants("cancelled", "any")


def test_a_notifications_table_from_schema_7_gains_its_channel_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER, chat_id INTEGER"
        " NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, markup TEXT, document TEXT, reply_to INTEGER,"
        " state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, retry_at REAL,"
        " created_at TEXT NOT NULL, sent_at TEXT, message_id INTEGER, resent_from INTEGER)"
    )
    conn.execute(
        "INSERT INTO notifications (job_id, chat_id, kind, text, state, created_at)"
        " VALUES (1, 42, 'job', 'old message', 'pending', '2026-11-01T00:00:00.000Z')"
    )
    conn.execute("PRAGMA user_version=7")
    conn.commit()
    conn.close()
    ledger = Ledger(path)  # the ledger brings the whole file to schema 8
    ledger.close()
    version, columns = _version_and_columns(path)
    assert version == SCHEMA_VERSION == 8 and {"channel", "payload"} <= columns
    store = NotificationStore(path)
    try:
        (old,) = store.recent()
        assert (old.text, old.channel, old.payload, old.destination) == (
            "old message",
            "telegram",
            None,
            "telegram 42",
        )
        assert [row.id for row in store.pending_heads()] == [old.id]
    finally:
        store.close()


def test_the_store_alone_migrates_a_file_the_ledger_has_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE notifications (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, kind TEXT,"
        " text TEXT, state TEXT, created_at TEXT)"
    )
    conn.commit()
    conn.close()
    NotificationStore(path).close()
    assert {"channel", "payload"} <= _version_and_columns(path)[1]


def _version_and_columns(path: Path) -> tuple[int, set[str]]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(notifications)")}
    finally:
        conn.close()
    return int(version), columns


def test_webhook_body_is_plain_json_without_ntfy_fields(ledger: Ledger) -> None:
    job = finished_job(ledger, JobState.SUCCEEDED)
    message = job_message(job, "succeeded")
    row = type("Row", (), {"id": 7, "channel": "ci", "payload": message.payload, "text": message.text})()
    body = webhook_body(row)  # type: ignore[arg-type]
    assert "tags" not in body and "priority" not in body
    assert json.loads(json.dumps(body))["state"] == "succeeded"


# -- what people see: `flowtui notifications` -----------------------------------------------


def test_flowtui_notifications_shows_each_rows_channel_and_state_without_telegram(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = closed_port()
    home = tmp_path / "home"
    home.mkdir()
    config = (
        f'[[notify]]\nkind = "webhook"\nname = "ci"\nurl = "{receiver.url()}"\n'
        f'[[notify]]\nkind = "ntfy"\nname = "phone"\nurl = "http://127.0.0.1:{port}/t?auth={TOKEN}"\n'
    )
    (home / "config.toml").write_text(config)
    flowtui = Flowtui(home, ok_script(tmp_path / "claude"))
    ledger = Ledger(home / "ledger.db")
    store = NotificationStore(home / "ledger.db")

    async def deliver() -> tuple[int, int]:
        async with httpx2.AsyncClient(trust_env=False) as client:
            clock = FakeClock()
            outbox = ChannelOutbox(store, channels_from(config), client, clock=clock)
            job = finished_job(ledger)
            sent, waiting = queue(outbox, job, "ci"), queue(outbox, job, "phone")
            await outbox.send_due()
            clock.advance(1)
            await outbox.send_due()
            return sent, waiting

    try:
        sent, waiting = asyncio.run(deliver())
    finally:
        store.close()
        ledger.close()
    listed = {row["id"]: row for row in json.loads(flowtui.ok("notifications", "--json"))}
    assert (listed[sent]["channel"], listed[sent]["state"]) == ("ci", "sent")
    assert (listed[waiting]["channel"], listed[waiting]["state"]) == ("phone", "pending")
    done = flowtui.run("notifications")
    assert done.returncode == 0 and done.stderr == ""  # no "Telegram not configured": channels are
    table = done.stdout.splitlines()
    assert table[0].split()[:5] == ["ID", "STATE", "KIND", "JOB", "CHANNEL"]
    by_id = {int(line.split()[0]): line for line in table[1:]}
    assert f"ci · webhook http://127.0.0.1:{receiver.port}/…" in by_id[sent]
    assert "phone · ntfy http://127.0.0.1" in by_id[waiting] and "retrying: cannot reach" in by_id[waiting]
    assert TOKEN not in done.stdout and TOKEN not in json.dumps(listed)
    resent = flowtui.run("notifications", "resend", str(sent))  # works without Telegram too
    assert resent.returncode == 0, resent.stderr
    copy = {row["id"]: row for row in json.loads(flowtui.ok("notifications", "--json"))}[int(resent.stdout)]
    assert (copy["channel"], copy["state"]) == ("ci", "pending")


def test_doctor_names_the_channels_redacted_and_counts_their_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"https://ntfy.example/{TOKEN}?auth={TOKEN}"
    (home / "config.toml").write_text(f'[[notify]]\nkind = "ntfy"\nname = "phone"\nurl = "{url}"\n')
    flowtui = Flowtui(home, ok_script(tmp_path / "claude"))
    assert "ok    notify: phone (ntfy https://ntfy.example/…); outbox: 0 pending, 0 failed\n" in flowtui.ok(
        "doctor"
    )
    store = NotificationStore(home / "ledger.db")
    try:
        (row,) = store.enqueue([Draft(0, "x", "job", 1, channel="phone")])
        store.mark_failed(row.id, "https://ntfy.example/… answered HTTP 403 Forbidden")
        store.enqueue([Draft(5, "telegram's", "reply")])  # not the channel's
    finally:
        store.close()
    report = flowtui.ok("doctor")
    assert "notify: phone (ntfy https://ntfy.example/…); outbox: 0 pending, 1 failed (see" in report
    assert TOKEN not in report
