"""The Telegram service inside a real engine (stand-in claude scripts, recording gateway): commands
become jobs, finished jobs are announced, and a slow or dead Telegram never holds a job up."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from enginekit import home_paths, running_engine, settings_from, wait_for, wait_job
from fakeclaude import ok_script
from telegramkit import (
    BOT_TOKEN,
    CHAT,
    TELEGRAM_CONFIG,
    engine_config,
    message,
    press,
    rows,
    telegram_engine,
)

from core.config.settings import NOT_CONFIGURED
from core.events import NotificationChanged, ServiceFailed
from core.host.services import default_services
from core.jobs import JobState
from core.ledger.notifications import Markup
from core.ledger.sqlite import Ledger
from core.ops.control import Control
from core.queue.transport import JobQueue
from core.telegram.config import telegram_status
from core.telegram.recording import RecordingGateway
from core.wake.doorbell import poke


def claude_env(tmp_path: Path, answer: str = "all tests pass") -> dict[str, str]:
    return {**os.environ, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "claude", answer=answer))}


class HangingGateway(RecordingGateway):
    """Telegram that accepts the login and then never answers a send."""

    async def send_message(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> int:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_message_becomes_a_job_and_its_notification_is_sent(tmp_path: Path) -> None:
    gateway = RecordingGateway()
    home = tmp_path / "home"
    with telegram_engine(home, engine_config(tmp_path), claude_env(tmp_path), gateway) as (engine, _, events):
        wait_for(lambda: gateway.started, what="the gateway to start")
        gateway.deliver_threadsafe(message("/run run the tests"))
        job = wait_for(lambda: engine.ledger.list_jobs(), what="the job")[0]  # type: ignore[union-attr]
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED and done.source == "telegram"
        notification = wait_for(
            lambda: [row for row in rows(home) if row.kind == "job" and row.state == "sent"],
            what="the notification to be sent",
        )[0]
    assert notification.job_id == job.id and notification.chat_id == CHAT
    assert notification.text.startswith(f"✓ #{job.id} succeeded") and notification.text.endswith(
        "all tests pass"
    )
    texts = [sent.text for sent in gateway.messages()]
    assert texts[0] == f"queued #{job.id}" and texts[-1] == notification.text
    states = [(e.notification_id, e.state) for e in events if isinstance(e, NotificationChanged)]
    assert (notification.id, "pending") in states and (notification.id, "sent") in states


def test_without_a_telegram_section_everything_else_runs(tmp_path: Path) -> None:
    settings = settings_from("")
    assert "telegram" not in [s.name for s in default_services(settings, home_paths(tmp_path / "home"), {})]
    assert telegram_status(settings, {}) == NOT_CONFIGURED
    assert "[telegram]" in NOT_CONFIGURED and "FLOWTUI_TELEGRAM_BOT_TOKEN" in NOT_CONFIGURED
    with running_engine(tmp_path / "home", environ=claude_env(tmp_path)) as engine:
        assert engine.control is not None
        job = engine.control.add("still works", cwd=tmp_path)
        assert wait_job(engine, job.id, JobState.SUCCEEDED).answer == "all tests pass"


def test_a_broken_telegram_config_fails_the_service_not_the_engine(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG.replace(f'bot_token = "{BOT_TOKEN}"', "")
    settings = settings_from(config)
    environ = claude_env(tmp_path)
    from core.engine.engine import Engine

    engine = Engine(
        settings,
        home_paths(tmp_path / "home"),
        environ,
        services=default_services(settings, home_paths(tmp_path), environ),
    )
    failures: list[ServiceFailed] = []
    engine.bus.subscribe(lambda event: failures.append(event) if isinstance(event, ServiceFailed) else None)
    engine.start()
    try:
        assert [(f.name, f.reason) for f in failures] == [
            (
                "telegram",
                "[telegram] bot_token is missing: set it (from @BotFather) in the config or in "
                "$FLOWTUI_TELEGRAM_BOT_TOKEN",
            )
        ]
        assert engine.control is not None
        job = engine.control.add("unaffected", cwd=tmp_path)
        assert wait_job(engine, job.id, JobState.SUCCEEDED).state is JobState.SUCCEEDED
    finally:
        engine.stop()


def test_a_slow_telegram_never_delays_a_job(tmp_path: Path) -> None:
    gateway = HangingGateway()
    home = tmp_path / "home"
    with telegram_engine(home, engine_config(tmp_path), claude_env(tmp_path), gateway) as (engine, _, _):
        assert engine.control is not None
        first = engine.control.add("one")
        second = engine.control.add("two")
        wait_job(engine, first.id, JobState.SUCCEEDED)
        wait_job(engine, second.id, JobState.SUCCEEDED)
        wait_for(lambda: len(rows(home)) == 2, what="both notifications to be queued")
        assert gateway.sent == []  # the first send still hangs; both jobs finished regardless
        assert {row.state for row in rows(home)} == {"pending"}


def test_a_dead_telegram_keeps_notifications_and_a_restart_sends_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    home = tmp_path / "home"
    dead = RecordingGateway(start_error=ConnectionError(f"refused for bot{BOT_TOKEN}"))
    environ = claude_env(tmp_path)
    with telegram_engine(home, engine_config(tmp_path), environ, dead) as (engine, service, events):
        assert engine.control is not None
        job = engine.control.add("while offline")
        wait_job(engine, job.id, JobState.SUCCEEDED)
        wait_for(lambda: rows(home), what="the notification row")
        failed = wait_for(lambda: [e for e in events if isinstance(e, ServiceFailed)], what="the failure")
        assert failed[0].reason.startswith("cannot connect: ConnectionError: refused for bot***")
        assert service.last_error is not None
    assert [(row.job_id, row.state) for row in rows(home)] == [(job.id, "pending")]
    assert BOT_TOKEN not in caplog.text and "refused for bot***" in caplog.text

    alive = RecordingGateway()
    with telegram_engine(home, engine_config(tmp_path), environ, alive):
        wait_for(lambda: rows(home)[0].state == "sent", what="the pending row to be sent after the restart")
    assert alive.messages()[0].text.startswith(f"✓ #{job.id} succeeded")
    assert len(rows(home)) == 1  # announced once, even though the restart reconciled again


def test_approval_asked_for_a_job_added_by_another_process(tmp_path: Path) -> None:
    gateway = RecordingGateway()
    home = tmp_path / "home"
    config = engine_config(tmp_path, "[workflows.deploy]\napproval = true\n")
    with telegram_engine(home, config, claude_env(tmp_path), gateway) as (engine, _, _):
        wait_for(lambda: gateway.started, what="the gateway to start")
        paths = home_paths(home)
        ledger = Ledger(paths.ledger_db)
        try:  # what `flowtui add -w deploy` does from another process
            other = Control(
                settings_from(config),
                ledger,
                JobQueue(paths.queue_db),
                lambda c: poke(paths.wake_fifo),
                paths=paths,
            )
            job = other.add("deploy it", workflow="deploy", cwd=tmp_path)
        finally:
            ledger.close()
        request = wait_for(
            lambda: [s for s in gateway.messages() if s.buttons == ["Approve", "Deny"]],
            what="the approval request",
        )[0]
        assert request.text.startswith(f"? #{job.id} waits for approval · workflow deploy")
        gateway.press_threadsafe(press(f"approve:{job.id}", message_id=request.message_id))
        assert wait_job(engine, job.id, JobState.SUCCEEDED).state is JobState.SUCCEEDED
        wait_for(
            lambda: any(s.text.startswith(f"✓ #{job.id} succeeded") for s in gateway.messages()),
            what="the finished notification",
        )
    assert gateway.answers() == [f"approved #{job.id}"]
