"""A job's Claude gets the user's environment without flowtui's secrets and settings and
without the markers of a Claude Code session flowtui was started from (issue 12, part 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from enginekit import home_paths, running_engine, settings_from, wait_job

from core.claude.environment import configured_secrets, job_environment
from core.claude.runner import ClaudeRunner
from core.engine.engine import Engine
from core.jobs import JobState

API_HASH_IN_CONFIG = "0123456789abcdef0123456789abcdef"
BOT_TOKEN_IN_ENV = "4242:AAbbccddeeffgghhiijjkkllmmnnooppqqrr"
API_HASH_IN_ENV = "fedcba9876543210fedcba9876543210"
CONFIG_WITH_SECRET = f'[telegram]\napi_hash = "{API_HASH_IN_CONFIG}"\n'

USER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "MY_PROJECT_SETTING": "visible",
    "ANTHROPIC_API_KEY": "sk-ant-key",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    "CLAUDE_CONFIG_DIR": "/home/me/.claude-alt",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_OAUTH_TOKEN": "oauth-of-the-user",
    "FLOWTUI_HOME": "/home/me/flowtui",
    "FLOWTUI_CLAUDE": "/opt/claude",
}
FLOWTUI_PRIVATE = {
    "FLOWTUI_TELEGRAM_API_ID": "12345",
    "FLOWTUI_TELEGRAM_API_HASH": API_HASH_IN_ENV,
    "FLOWTUI_TELEGRAM_BOT_TOKEN": BOT_TOKEN_IN_ENV,
    "FLOWTUI_QUEUE_URL": "redis://:password@queue.example:6379/0",
}
SESSION_MARKERS = {
    "CLAUDECODE": "1",
    "CLAUDE_CODE_ENTRYPOINT": "cli",
    "CLAUDE_CODE_SSE_PORT": "45678",
    "CLAUDE_CODE_SESSION_ID": "parent-session-0001",
    "CLAUDE_CODE_CHILD_SESSION": "1",
    "CLAUDE_CODE_EXECPATH": "/usr/lib/claude/claude.exe",
    "CLAUDE_PROJECT_DIR": "/home/me/other-project",
    "CLAUDE_EFFORT": "high",
    "AI_AGENT": "claude-code_2-1-197_agent",
}


def test_flowtui_secrets_and_session_markers_are_dropped_the_rest_passes() -> None:
    environ = {**USER_ENV, **FLOWTUI_PRIVATE, **SESSION_MARKERS}
    assert job_environment(environ, settings_from("")) == USER_ENV


def test_a_secret_under_another_name_is_dropped_too() -> None:
    environ = {
        **USER_ENV,
        "FLOWTUI_TELEGRAM_BOT_TOKEN": BOT_TOKEN_IN_ENV,
        "MY_COPY_OF_THE_TOKEN": BOT_TOKEN_IN_ENV,
        "HASH_FROM_THE_CONFIG": f" {API_HASH_IN_CONFIG}\n",
    }
    assert job_environment(environ, settings_from(CONFIG_WITH_SECRET)) == USER_ENV


def test_every_secret_typed_value_of_the_settings_is_found() -> None:
    settings = settings_from(f'{CONFIG_WITH_SECRET}bot_token = "{BOT_TOKEN_IN_ENV}"\n')
    assert sorted(configured_secrets(settings)) == sorted([API_HASH_IN_CONFIG, BOT_TOKEN_IN_ENV])
    assert list(configured_secrets(settings_from(""))) == []


def test_another_agents_ai_agent_and_empty_values_pass() -> None:
    environ = {"AI_AGENT": "some-other-agent", "EMPTY": "", "FLOWTUI_TELEGRAM_API_HASH": ""}
    assert job_environment(environ, settings_from("")) == {"AI_AGENT": "some-other-agent", "EMPTY": ""}


def test_the_engine_gives_its_runner_the_clean_environment(tmp_path: Path) -> None:
    environ = {**USER_ENV, **FLOWTUI_PRIVATE, **SESSION_MARKERS}
    engine = Engine(settings_from(CONFIG_WITH_SECRET), home_paths(tmp_path / "home"), environ=environ)
    assert isinstance(engine.runner, ClaudeRunner)
    assert engine.runner.environ == USER_ENV
    assert engine.runner.command == "/opt/claude"  # flowtui's own settings still apply to itself
    assert engine.environ["FLOWTUI_TELEGRAM_BOT_TOKEN"] == BOT_TOKEN_IN_ENV


@pytest.mark.claude
def test_a_jobs_bash_env_shows_no_secret(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> None:
    """The reported case: a job's Bash tool runs `env`; nothing of flowtui's is in the transcript."""
    environ = {
        **claude_env,
        "FLOWTUI_CLAUDE": claude_bin,
        "FLOWTUI_TELEGRAM_BOT_TOKEN": BOT_TOKEN_IN_ENV,
        "FLOWTUI_TELEGRAM_API_HASH": API_HASH_IN_ENV,
        "FLOWTUI_QUEUE_URL": "sqlite",
        "HASH_FROM_THE_CONFIG": API_HASH_IN_CONFIG,
        "CLAUDE_CODE_SSE_PORT": "45678",
        "CLAUDE_CODE_SESSION_ID": "parent-session-0001",
        "CLAUDECODE": "1",
        "MY_PROJECT_SETTING": "visible",
    }
    config = f'{CONFIG_WITH_SECRET}[workflows.shell]\nallowed_tools = ["Bash"]\n'
    with running_engine(tmp_path / "home", config, environ=environ) as engine:
        assert engine.control is not None
        job = engine.control.add("Show the environment [[bash:env]]", workflow="shell", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=60)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.transcript_path is not None
    transcript = Path(done.transcript_path).read_text()
    tool_results = [
        json.dumps(line)
        for line in map(json.loads, transcript.splitlines())
        if line["type"] == "user" and "tool_result" in json.dumps(line)
    ]
    assert tool_results, "the Bash tool's output is in the transcript"
    printed = "".join(tool_results)
    assert "MY_PROJECT_SETTING=visible" in printed and "ANTHROPIC_BASE_URL=" in printed
    for secret in (BOT_TOKEN_IN_ENV, API_HASH_IN_ENV, API_HASH_IN_CONFIG):
        assert secret not in transcript
    for name in ("FLOWTUI_TELEGRAM_", "FLOWTUI_QUEUE_URL", "CLAUDE_CODE_SSE_PORT", "parent-session-0001"):
        assert name not in transcript
