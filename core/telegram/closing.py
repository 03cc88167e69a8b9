"""A tool question's Telegram message once the question is over: its buttons go, and the text
says how it ended, by whom and from where (the window, the CLI, MCP, the time-out, or the end
of the run), read from the job's history.

The bot rewrites the message itself when the answer came from Telegram; every other ending is
found by :meth:`~core.telegram.commands.Bot.close_answered` after a change of the ledger: a
question message whose job no longer waits on that question is rewritten once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.jobs import Job, JobEvent
from core.summary import excerpt

ANSWER_REASON = re.compile(r"^(?P<what>(?:allowed|denied) .+) \(by (?P<by>.+) via (?P<via>[\w-]+)\)$")
"""How the door records an answer in the job's history (``Control._answer``)."""
ASKED = "asks to use "
"""How the history says a run asked (the engine's note as it records the question)."""
TIMED_OUT = "no answer within"
"""What the run's note says when the time for an answer ran out (``Conversation.check``)."""
PLACES = {"tui": "in the window", "cli": "from the CLI", "telegram": "on Telegram", "mcp": "over MCP"}
OUTCOME_LIMIT = 300


def ending(job: Job | None, events: Sequence[JobEvent], queued_at: str) -> str:
    """The line that closes a question message queued at ``queued_at``: the first answer in
    the job's history after the question was asked (the last ask before the message), else
    why the job no longer waits."""
    asks = [
        index
        for index, event in enumerate(events)
        if event.reason.startswith(ASKED) and event.at <= queued_at
    ]
    for event in events[asks[-1] + 1 :] if asks else []:
        found = ANSWER_REASON.match(event.reason)
        if found is not None:
            mark = "✓" if found["what"].startswith("allowed") else "✗"
            place = PLACES.get(found["via"], f"via {found['via']}")
            return excerpt(f"{mark} {found['what']}, by {found['by']} {place}", OUTCOME_LIMIT)
        if TIMED_OUT in event.reason:
            return excerpt(f"✗ denied by the time-out: {event.reason}", OUTCOME_LIMIT)
    if job is None:
        return "(no longer waiting: the job is gone)"
    if job.state.is_final:
        return f"(no longer waiting: #{job.id} {job.state} before an answer)"
    return "(no longer waiting: answered elsewhere, or its run ended)"
