"""What flowtui says on Telegram: job notifications, approval requests, tool questions (with a diff
preview for a file edit), lists, and how long texts split.

Texts are sent as plain text (pyrogram's markdown would eat unbalanced ``**`` or backticks
in an answer), but they are split at Telegram's limit like markdown: never inside a code
block without closing it at the end of one message and reopening it (with its language)
at the start of the next.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.changes.record import describe_changes
from core.claude.tool_preview import preview
from core.clock import parse_time
from core.jobs import Job, JobState
from core.ledger.notifications import Button, Markup
from core.ops.review import JobChanges
from core.summary import STATE_SYMBOLS, excerpt, format_cost, job_timing

MESSAGE_LIMIT = 4096
"""Telegram's limit for one message, counted in UTF-16 code units."""

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_PART_LABEL_ROOM = 12  # " (99/99)" and a little slack


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _take(text: str, units: int) -> tuple[str, str]:
    """The longest prefix of ``text`` within ``units`` UTF-16 units (never half a character)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:index], text[index:]
    return text, ""


def _size(lines: Sequence[str]) -> int:
    return sum(utf16_len(line) for line in lines) + max(0, len(lines) - 1)


def _cut_line(line: str, limit: int) -> list[str]:
    """A line longer than ``limit``: cut at the last space that fits, else anywhere."""
    pieces: list[str] = []
    rest = line
    while utf16_len(rest) > limit:
        head, tail = _take(rest, limit)
        space = head.rfind(" ")
        if space > limit // 2:
            head, tail = head[: space + 1], head[space + 1 :] + tail
        pieces.append(head)
        rest = tail
    pieces.append(rest)
    return pieces


@dataclass
class _Block:
    lines: list[str]
    code: bool
    closed: bool = True


def _blocks(text: str) -> list[_Block]:
    """Code blocks (fence to fence) stay together; every other line is a block of its own."""
    blocks: list[_Block] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                blocks.append(_Block([line], code=True, closed=False))
            else:
                blocks.append(_Block([line], code=False))
            continue
        blocks[-1].lines.append(line)
        if match is not None and _closes(line, match.group(1), fence):
            blocks[-1].closed = True
            fence = None
    return blocks


def _closes(line: str, marker: str, fence: str) -> bool:
    """A bare fence of the same character, at least as long as the opening one, closes it."""
    return line.strip() == marker and marker[0] == fence[0] and len(marker) >= len(fence)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-16 units; a code block that must be split
    is closed at the end of one part and reopened (same fence line) at the start of the next."""
    if utf16_len(text) <= limit:
        return [text]
    packer = _Packer(limit)
    for block in _blocks(text):
        packer.add(block)
    return packer.finish()


