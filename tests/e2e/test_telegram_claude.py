"""End to end with the real Claude Code CLI against the loopback Messages-API stand-in: a Telegram
``/run`` becomes a job that succeeds, its notification lands in the outbox with the answer, and a
reply to that notification resumes the same Claude session."""

from __future__ import annotations

from pathlib import Path

import pytest
from enginekit import wait_for, wait_job
from telegramkit import CHAT, engine_config, message, rows, telegram_engine

from core.jobs import JobState
from core.telegram.recording import RecordingGateway

pytestmark = pytest.mark.claude


def test_run_message_to_answer_in_the_outbox(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    gateway = RecordingGateway()
    home = tmp_path / "home"
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    with telegram_engine(home, engine_config(tmp_path), environ, gateway) as (engine, _, _):
        assert engine.ledger is not None
        wait_for(lambda: gateway.started, what="the gateway to start")
        gateway.deliver_threadsafe(message("/run Say something [[reply:hello from the stand-in]]"))
        (job,) = wait_for(lambda: engine.ledger.list_jobs(), what="the job")  # type: ignore[union-attr]
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.source == "telegram" and done.answer == "hello from the stand-in"
        (notification,) = wait_for(
            lambda: [row for row in rows(home) if row.kind == "job" and row.state == "sent"],
            what="the notification to be sent",
        )
        assert notification.job_id == job.id and notification.chat_id == CHAT
        assert notification.text.startswith(f"✓ #{job.id} succeeded · workflow default")
        assert notification.text.endswith("hello from the stand-in")
        assert "cost $" in notification.text
        sent = [s for s in gateway.messages() if s.text == notification.text]
        assert sent and sent[0].buttons == ["Retry", "Follow up", "Show log"]

        gateway.deliver_threadsafe(message("And again [[reply:second answer]]", reply_to=sent[0].message_id))
        followup = wait_for(
            lambda: [j for j in engine.ledger.list_jobs() if j.parent_id == job.id],  # type: ignore[union-attr]
            what="the follow-up job",
        )[0]
        finished = wait_job(engine, followup.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
    assert finished.state is JobState.SUCCEEDED, finished.error
    assert finished.resume_session_id == done.session_id and finished.session_id == done.session_id
    assert finished.answer == "second answer"
