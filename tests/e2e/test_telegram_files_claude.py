"""End to end with the real Claude Code CLI against the loopback Messages-API stand-in: a document
sent to the bot is downloaded through the gateway into the data dir, the job's prompt names it,
and Claude's own tool reads it from there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from enginekit import wait_for, wait_job
from pyrogram import enums, types
from telegramkit import CHAT, chat, engine_config, telegram_engine, user

from core.jobs import JobState
from core.telegram.recording import RecordingGateway

pytestmark = pytest.mark.claude

MESSAGE_ID = 77001


def test_claude_reads_a_document_sent_to_the_bot(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    gateway = RecordingGateway(files={"notes": b"the secret word is plum\nsecond line\n"})
    home = tmp_path / "home"
    where = home / "telegram" / "files" / f"chat{CHAT}-msg{MESSAGE_ID}" / "notes.txt"
    sent = types.Message(
        id=MESSAGE_ID,
        from_user=user(),
        chat=chat(CHAT),
        date=datetime.now(UTC),
        media=enums.MessageMediaType.DOCUMENT,
        caption=f"What does it say? [[bash:cat {where}]]",
        document=types.Document(
            file_id="notes",
            file_unique_id="u-notes",
            file_name="notes.txt",
            mime_type="text/plain",
            file_size=36,
        ),
    )
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    with telegram_engine(home, engine_config(tmp_path), environ, gateway) as (engine, _, _):
        assert engine.ledger is not None
        wait_for(lambda: gateway.started, what="the gateway to start")
        gateway.deliver_threadsafe(sent)
        (job,) = wait_for(lambda: engine.ledger.list_jobs(), what="the job")  # type: ignore[union-attr]
        assert f"- {where} (document, 36 B)" in job.prompt
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "tool said: the secret word is plum"
    assert where.read_bytes().startswith(b"the secret word")
