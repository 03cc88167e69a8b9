"""Tiny stand-ins for the claude binary, for what the real CLI cannot be made to do.

The real CLI (tests marked ``claude``) covers real behaviour; these scripts produce the
malformed output, hangs and exits that flowtui must survive: non-UTF-8 bytes, a line
over the size limit, an exit without a result line.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

RESULT_OK = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "result": "fake answer",
    "total_cost_usd": 0.0123,
    "num_turns": 1,
    "session_id": "fake-session",
    "usage": {"input_tokens": 11, "output_tokens": 7},
}


def result_line(**changes: object) -> str:
    return json.dumps({**RESULT_OK, **changes})


def write_script(path: Path, body: str) -> Path:
    """A /bin/sh script; the prompt is the last argument (after ``--``)."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def ok_script(path: Path, answer: str = "fake answer") -> Path:
    init = json.dumps({"type": "system", "subtype": "init", "session_id": "fake-session"})
    return write_script(path, f"echo '{init}'\necho '{result_line(result=answer)}'\n")
