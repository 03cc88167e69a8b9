"""A job's readable transcript handed to the user's ``$PAGER`` or ``$EDITOR``, and back.

The text is what ``flowtui logs ID`` prints (every attempt, rendered, control characters made
visible), written to a temp file first so the viewer can page, search and save it. The
command is the variable split like a shell would (``shlex``) and run as an argv, never
through a shell; the window gives up the terminal while it runs (``App.suspend``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.app import App, SuspendNotSupported

from core.claude.transcript import render_transcript


@dataclass(frozen=True)
class Viewer:
    """Which variable names the program, and what runs when it is unset."""

    variable: str
    fallback: str


PAGER = Viewer("PAGER", "less")
EDITOR = Viewer("EDITOR", "vi")


class ViewerMissing(Exception):
    """The viewer's program cannot be found: the message names the variable to set."""


def readable_transcript(job_id: int, transcripts: list[Path]) -> str:
    """Every attempt's transcript rendered, as ``flowtui logs`` prints it (one header per
    attempt when there are several)."""
    parts = []
    several = len(transcripts) > 1
    for number, path in enumerate(transcripts, start=1):
        if several:
            parts.append(f"{chr(10) if number > 1 else ''}── attempt {number} ──\n")
        if path.exists():
            parts.append(render_transcript(path))
        else:
            parts.append(f"(job #{job_id} has no transcript for attempt {number})\n")
    return "".join(parts)


def viewer_command(viewer: Viewer, environ: Mapping[str, str], file: Path) -> list[str]:
    """The argv that opens ``file``: the variable's words (or the fallback) and the file,
    the program resolved on PATH; raises ViewerMissing when it is not there."""
    configured = environ.get(viewer.variable, "").strip()
    words = shlex.split(configured) if configured else [viewer.fallback]
    if not words:
        raise ViewerMissing(f"${viewer.variable} is empty: set it to a program")
    program = shutil.which(words[0], path=environ.get("PATH"))
    if program is None:
        shown = f"${viewer.variable} ({words[0]})" if configured else f"{words[0]} (set ${viewer.variable})"
        raise ViewerMissing(f"cannot open the transcript: {shown} was not found")
    return [program, *words[1:], str(file)]


def write_transcript_file(job_id: int, text: str, directory: Path | None = None) -> Path:
    """The text in a temp file the viewer opens (named after the job, so an editor's title
    says which)."""
    handle, name = tempfile.mkstemp(prefix=f"flowtui-job-{job_id}-", suffix=".txt", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    return Path(name)


def open_in_viewer(
    app: App[object], viewer: Viewer, job_id: int, transcripts: list[Path], environ: Mapping[str, str]
) -> None:
    """Show the job's transcript in the viewer, the window suspended until it exits; a
    problem is one toast, and the window stays as it was."""
    file = write_transcript_file(job_id, readable_transcript(job_id, transcripts))
    try:
        try:
            argv = viewer_command(viewer, environ, file)
        except (ViewerMissing, ValueError) as error:  # ValueError: shlex on an unclosed quote
            app.notify(
                f"{error}" if isinstance(error, ViewerMissing) else f"${viewer.variable}: {error}",
                severity="error",
            )
            return
        try:
            with app.suspend():
                completed = subprocess.run(argv, check=False, env=dict(environ))
        except SuspendNotSupported:
            app.notify("this terminal cannot be handed to another program", severity="error")
            return
        except OSError as error:
            app.notify(f"${viewer.variable} could not start: {error}", severity="error")
            return
        if completed.returncode != 0:
            app.notify(f"{Path(argv[0]).name} exited with status {completed.returncode}", severity="warning")
    finally:
        file.unlink(missing_ok=True)
