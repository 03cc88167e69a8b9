"""The selected job's tool question, above its output: the tool, what it would run or change
(a file edit as a coloured diff), and the keys that answer it. Hidden while the job waits
for nothing, so the output below keeps the whole pane."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from core.claude.tool_preview import ToolPreview
from core.display import one_line, printable
from core.jobs import Job

PREVIEW_LINES = 10
"""Diff (or input) lines shown; the rest is one line saying how many more, so the output
below keeps most of the pane."""
DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))
"""A diff line's style by how it starts, as ``git diff`` colours it (the terminal's palette)."""
ANSWER_KEYS = "y allows once · N denies · A allows always for this job"


def preview_text(preview: ToolPreview, limit: int = PREVIEW_LINES) -> Text:
    """The preview's summary and lines, literally (never markup), a diff coloured."""
    text = Text(one_line(preview.summary, 300), style="bold")
    for line in preview.lines(limit):
        text.append("\n")
        shown = printable(line)
        if preview.diff and not line.startswith("… "):
            style = next((style for start, style in DIFF_STYLES if line.startswith(start)), "")
        else:
            style = "dim"
        text.append(shown, style=style)
    return text


class QuestionBox(Static):
    """What the selected job asks; ``show_question`` with None hides it."""

    shown: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.request_id: str | None = None
        """The question drawn now (None: none)."""
        self.job_id: int | None = None
        self.summary = ""
        """What the question drawn would run or change, on one line."""

    def show_question(self, job: Job | None, preview: ToolPreview | None) -> None:
        question = job.question if job is not None else None
        if job is None or question is None or preview is None:
            self.request_id = self.job_id = None
            self.shown = False
            return
        request_id = str(question.get("request_id", ""))
        if (job.id, request_id) == (self.job_id, self.request_id):
            return  # drawn already: a snapshot changes nothing here
        self.job_id, self.request_id, self.summary = job.id, request_id, preview.summary
        self.border_title = Text(f"#{job.id} asks to use {one_line(preview.tool, 60)}")  # a str is markup
        self.border_subtitle = Text(ANSWER_KEYS)
        self.update(preview_text(preview))
        self.shown = True

    def watch_shown(self, shown: bool) -> None:
        self.display = shown  # not a class: a class change applies the stylesheet again (a ms)
