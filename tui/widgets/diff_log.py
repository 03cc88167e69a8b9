"""A unified diff, coloured per line and scrolled to any file's section.

The diff is the job's files' text, so each line is drawn literally: a ``Text`` with one style
per line (added, removed, hunk, file header), never Rich markup, with its control characters
shown as escapes. Lines are not wrapped, so line N of the diff is row N of the log.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import RichLog

from core.display import printable

DIFF_LINE_LIMIT = 20_000
"""A longer diff shows this many lines and says how to see the rest (``flowtui diff``)."""
FILE_HEADER = "diff --git "

LINE_STYLES = {
    "file": "bold $text",
    "meta": "bold $text-muted",
    "hunk": "$accent",
    "added": "$text-success",
    "removed": "$text-error",
    "note": "italic $text-muted",
}
"""Theme variables, resolved in the theme's colours when the diff is drawn."""


def line_kind(line: str, in_header: bool) -> str:
    """How a diff line is drawn: ``in_header`` is between a file's ``diff --git`` line and its
    first hunk, where ``--- a/x`` names a file and is not a removed line."""
    if line.startswith(FILE_HEADER):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if in_header:
        return "meta"
    if line.startswith("+"):
        return "added"
    if line.startswith("-"):
        return "removed"
    if line.startswith("\\"):
        return "note"  # \ No newline at end of file
    return "context"


def resolve(style: str, variables: Mapping[str, str]) -> str:
    """A style written with theme variables, in the theme's colours (longest names first:
    ``$text-muted`` is not ``$text`` followed by ``-muted``)."""
    for name in sorted(variables, key=len, reverse=True):
        style = style.replace(f"${name}", variables[name])
    return style


def styled_diff(
    diff: str, variables: Mapping[str, str], limit: int = DIFF_LINE_LIMIT
) -> tuple[Text, list[int]]:
    """The diff as one ``Text`` (a style per line), and the line each file's section starts on."""
    styles = {kind: resolve(style, variables) for kind, style in LINE_STYLES.items()}
    lines = diff.splitlines()
    text = Text(no_wrap=True, overflow="ignore", end="")
    starts: list[int] = []
    in_header = False
    for number, line in enumerate(lines[:limit]):
        kind = line_kind(line, in_header)
        if kind == "file":
            starts.append(number)
            in_header = True
        elif kind == "hunk":
            in_header = False
        if number:
            text.append("\n")
        text.append(printable(line), style=styles.get(kind, ""))
    hidden = len(lines) - limit
    if hidden > 0:
        text.append(f"\n… {hidden:,} more lines", style=styles["note"])
    return text, starts


class DiffLog(RichLog):
    """The Diff view's right side: the job's unified diff, scrolled to a file on request."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(wrap=False, markup=False, highlight=False, auto_scroll=False, min_width=1, id=id)
        self.file_starts: list[int] = []
        """The row each file's section starts on, in the order of the file list."""
        self.shown: str | None = None
        """The diff drawn now (None before the first)."""

    def show_diff(self, diff: str, empty: str, more: str = "") -> None:
        """Draw ``diff`` (or the ``empty`` line when there is none); ``more`` says where the rest
        is when the diff was cut. Unchanged text is not drawn again, so the place is kept."""
        if diff == self.shown:
            return
        first = self.shown is None
        self.shown = diff
        y = self.scroll_y
        self.clear()
        if not diff:
            self.file_starts = []
            self.write(Text(empty, style="italic"), scroll_end=False)
            return
        text, self.file_starts = styled_diff(diff, self.app.theme_variables)
        if more and text.plain.endswith("more lines"):
            text.append(f": {more}")
        self.write(text, shrink=False, scroll_end=False)  # a long line scrolls sideways, never cut
        if not first:
            self.scroll_to(y=y, animate=False, immediate=True)

    def jump_to_file(self, index: int) -> None:
        """Scroll so the ``index``-th file's section is at the top."""
        if 0 <= index < len(self.file_starts):
            self.scroll_to(y=self.file_starts[index], animate=False, immediate=True)
