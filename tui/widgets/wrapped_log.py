"""A log that soft-wraps its lines to the widget's width, streams, searches, and stays bounded.

Textual's ``Log`` does not wrap, and its width follows only lines written in one piece, so a
long answer streamed in pieces could not be read at all. This one keeps the logical lines
(at most ``max_lines``; the last may still be streaming) and, per line, where its rows start
at the current width; a row is drawn when it is on screen. Re-wrapping (a resize, the wrap
toggle) walks only the kept lines. Search matches are kept per line and highlighted where they
are drawn.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import ClassVar

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from tui.widgets.pass_style import StyleOncePerPass

SINGLE_ROW = (0,)
"""The row starts of a line that fits on one row (most lines): shared, not one tuple each."""


def wrap_offsets(text: str, width: int) -> tuple[int, ...]:
    """Where each row of ``text`` starts when it is wrapped to ``width`` cells: at a space when
    the row has one, else at the last character that fits (wide characters count two cells;
    zero-width ones such as combining marks stay with the character before them). A space at
    a break stays at the end of its row, where drawing crops it, so rows are contiguous."""
    if width <= 0 or cell_len(text) <= width:
        return SINGLE_ROW
    if text.isascii():
        return _wrap_ascii(text, width)
    starts = [0]
    start = 0
    cells = 0  # of text[start:index]
    last_space = -1  # the last space on the row being filled
    length = len(text)
    index = 0
    while index < length:
        character = text[index]
        size = get_character_cell_size(character)
        if cells + size <= width or index == start:
            if character == " ":
                last_space = index
            cells += size
            index += 1
            continue
        if character == " ":  # the space hangs at the end of the full row
            index += 1
            start, cells = index, 0
        elif last_space >= start:  # the row ends after its last space; its last word moves on
            start = last_space + 1
            cells = sum(get_character_cell_size(moved) for moved in text[start:index])
        else:  # one word longer than the row: cut it where the row is full
            start, cells = index, 0
        last_space = -1
        if start < length:
            starts.append(start)
    return tuple(starts)


def _wrap_ascii(text: str, width: int) -> tuple[int, ...]:
    """``wrap_offsets`` where every character is one cell: found with ``str.rfind``."""
    starts = [0]
    start = 0
    length = len(text)
    while length - start > width:
        limit = start + width
        if text[limit] == " ":
            start = limit + 1
        else:
            space = text.rfind(" ", start, limit)
            start = space + 1 if space > start else limit
        if start >= length:
            break
        starts.append(start)
    return tuple(starts)


class WrappedLog(StyleOncePerPass, ScrollView, can_focus=True):
    """Lines of plain text (already made printable), wrapped at the widget's width while
    ``wrap`` is on and scrolled sideways while it is off."""

    ALLOW_SELECT = True
    COMPONENT_CLASSES: ClassVar[set[str]] = {"wrapped-log--match", "wrapped-log--current-match"}
    DEFAULT_CSS = """
    WrappedLog {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
        &.-wrap {
            overflow-x: hidden;
        }
        & > .wrapped-log--match {
            background: $warning 40%;
        }
        & > .wrapped-log--current-match {
            background: $accent;
            color: $text;
            text-style: bold;
        }
    }
    """

    wrap: var[bool] = var(True, init=False)
    """Soft-wrap lines to the width (on), or scroll sideways to read them (off)."""

    def __init__(self, max_lines: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_lines = max_lines
        self.auto_scroll = True
        self._lines: list[str] = []
        self._open = False  # the last line is still being written
        self._first_line_id = 0  # lines dropped off the top so far: ids stay stable
        self._row_starts: list[tuple[int, ...]] = []  # per line: where its rows start
        self._first_row: list[int] = []  # per line: its first row, counted from the first row ever
        self._rows_end = 0  # one past the last row, same count
        self._rows_dropped = 0  # rows dropped off the top, same count
        self._widest = 0  # cells of the widest line kept (for sideways scrolling)
        self._wrap_width = 0
        self._strips: LRUCache[int, Strip] = LRUCache(1024)  # by row since the first ever
        self._query = ""
        self._matches: list[tuple[int, int]] = []  # (line id, character offset), in order
        self._current = -1  # index into _matches of the match shown, -1 before any
        self.set_class(True, "-wrap")

    # -- what is kept -----------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        """The logical lines kept (unwrapped), the one still streaming last."""
        return list(self._lines)

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def row_count(self) -> int:
        """Rows drawn for the kept lines at the current width."""
        return self._rows_end - self._rows_dropped

    def clear(self) -> None:
        self._lines.clear()
        self._row_starts.clear()
        self._first_row.clear()
        self._first_line_id = 0
        self._rows_end = self._rows_dropped = 0
        self._open = False
        self._widest = 0
        self._strips.clear()
        self._matches.clear()
        self._current = -1
        self._update_virtual_size()
        self.refresh()

    def append(self, text: str, scroll_end: bool | None = None) -> None:
        """Add ``text``: it continues the line still open, and ends open unless it ends with a
        newline. One redraw and one size update, however many lines it brings."""
        if not text:
            return
        pieces = text.expandtabs().split("\n")
        first_changed = len(self._lines)
        if self._open:
            first_changed -= 1
            self._drop_last_rows()
            pieces[0] = self._lines.pop() + pieces[0]
        ending = pieces.pop()
        self._open = bool(ending)
        if ending:
            pieces.append(ending)
        self._add_lines(pieces)
        dropped = self._prune()
        if self._query:
            self._rescan_from(max(first_changed - dropped, 0))
        self._update_virtual_size()
        self.refresh()
        scroll = self.auto_scroll if scroll_end is None else scroll_end
        if scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _add_lines(self, lines: list[str]) -> None:
        width = self._wrap_width if self.wrap else 0
        row_starts, first_row = self._row_starts, self._first_row
        rows_end = self._rows_end
        if width > 0:  # the widest line matters only sideways: found again when wrap goes off
            for line in lines:
                fits = len(line) <= width and line.isascii()  # the common case, without cell_len
                starts = SINGLE_ROW if fits else wrap_offsets(line, width)
                row_starts.append(starts)
                first_row.append(rows_end)
                rows_end += len(starts)
        else:
            widest = self._widest
            for line in lines:
                cells = cell_len(line)
                if cells > widest:
                    widest = cells
                row_starts.append(SINGLE_ROW)
                first_row.append(rows_end)
                rows_end += 1
            self._widest = widest
        self._lines.extend(lines)
        self._rows_end = rows_end

    def _drop_last_rows(self) -> None:
        """Forget the open line's rows (it is about to grow)."""
        first = self._first_row.pop()
        self._row_starts.pop()
        for row in range(first, self._rows_end):
            self._strips.discard(row)
        self._rows_end = first

    def _prune(self) -> int:
        """Drop the oldest lines past ``max_lines``; returns how many."""
        excess = len(self._lines) - self.max_lines
        if excess <= 0:
            return 0
        del self._lines[:excess], self._row_starts[:excess], self._first_row[:excess]
        self._first_line_id += excess
        self._rows_dropped = self._first_row[0] if self._first_row else self._rows_end
        if self._matches:
            cut = bisect_left(self._matches, (self._first_line_id, -1))
            if cut:
                del self._matches[:cut]
                self._current = max(self._current - cut, -1)  # a match scrolled off is no longer current
        return excess

    def _rewrap(self) -> None:
        """Every kept line wrapped again (a new width, or wrap switched)."""
        lines = self._lines
        self._row_starts, self._first_row = [], []
        self._rows_end = self._rows_dropped = 0
        self._lines = []
        self._widest = 0
        self._strips.clear()
        self._add_lines(lines)
        self._update_virtual_size()
        self.refresh()

    def _update_virtual_size(self) -> None:
        width = self._wrap_width if self.wrap else self._widest
        self.virtual_size = Size(width, self.row_count)

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def on_resize(self, event: events.Resize) -> None:
        width = self._content_width()
        if width != self._wrap_width:
            self._rewrap_keeping_place(width)

    def watch_wrap(self, wrap: bool) -> None:
        self.set_class(wrap, "-wrap")
        self.call_after_refresh(self._rewrap_after_toggle)

    def _rewrap_after_toggle(self) -> None:
        self._rewrap_keeping_place(self._content_width())

    def _rewrap_keeping_place(self, width: int) -> None:
        """Wrap to ``width``; the line at the top of the view stays there (or the end, when
        the view followed it)."""
        at_end = self.is_vertical_scroll_end
        top_line = self._line_at_row(int(self.scroll_y))
        self._wrap_width = width
        self._rewrap()
        if at_end and self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif top_line is not None:
            self.scroll_to(y=self._first_row[top_line] - self._rows_dropped, animate=False, immediate=True)

    def _line_at_row(self, row: int) -> int | None:
        """Index (into the kept lines) of the line drawn on view row ``row``."""
        if not self._lines:
            return None
        index = bisect_right(self._first_row, row + self._rows_dropped) - 1
        return min(max(index, 0), len(self._lines) - 1)

    def row_of(self, line_index: int, offset: int = 0) -> int:
        """The view row that shows character ``offset`` of kept line ``line_index``."""
        starts = self._row_starts[line_index]
        return self._first_row[line_index] - self._rows_dropped + bisect_right(starts, offset) - 1

    # -- search -----------------------------------------------------------------------

    @property
    def search_query(self) -> str:
        return self._query

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def current_match(self) -> int:
        """1-based number of the match shown, 0 before any was shown."""
        return self._current + 1

    def search(self, query: str) -> None:
        """Find ``query`` (ignoring case) in the kept lines, and keep finding it in lines that
        arrive; the first match at or after the top of the view becomes current."""
        self._query = query
        self._matches = []
        self._current = -1
        if query:
            self._rescan_from(0)
        self._strips.clear()
        self.refresh()
        if self._matches:
            top = self._line_at_row(int(self.scroll_y)) or 0
            first = bisect_left(self._matches, (self._first_line_id + top, -1))
            self.go_to_match(first if first < len(self._matches) else 0)

    def _rescan_from(self, index: int) -> None:
        """Matches in kept lines from ``index`` on, replacing any found there before."""
        first_id = self._first_line_id + index
        del self._matches[bisect_left(self._matches, (first_id, -1)) :]
        needle = self._query.lower()
        step = max(len(needle), 1)
        for line_id, line in enumerate(self._lines[index:], start=first_id):
            lowered = line.lower()
            if len(lowered) != len(line):  # a character whose lower case is longer: exact case here
                lowered = line
            found = lowered.find(needle)
            while found >= 0:
                self._matches.append((line_id, found))
                found = lowered.find(needle, found + step)
        if self._current >= len(self._matches):
            self._current = len(self._matches) - 1
        for row in range(self._first_row[index] if index < len(self._first_row) else 0, self._rows_end):
            self._strips.discard(row)

    def go_to_match(self, index: int) -> None:
        """Make match ``index`` (wrapping around) current and scroll it into the middle."""
        if not self._matches:
            return
        self._current = index % len(self._matches)
        line_id, offset = self._matches[self._current]
        row = self.row_of(line_id - self._first_line_id, offset)
        self._strips.clear()
        self.refresh()
        self.scroll_to(
            y=max(row - self.scrollable_content_region.height // 2, 0), animate=False, immediate=True
        )

    def next_match(self, step: int = 1) -> None:
        if self._matches:
            self.go_to_match(self._current + step if self._current >= 0 else 0)

    def _matches_on(self, line_id: int) -> list[tuple[int, bool]]:
        """(offset, is current) of the matches on one line."""
        low = bisect_left(self._matches, (line_id, -1))
        high = bisect_left(self._matches, (line_id + 1, -1))
        return [(self._matches[n][1], n == self._current) for n in range(low, high)]

    # -- drawing ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        rich_style = self.rich_style
        if row < 0 or row >= self.row_count:
            return Strip.blank(width, rich_style)
        strip = self._row_strip(row, rich_style)
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style).apply_offsets(scroll_x, row)

    def _row_strip(self, row: int, rich_style: Style) -> Strip:
        absolute = row + self._rows_dropped
        selection = self.text_selection
        cached = self._strips.get(absolute)
        if cached is not None and selection is None:
            return cached
        index = bisect_right(self._first_row, absolute) - 1
        line = self._lines[index]
        starts = self._row_starts[index]
        part = absolute - self._first_row[index]
        begin = starts[part]
        end = starts[part + 1] if part + 1 < len(starts) else len(line)
        text = Text(line[begin:end], no_wrap=True, end="")
        text.stylize(rich_style)
        if self._query:
            self._highlight(text, self._first_line_id + index, begin, end)
        if selection is not None and (span := selection.get_span(row)) is not None:
            start, stop = span
            text.stylize(
                self.screen.get_component_rich_style("screen--selection"),
                start,
                len(text) if stop == -1 else stop,
            )
        strip = Strip(text.render(self.app.console), text.cell_len)
        if selection is None:
            self._strips[absolute] = strip
        return strip

    def _highlight(self, text: Text, line_id: int, begin: int, end: int) -> None:
        length = len(self._query)
        for offset, current in self._matches_on(line_id):
            if offset + length <= begin or offset >= end:
                continue
            name = "wrapped-log--current-match" if current else "wrapped-log--match"
            style = self.get_component_rich_style(name)
            text.stylize(style, max(offset - begin, 0), min(offset + length, end) - begin)

    def rows(self) -> list[str]:
        """Every row's text as drawn at the current width (a space at a break included)."""
        rows: list[str] = []
        for index, line in enumerate(self._lines):
            starts = self._row_starts[index]
            rows.extend(line[begin:end] for begin, end in zip(starts, (*starts[1:], len(line)), strict=True))
        return rows

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.rows())), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips.clear()
        self.refresh()
