"""A workflow's ``send_files`` globs: checked at load, matched when a finished job is announced.

Gitignore-style patterns (pathspec's ``GitIgnoreSpec``, as the watches use), matched against a
file's path relative to the job's directory. pathspec is imported only when a workflow has some,
so loading a config without them costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec


def check_send_files(globs: list[str]) -> str | None:
    """Each glob is a non-empty relative pattern pathspec understands."""
    for glob in globs:
        if not glob.strip():
            return 'an entry is empty: give a glob such as "*.png" or "reports/**"'
        if glob.startswith(("/", "~")) or ".." in glob.replace("\\", "/").split("/"):
            return f'{glob!r} leaves the job\'s directory: globs are relative to it ("out/*.pdf")'
        if glob.startswith("!"):
            return f"{glob!r}: a negated pattern cannot send anything; list only what to send"
    if globs:
        try:
            send_files_spec(globs)
        except ValueError as error:
            return f"is not a list of globs pathspec understands: {error}"
    return None


def send_files_spec(globs: Sequence[str]) -> GitIgnoreSpec:
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(globs)
