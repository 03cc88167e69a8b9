"""``flowtui watch test`` and the window's path tester: whether a change at a path would count, and why."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.config.settings import Settings
from core.config.watch_path import watch_key
from core.errors import ConfigError
from core.watch.prompt import final_prompt, template_values, trigger_text
from core.watch.rules import WatchRules


def changed_path(path: str) -> str:
    """A changed file's path as the watcher reports it: absolute, its folders' symlinks
    resolved but not the file's own. Not :func:`watch_key`, which is for a watch root: a
    change to a symlink is a change to the link, so resolving it would name another file."""
    expanded = Path(os.path.expanduser(path))
    try:
        parent = expanded.parent.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop; a NUL in the path
        parent = Path(os.path.abspath(expanded.parent))
    return str(parent / expanded.name) if expanded.name else str(parent)


def explain_change(settings: Settings, path: str, clock: Clock) -> list[dict[str, Any]]:
    """For each watch containing ``path``: whether a change there counts, why, and the job."""
    if "\x00" in path:
        return []  # no file can have a NUL in its path, so no change there can happen
    target = changed_path(path)
    verdicts: list[dict[str, Any]] = []
    for watch_settings in settings.watch:
        root = watch_key(watch_settings.path)
        only_file = Path(root).name if os.path.isfile(root) else None
        directory = Path(root).parent if only_file else Path(root)
        try:
            rules = WatchRules(
                directory,
                include=watch_settings.include,
                exclude=watch_settings.exclude,
                recursive=watch_settings.recursive,
                only_file=only_file,
            )
        except ValueError as error:
            verdicts.append(
                {"watch": root, "workflow": watch_settings.workflow, "counts": False, "reason": str(error)}
            )
            continue
        rel = rules.relative(target)
        if rel is None or (only_file is not None and target != root):
            continue
        verdict = rules.check(rel, os.path.isdir(target))
        entry: dict[str, Any] = {
            "watch": root,
            "workflow": watch_settings.workflow,
            "counts": verdict.counts and watch_settings.enabled,
            "reason": verdict.reason if watch_settings.enabled else "the watch is disabled (enabled = false)",
        }
        if entry["counts"]:
            try:
                workflow = settings.workflow(watch_settings.workflow)
            except ConfigError as error:
                entry.update(counts=False, reason=str(error))
            else:
                # A path that is not there yet is tested as its creation.
                changes = {rel: "modified" if os.path.lexists(target) else "added"}
                values = template_values(root, directory, changes, clock.local())
                entry["trigger"] = trigger_text(changes)
                entry["cwd"] = workflow.cwd or str(directory)
                entry["prompt"] = final_prompt(workflow, values)
        verdicts.append(entry)
    return verdicts
