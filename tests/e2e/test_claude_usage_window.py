"""The subscription window with the real CLI: the stand-in sends the
``anthropic-ratelimit-unified-*`` headers, the CLI (logged in with a subscription token) prints
``rate_limit_event``, and flowtui keeps the reading and shows it in ``flowtui stats``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import running_engine, wait_job

from core.jobs import JobState

pytestmark = pytest.mark.claude


def subscription_env(claude_env: dict[str, str]) -> dict[str, str]:
    """A subscription login instead of an API key: the CLI reads the window headers only then."""
    env = {key: value for key, value in claude_env.items() if key != "ANTHROPIC_API_KEY"}
    return {**env, "CLAUDE_CODE_OAUTH_TOKEN": "test-subscription-token"}


def stream_lines(claude_bin: str, env: dict[str, str], cwd: Path, prompt: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [claude_bin, "-p", prompt, "--output-format", "stream-json", "--verbose"],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_cli_turns_the_standin_headers_into_a_rate_limit_event(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    lines = stream_lines(claude_bin, subscription_env(claude_env), tmp_path, "hi [[usage:0.93]]")
    (event,) = [line for line in lines if line["type"] == "rate_limit_event"]
    info = event["rate_limit_info"]
    assert isinstance(info, dict)
    assert (info["rateLimitType"], info["utilization"], info["status"]) == (
        "five_hour",
        0.93,
        "allowed_warning",
    )
    assert isinstance(info["resetsAt"], int)
    with_key = stream_lines(claude_bin, claude_env, tmp_path, "hi [[usage:0.93]]")
    assert not [line for line in with_key if line["type"] == "rate_limit_event"]  # an API key has no window


def test_a_job_keeps_the_reading_and_stats_show_it(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    env = {**subscription_env(claude_env), "FLOWTUI_CLAUDE": claude_bin}
    home = tmp_path / "home"
    with running_engine(home, environ=env) as engine:
        assert engine.control is not None
        job = engine.control.add("work [[usage:0.93]]", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
        assert done.state is JobState.SUCCEEDED, done.error
        (reading,) = engine.control.usage()
    assert (reading.window, reading.percent, reading.status) == ("five_hour", 93, "allowed_warning")
    flowtui = Flowtui(home, Path(claude_bin))
    usage = json.loads(flowtui.ok("stats", "--json"))["usage"]
    assert usage["five_hour"]["utilization"] == 0.93 and usage["five_hour"]["current"] is True
    assert "subscription: 5h 93% · resets " in flowtui.ok("stats")
