"""Prompt templates: ``{name}`` placeholders filled from what triggered the job.

Unknown placeholders and stray braces are left as written, so a prompt that talks about
code (``{x}`` in a snippet) is never mangled or rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def render_prompt(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def base_values(prompt: str, now: datetime) -> dict[str, str]:
    """The placeholders every trigger has; ``now`` is local time (``Clock.local()``)."""
    return {"prompt": prompt, "now": now.isoformat(timespec="seconds")}