class _Packer:
    """Fills parts greedily: a block that does not fit starts a new part; only a block
    larger than a whole part is split (text at spaces, code line by line)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[list[str]] = []
        self.current: list[str] = []

    def fits(self, *lines: str) -> bool:
        return _size([*self.current, *lines]) <= self.limit

    def flush(self) -> None:
        if self.current:
            self.parts.append(self.current)
        self.current = []

    def finish(self) -> list[str]:
        self.flush()
        return ["\n".join(lines) for lines in self.parts]

    def add(self, block: _Block) -> None:
        if self.fits(*block.lines):
            self.current.extend(block.lines)
        elif _size(block.lines) <= self.limit:
            self.flush()
            self.current.extend(block.lines)
        elif block.code:
            self._add_code(block)
        else:
            for piece in _cut_line(block.lines[0], self.limit):
                if not self.fits(piece):
                    self.flush()
                self.current.append(piece)

    def _add_code(self, block: _Block) -> None:
        opening = block.lines[0]
        marker = _FENCE.match(opening)
        close = marker.group(1) if marker else "```"
        body = block.lines[1:-1] if block.closed else block.lines[1:]
        room = max(self.limit - _size([opening, close]) - 2, 1)
        if not self.fits(opening, _cut_line(body[0], room)[0] if body else "", close):
            self.flush()
        self.current.append(opening)
        for line in body:
            for piece in _cut_line(line, room):
                self._add_code_line(piece, opening, close)
        if block.closed:
            self._add_code_line(block.lines[-1], opening, close, closing=True)

    def _add_code_line(self, line: str, opening: str, close: str, closing: bool = False) -> None:
        needed = (line,) if closing else (line, close)
        if not self.fits(*needed):
            self.current.append(close)
            self.flush()
            self.current.append(opening)
        self.current.append(line)


# -- job texts ---------------------------------------------------------------------------


def trigger_text(job: Job) -> str:
    return job.trigger or f"{job.source}"


def job_header(job: Job) -> str:
    attempts = f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}"
    return (
        f"{STATE_SYMBOLS[job.state]} #{job.id} {job.state} · workflow {job.workflow}\n"
        f"trigger: {excerpt(trigger_text(job), 200)}\n"
        f"took {job_timing(job, parse_time(job.finished_at or job.created_at))} · "
        f"cost {format_cost(job.cost_usd)} · {attempts}"
    )


def job_body(job: Job) -> str:
    if job.state is JobState.SUCCEEDED:
        return job.answer or "(no answer text)"
    lines = [f"error: {job.error}"] if job.error else []
    if job.answer and job.answer != job.error:
        lines.append(job.answer)
    return "\n\n".join(lines) or f"(the job {job.state} without an error message)"


def job_buttons(job: Job) -> Markup:
    """Retry, Follow up, Show log; and Keep / Discard while the job's worktree waits for review."""
    row = [Button("Retry", f"retry:{job.id}")]
    if job.session_id:
        row.append(Button("Follow up", f"follow:{job.id}"))
    if job.transcript_path:
        row.append(Button("Show log", f"log:{job.id}"))
    rows: tuple[tuple[Button, ...], ...] = (tuple(row),)
    if job.changes_to_review:
        rows += ((Button("Keep", f"{KEEP}:{job.id}"), Button("Discard", f"{DISCARD}:{job.id}")),)
    return Markup(rows=rows)


KEEP = "keep"
DISCARD = "discard"
DISCARD_SURE = "discard-sure"
"""The button under the question "discard for good?"; Discard itself only asks."""
CHANGES_SHOWN = 10
"""The finish message names this many changed files, then says how many more."""


def changes_lines(job: Job, changes: JobChanges | None) -> list[str]:
    """What the job changed, for its finish message: a summary line, then up to
    :data:`CHANGES_SHOWN` files with their line counts; nothing when it changed nothing."""
    if changes is None or not changes.files:
        return []
    if changes.in_git:
        summary = describe_changes(changes.files)
    else:
        count = len(changes.files)
        summary = f"{count} file{'s' if count != 1 else ''} edited (outside git)"
    if job.changes_to_review:
        summary += f" in its worktree, to review: /diff {job.id}"
    elif job.review is None and changes.in_git:
        summary += f": /diff {job.id}"
    lines = [f"changes: {summary}"]
    for change in changes.files[:CHANGES_SHOWN]:
        if not changes.in_git:
            counts = "edited"
        elif change.added is None:
            counts = "binary"
        else:
            counts = f"+{change.added} -{change.removed}"
        lines.append(f"  {counts}  {_clip(change.path, 200)}")
    more = len(changes.files) - CHANGES_SHOWN
    if more > 0:
        lines.append(f"  … and {more} more")
    return lines


DIFF_INLINE_LIMIT = 3500
"""A diff this long (UTF-16 units) or shorter is sent inline as a code block; longer, as a file."""


def file_caption(job: Job, name: str) -> str:
    """The caption of a file a finished job sends (``send_files``): a reply to it is a follow-up."""
    return f"#{job.id} {_clip(name, 900)}"


def diff_caption(job: Job, changes: JobChanges) -> str:
    return f"#{job.id} diff: {describe_changes(changes.files)}"


