"""End to end with the real Claude Code CLI against the loopback Messages-API stand-in: with
``[telegram] progress = true``, a job whose Bash call waits (until the test lets it go) gets a
progress message naming the tool call, and its finish message replaces it."""

from __future__ import annotations

from pathlib import Path

import pytest
from enginekit import wait_for, wait_job
from telegramkit import CHAT, engine_config, rows, telegram_engine

from core.jobs import JobState
from core.telegram.recording import RecordingGateway

pytestmark = pytest.mark.claude


def test_a_real_run_shows_progress_then_its_finish_replaces_it(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    gateway = RecordingGateway()
    home, release = tmp_path / "home", tmp_path / "release"
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    config = engine_config(tmp_path, '[workflows.shell]\nallowed_tools = ["Bash"]\n').replace(
        "[telegram]\n", "[telegram]\nprogress = true\nprogress_seconds = 3\n"
    )
    command = f"until test -e {release}; do sleep 0.1; done; echo released"
    with telegram_engine(home, config, environ, gateway) as (engine, _, _):
        assert engine.control is not None
        wait_for(lambda: gateway.started, what="the gateway to start")
        job = engine.control.add(f"Wait for it [[bash:{command}]]", workflow="shell", cwd=tmp_path)
        shown = wait_for(
            lambda: [s for s in gateway.sent if s.kind in ("message", "edit") and "1 tool call" in s.text],
            timeout=90,
            what="the progress message with the tool call",
        )[0]
        release.touch()
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        assert done.state is JobState.SUCCEEDED, done.error
        wait_for(lambda: gateway.deletes(), what="the progress message to be deleted")
        (finish,) = wait_for(
            lambda: [row for row in rows(home) if row.kind == "job" and row.state == "sent"],
            what="the finish message",
        )
    assert shown.chat_id == CHAT and shown.text.startswith(f"⏳ #{job.id} running for ")
    assert f"last: Bash: {command}" in shown.text
    assert [(d.chat_id, d.message_id) for d in gateway.deletes()] == [(CHAT, shown.message_id)]
    assert finish.text.startswith(f"✓ #{job.id} succeeded") and finish.text.endswith("tool said: released")
