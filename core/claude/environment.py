"""The environment a job's Claude runs in: the user's, without what belongs to flowtui or to a
Claude Code session flowtui may itself have been started from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from core.config.check import SecretStr
from core.config.claude_options import is_private as _is_private
from core.config.settings import (
    API_HASH_ENV,
    BOT_TOKEN_ENV,
    HTTP_GITHUB_SECRET_ENV,
    HTTP_TOKEN_ENV,
    Settings,
)

SECRET_ENV_NAMES = (API_HASH_ENV, BOT_TOKEN_ENV, HTTP_TOKEN_ENV, HTTP_GITHUB_SECRET_ENV)
"""Variables whose values are secrets: another variable holding the same value is dropped too.
Which names are flowtui's own or a Claude Code session's: ``core.config.claude_options``."""


def job_environment(environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """``environ`` without flowtui's secrets and settings and without Claude Code's session markers.

    A job's tools see all of it (a Bash ``env`` prints it into the transcript, which Telegram
    may send on), so no flowtui secret may be there, under its own name or any other; and a
    marker of the session flowtui was started from would make the job's CLI take itself for a
    part of that session (its id, its project dir, its IDE). ``ANTHROPIC_*`` and the user's own
    variables pass.
    """
    secrets = secret_values(environ, settings)
    return {
        name: value
        for name, value in environ.items()
        if not _is_private(name, value) and value.strip() not in secrets
    }


def secret_values(environ: Mapping[str, str], settings: Settings) -> frozenset[str]:
    """flowtui's secrets as values (the config's, and those of their environment overrides):
    a variable holding one never reaches a job, whatever its name."""
    secrets = {value.strip() for value in configured_secrets(settings)}
    secrets |= {environ[name].strip() for name in SECRET_ENV_NAMES if name in environ}
    secrets.discard("")
    return frozenset(secrets)


def with_workflow_env(
    base: Mapping[str, str], extra: Mapping[str, str], secrets: frozenset[str]
) -> tuple[dict[str, str], list[str]]:
    """``base`` with a workflow's ``env`` table over it, and the names of the table's entries
    left out. The config check already refuses flowtui's own names and the session markers;
    here they are dropped again, and so is a value that is one of flowtui's secrets (the
    check cannot see those: they may come from the environment)."""
    merged = dict(base)
    dropped: list[str] = []
    for name, value in extra.items():
        if _is_private(name, value) or value.strip() in secrets:
            dropped.append(name)
        else:
            merged[name] = value
    return merged, dropped


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