def inline_diff(caption: str, diff: str) -> str | None:
    """The diff as one message, a caption line and a fenced code block the outbox sends as a
    real code block; None when it is too long for one message (send it as a file)."""
    body = diff.rstrip("\n")
    if utf16_len(body) > DIFF_INLINE_LIMIT or any(_FENCE.match(line) for line in body.split("\n")):
        return None
    return f"{caption}\n```diff\n{body}\n```"


def code_block(text: str) -> tuple[str, str, str] | None:
    """A message that is a caption line and one fenced block (what :func:`inline_diff` makes):
    (caption, language, code); None for any other text."""
    caption, _, rest = text.partition("\n")
    first, _, body = rest.partition("\n")
    opening = _FENCE.match(first)
    if opening is None or opening.group(1) != "```" or not body.endswith("\n```"):
        return None
    code = body[: -len("\n```")]
    if any(_FENCE.match(line) for line in code.split("\n")):
        return None
    return caption, first.strip()[3:], code


def finished_messages(
    job: Job, changes: JobChanges | None = None, notes: Sequence[str] = ()
) -> list[tuple[str, Markup | None]]:
    """The notification for a finished job: one message, or several parts with the buttons
    under the last; every part names the job, so a reply to any part is a follow-up. The
    changed files (``changes``) and ``notes`` (files that could not be sent) follow the header."""
    header = "\n".join([job_header(job), *changes_lines(job, changes), *(_clip(n, 300) for n in notes)])
    body = job_body(job)
    budget = MESSAGE_LIMIT - utf16_len(header) - 2 - _PART_LABEL_ROOM
    pieces = split_message(body, max(budget, 512))
    total = len(pieces)
    messages: list[tuple[str, Markup | None]] = []
    for number, piece in enumerate(pieces, start=1):
        if number == 1:
            first_line, _, rest = header.partition("\n")
            label = f" ({number}/{total})" if total > 1 else ""
            text = f"{first_line}{label}\n{rest}\n\n{piece}"
        else:
            text = f"#{job.id} ({number}/{total})\n{piece}"
        messages.append((text, job_buttons(job) if number == total else None))
    return messages


def approval_message(job: Job) -> tuple[str, Markup]:
    text = (
        f"? #{job.id} waits for approval · workflow {job.workflow}\n"
        f"trigger: {excerpt(trigger_text(job), 200)}\n"
        f"cwd: {job.cwd}\n\n{_clip(job.prompt, 3000)}"
    )
    buttons = (Button("Approve", f"approve:{job.id}"), Button("Deny", f"deny:{job.id}"))
    return text, Markup(rows=(buttons,))


QUESTION_ACTIONS = ("allow", "always", "refuse")
"""Button actions that answer a tool question; their data is ``action:JOB:TOKEN``."""
QUESTION_TEXT_LIMIT = 3800
"""A question message stays this short, so the line that says how it was answered fits too."""
PREVIEW_LINES = 40
PREVIEW_LINE_WIDTH = 300


def question_token(request_id: str) -> str:
    """A short, stable name of one question (a request id may be too long for a button's 64 bytes)."""
    return hashlib.sha256(request_id.encode()).hexdigest()[:16]


def job_question(job: Job) -> dict[str, object] | None:
    """The tool question the job waits on now, if it is running and waits on one."""
    question = job.question if job.state is JobState.RUNNING else None
    if question is None or not isinstance(question.get("request_id"), str):
        return None
    return question


def current_token(job: Job) -> str | None:
    """The token of the question the job waits on now (None: it waits on none)."""
    question = job_question(job)
    return question_token(str(question["request_id"])) if question is not None else None


