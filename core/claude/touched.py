"""The files a job's Edit, Write and MultiEdit calls named, read back from its transcripts:
what a job outside git can tell of its changes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.claude.transcript import decode_transcript_line

EDITING_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})


def touched_files(transcripts: Iterable[Path]) -> list[str]:
    """Each file an editing tool call named, in the order first named (a missing transcript is
    an attempt that never started)."""
    found: dict[str, None] = {}
    for transcript in transcripts:
        try:
            with open(transcript, "rb") as handle:
                calls = [decode_transcript_line(raw) for raw in handle if b'"tool_use"' in raw]
        except FileNotFoundError:
            continue
        for line in calls:
            found.update(dict.fromkeys(_edited_paths(line)))
    return list(found)


def _edited_paths(line: dict[str, object]) -> list[str]:
    message = line.get("message") if line.get("type") == "assistant" else None
    content = message.get("content") if isinstance(message, dict) else None
    paths = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict) or block.get("type") != "tool_use":
            continue
        tool_input = block.get("input")
        if block.get("name") in EDITING_TOOLS and isinstance(tool_input, dict):
            path = tool_input.get("file_path") or tool_input.get("notebook_path")
            if isinstance(path, str) and path:
                paths.append(path)
    return paths
