"""What a tool question would change, as a person judges it: the window, Telegram and the CLI
all show the same preview, so a file edit is answered by looking at its diff, not its JSON."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.claude.conversation import describe_input

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit"})
MAX_FILE_BYTES = 2_000_000
"""A file larger than this is not read to diff a ``Write`` against (its new text is shown)."""


@dataclass(frozen=True)
class ToolPreview:
    """One question's tool, its one-line summary, and a unified diff for a file edit (else the
    input as indented JSON)."""

    tool: str
    summary: str
    diff: list[str]
    """Unified diff lines (``---``/``+++``/``@@``/``+``/``-``/`` ``) for Edit, Write and MultiEdit."""
    detail: list[str]
    """The input as indented JSON lines, for any other tool."""

    def lines(self, limit: int | None = None) -> list[str]:
        """The diff (or the input) cut to ``limit`` lines, with a line saying how many more."""
        body = self.diff or self.detail
        if limit is None or len(body) <= limit:
            return list(body)
        return [*body[:limit], f"… {len(body) - limit} more lines"]


def preview(tool: str, tool_input: dict[str, Any], cwd: str | Path | None = None) -> ToolPreview:
    """The preview of ``tool`` called with ``tool_input``, relative paths read under ``cwd``."""
    summary = describe_input(tool_input)
    diff = _edit_diff(tool, tool_input, Path(cwd) if cwd else None) if tool in EDIT_TOOLS else []
    detail = [] if diff else json.dumps(tool_input, ensure_ascii=False, indent=2).splitlines()
    return ToolPreview(tool=tool, summary=summary, diff=diff, detail=detail)


def _edit_diff(tool: str, tool_input: dict[str, Any], cwd: Path | None) -> list[str]:
    path_text = tool_input.get("file_path")
    if not isinstance(path_text, str) or not path_text:
        return []
    path = Path(path_text)
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    before = _read(path)
    if tool == "Write":
        content = tool_input.get("content")
        after = content if isinstance(content, str) else before
    else:
        edits = tool_input.get("edits") if tool == "MultiEdit" else [tool_input]
        before, after = _apply_edits(before, edits if isinstance(edits, list) else [])
    return list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            fromfile=f"a/{path_text}",
            tofile=f"b/{path_text}",
            lineterm="",
        )
    )


def _apply_edits(text: str, edits: list[Any]) -> tuple[str, str]:
    """(before, after) of ``Edit`` calls as Claude Code makes them: each old_string replaced
    once (everywhere with replace_all). When the file (as read here) does not hold one, the
    preview is the change asked for: the old strings becoming the new ones."""
    pairs = [
        (edit["old_string"], edit["new_string"], bool(edit.get("replace_all")))
        for edit in edits
        if isinstance(edit, dict)
        and isinstance(edit.get("old_string"), str)
        and isinstance(edit.get("new_string"), str)
    ]
    after = text
    for old, new, everywhere in pairs:
        if not old or old not in after:
            return "\n".join(old for old, _, _ in pairs), "\n".join(new for _, new, _ in pairs)
        after = after.replace(old, new) if everywhere else after.replace(old, new, 1)
    return text, after


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