def question_message(job: Job) -> tuple[str, Markup] | None:
    """The message asking whether ``job``'s tool may run: the tool, its input, a diff for a file
    edit, and the buttons; None when the job waits on no question."""
    question = job_question(job)
    if question is None:
        return None
    tool = str(question.get("tool") or "a tool")
    tool_input = question.get("input")
    shown = preview(tool, tool_input if isinstance(tool_input, dict) else {}, job.cwd)
    head = (
        f"? #{job.id} asks to use {tool} · workflow {job.workflow}\n"
        f"trigger: {excerpt(trigger_text(job), 200)}\n"
        f"cwd: {job.cwd}\n\n"
        f"{tool}: {shown.summary}"
    )
    foot = (
        f"Allow runs it once, Always allows {tool} for the rest of #{job.id}, Deny refuses it; "
        "reply to this message to deny with a reason."
    )
    budget = QUESTION_TEXT_LIMIT - utf16_len(head) - utf16_len(foot) - 4
    body: list[str] = []
    lines = [_clip(line, PREVIEW_LINE_WIDTH) for line in shown.lines(PREVIEW_LINES)]
    for index, line in enumerate(lines):
        if _size([*body, line]) > budget - 20:
            body.append(f"… {len(lines) - index} more lines")
            break
        body.append(line)
    text = "\n\n".join(part for part in (head, "\n".join(body), foot) if part)
    token = question_token(str(question["request_id"]))
    buttons = tuple(
        Button(label, f"{action}:{job.id}:{token}")
        for label, action in zip(("Allow", "Always", "Deny"), QUESTION_ACTIONS, strict=True)
    )
    return text, Markup(rows=(buttons,))


def button_token(markup: Markup | None) -> str | None:
    """The question token a message's buttons carry (None: not a question message)."""
    for row in markup.rows if markup is not None else ():
        for button in row:
            action, _, rest = button.data.partition(":")
            if action in QUESTION_ACTIONS and ":" in rest:
                return rest.partition(":")[2]
    return None


def answered_text(original: str, outcome: str) -> str:
    """A question message as it reads once answered: its text and what was done, by whom."""
    room = MESSAGE_LIMIT - utf16_len(outcome) - 3
    kept, cut = _take(original, room)
    return (kept + ("…" if cut else "")) + f"\n\n{outcome}"


def followup_prompt(job: Job) -> tuple[str, Markup]:
    return (
        f"Reply to this message with what Claude should do next in #{job.id}'s session.",
        Markup(force_reply=True),
    )


def job_line(job: Job, now: datetime) -> str:
    return (
        f"{STATE_SYMBOLS[job.state]} #{job.id} {job.state} · {job.workflow} · {job_timing(job, now)} · "
        f"{excerpt(job.prompt, 60)}"
    )


def jobs_list(jobs: Sequence[Job], paused_reason: str | None, now: datetime) -> str:
    lines = [job_line(job, now) for job in jobs] or ["no jobs yet: send a prompt to queue one"]
    if paused_reason is not None:
        lines.insert(0, f"⏸ paused ({paused_reason}): /resume to take jobs again")
    return "\n".join(lines)


def status_text(job: Job, now: datetime) -> str:
    lines = [
        f"{STATE_SYMBOLS[job.state]} #{job.id} {job.state} · workflow {job.workflow}",
        f"trigger: {excerpt(trigger_text(job), 200)}",
        f"attempts {job.attempts}/{job.max_attempts} · {job_timing(job, now)} · "
        f"cost {format_cost(job.cost_usd)}",
        f"prompt: {_clip(job.prompt, 500)}",
    ]
    if job.parent_id:
        lines.insert(2, f"from #{job.parent_id}")
    question = job_question(job)
    if question is not None:
        lines.append(f"waits for an answer: may it use {question.get('tool')}?")
    if job.error:
        lines.append(f"error: {job.error}")
    if job.answer:
        lines.append(f"answer:\n{_clip(job.answer, 2500)}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


HELP_TEXT = """flowtui commands
/run PROMPT — queue a job (plain text does the same; messages sent within a moment become one job)
/jobs — the latest jobs
/status ID — one job
/retry ID — run a finished job again; /retry failed — every failed job
/cancel ID — cancel a queued or running job
/diff ID — what a job changed (a file when it is long); Keep / Discard under a finish message
/pause, /resume — stop or restart taking jobs
/watch PATH, /unwatch PATH — start or stop watching a directory
/help — this list
Reply to a job's message: while it runs, Claude reads your text at its next turn; once it has
finished, your text continues its Claude session. A reply to a question (Allow / Always / Deny)
denies it with your text as the reason."""
