"""The prompt and trigger text of a watch job, shared by the watcher and ``flowtui watch test``.

A workflow's template gets ``{path}`` (the first changed file), ``{paths}`` (all of them, one
a line), ``{event}`` (added/modified/deleted, or ``changed`` when mixed), ``{watch}`` and
``{now}``. A workflow that keeps the default ``{prompt}`` template gets the default watch
prompt as its ``{prompt}``, so a watch needs no workflow at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from core.config.prompts import base_values, render_prompt
from core.config.settings import DEFAULT_PROMPT, DEFAULT_WATCH_PROMPT, WorkflowSettings

ChangeSet = Mapping[str, str]
"""Changed paths relative to the watched directory, in the order they were seen, to their kind."""


def event_word(changes: ChangeSet) -> str:
    kinds = set(changes.values())
    return kinds.pop() if len(kinds) == 1 else "changed"


def template_values(watch_path: str, directory: Path, changes: ChangeSet, now: datetime) -> dict[str, str]:
    """The placeholders a watch job fills; paths are absolute, so any ``cwd`` can use them."""
    paths = [str(directory / rel) for rel in changes]
    values = base_values("", now)
    values.pop("prompt")
    values.update(
        {
            "path": paths[0] if paths else "",
            "paths": "\n".join(paths),
            "event": event_word(changes),
            "watch": watch_path,
        }
    )
    return values


def trigger_text(changes: ChangeSet) -> str:
    """For people: ``notes/today.md (+2 more)``."""
    names = list(changes)
    if not names:
        return "no changes"
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return f"{names[0]}{more}"


def inner_prompt(workflow: WorkflowSettings, values: Mapping[str, str]) -> str:
    """What goes into ``{prompt}``: the default watch prompt when the workflow has no template."""
    if workflow.prompt == DEFAULT_PROMPT:
        return render_prompt(DEFAULT_WATCH_PROMPT, values)
    return ""


def final_prompt(workflow: WorkflowSettings, values: Mapping[str, str]) -> str:
    """The exact prompt ``Control.add`` would record for these values."""
    prompt = inner_prompt(workflow, values)
    return render_prompt(workflow.prompt, {"prompt": prompt, **values})
