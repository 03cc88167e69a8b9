"""The environment a job's Claude runs in: the user's, without what belongs to flowtui or to a
Claude Code session flowtui may itself have been started from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from core.config.check import SecretStr
from core.config.settings import API_HASH_ENV, BOT_TOKEN_ENV, QUEUE_ENV, Settings

FLOWTUI_PRIVATE_PREFIXES = ("FLOWTUI_TELEGRAM_",)
FLOWTUI_PRIVATE_NAMES = frozenset({QUEUE_ENV})
"""flowtui's own credentials and settings (the queue URL may carry a Redis password)."""

SECRET_ENV_NAMES = (API_HASH_ENV, BOT_TOKEN_ENV)
"""Variables whose values are secrets: another variable holding the same value is dropped too."""

CLAUDE_SESSION_MARKERS = frozenset(
    {
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_CODE_CHILD_SESSION",
        "CLAUDE_CODE_SESSION_ACCESS_TOKEN",
        "CLAUDE_CODE_EXECPATH",
        "CLAUDE_CODE_AGENT",
        "CLAUDE_CODE_COORDINATOR_MODE",
        "CLAUDE_AGENT_SDK_VERSION",
        "CLAUDE_EFFORT",
        "CLAUDE_PROJECT_DIR",
        "CLAUDE_ENV_FILE",
        "CLAUDE_PLUGIN_ROOT",
        "CLAUDE_PLUGIN_DATA",
    }
)
"""What Claude Code 2.1 exports to the commands, hooks and MCP servers it starts (seen in a Bash
tool's ``env`` and in the CLI's source). User settings such as ``CLAUDE_CONFIG_DIR`` or
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` are not markers and pass."""

AI_AGENT = "AI_AGENT"
"""Claude Code sets it to ``claude-code_<version>_...``; another agent's value passes."""


def job_environment(environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """``environ`` without flowtui's secrets and settings and without Claude Code's session markers.

    A job's tools see all of it (a Bash ``env`` prints it into the transcript, which Telegram
    may send on), so no flowtui secret may be there, under its own name or any other; and a
    marker of the session flowtui was started from would make the job's CLI take itself for a
    part of that session (its id, its project dir, its IDE). ``ANTHROPIC_*`` and the user's own
    variables pass.
    """
    secrets = {value.strip() for value in configured_secrets(settings)}
    secrets |= {environ[name].strip() for name in SECRET_ENV_NAMES if name in environ}
    secrets.discard("")
    return {
        name: value
        for name, value in environ.items()
        if not _is_private(name, value) and value.strip() not in secrets
    }


def _is_private(name: str, value: str) -> bool:
    if name in FLOWTUI_PRIVATE_NAMES or name.startswith(FLOWTUI_PRIVATE_PREFIXES):
        return True
    if name in CLAUDE_SESSION_MARKERS:
        return True
    return name == AI_AGENT and value.startswith("claude-code")


def configured_secrets(settings: object) -> Iterator[str]:
    """Every value in the settings typed as a secret, however deep it sits."""
    if isinstance(settings, SecretStr):
        yield settings.get_secret_value()
    elif dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        for field in dataclasses.fields(settings):
            yield from configured_secrets(getattr(settings, field.name))
    elif isinstance(settings, dict):
        for value in settings.values():
            yield from configured_secrets(value)
    elif isinstance(settings, list | tuple):
        for value in settings:
            yield from configured_secrets(value)
