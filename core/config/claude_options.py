"""The rules for a workflow's Claude options that the config check applies at load: which
environment variables a job may be given, which flags flowtui keeps for itself, and what a JSON
schema or an MCP config must look like. Beside the settings (not the runner) so a config that
breaks them is refused with one line before any job runs."""

from __future__ import annotations

import json
from typing import Any, Literal

EffortLevel = Literal["low", "medium", "high", "xhigh", "max"]
"""The levels ``claude --effort`` takes (2.1.197's ``--help``)."""

FLOWTUI_PRIVATE_PREFIXES = ("FLOWTUI_TELEGRAM_", "FLOWTUI_HTTP_")
FLOWTUI_PRIVATE_NAMES = frozenset({"FLOWTUI_QUEUE_URL"})
"""flowtui's own credentials and settings (``settings.QUEUE_ENV``: the queue URL may carry a
Redis password; the Telegram ones are the bot's secrets)."""

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

FLAGS_SET_BY_FLOWTUI = frozenset(
    {
        "-p",
        "--print",
        "--output-format",
        "--input-format",
        "--verbose",
        "--include-partial-messages",
        "--permission-prompt-tool",
        "-r",
        "--resume",
        "-c",
        "--continue",
    }
)
"""Flags flowtui's reading of the run depends on: stream-json both ways over stdin and stdout,
and the session a follow-up resumes. ``extra_args`` may not give them again."""


def is_private(name: str, value: str = "") -> bool:
    """True for a variable that never reaches a job: flowtui's own, or a marker of the Claude
    Code session flowtui may itself run in."""
    if name in FLOWTUI_PRIVATE_NAMES or name.startswith(FLOWTUI_PRIVATE_PREFIXES):
        return True
    if name in CLAUDE_SESSION_MARKERS:
        return True
    return name == AI_AGENT and value.startswith("claude-code")


def check_env(env: dict[str, str]) -> str | None:
    """``env`` may not bring back what flowtui keeps out of every job's environment."""
    for name, value in env.items():
        if not name or "=" in name:
            return f"{name!r} is not a variable name: use NAME = \"value\" with no '=' in NAME"
        if "\x00" in value:
            return f"{name}'s value contains a NUL character, which no environment can hold"
        if name in FLOWTUI_PRIVATE_NAMES or name.startswith(FLOWTUI_PRIVATE_PREFIXES):
            return f"{name} is flowtui's own and never reaches a job: remove it"
        if is_private(name, value):
            return f"{name} marks a Claude Code session and flowtui keeps it out of every job: remove it"
    return None


def check_extra_args(args: list[str]) -> str | None:
    """``extra_args`` may not change how flowtui talks to the CLI."""
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in FLAGS_SET_BY_FLOWTUI:
            return f"{flag} is set by flowtui itself (stream-json over stdin and stdout): remove it"
    return None


def check_json_schema(value: dict[str, Any] | str) -> str | None:
    """A table, or a string holding a JSON object; either must survive being JSON text."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError as error:
            return f"is not valid JSON ({error}): write the schema as a TOML table or a JSON object"
        if not isinstance(decoded, dict):
            return 'expected a JSON object (a schema such as {"type": "object", ...})'
        return None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return "holds a TOML date or time, which JSON has not: write it as a string"
    return None


def check_mcp_config(value: str | list[str]) -> str | None:
    """Each entry is a path (not checked here: it may be relative to the job's directory) or a
    JSON object as a string."""
    for entry in [value] if isinstance(value, str) else value:
        if not entry.strip():
            return "an entry is empty: give a path to an MCP config file or a JSON object"
        if entry.lstrip().startswith("{"):
            try:
                decoded = json.loads(entry)
            except ValueError as error:
                return f"an entry starting with '{{' is not valid JSON ({error})"
            if not isinstance(decoded, dict):
                return "an entry starting with '{' must be a JSON object such as {\"mcpServers\": {...}}"
    return None


def json_schema_text(value: dict[str, Any] | str) -> str:
    """The schema as ``--json-schema`` takes it: JSON text."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def mcp_config_entries(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)
