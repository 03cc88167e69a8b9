"""A DataTable keyed by row id that updates in place: no flicker, the selection kept.

Rows are sorted by their first column (``SORT_KEY`` of its cell, ``SORT_REVERSE``) after
new rows arrive, so live updates never rebuild the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, CellKey, ColumnKey, RowKey

from core.display import one_line
from tui.widgets.pass_style import StyleOncePerPass

CELL_LIMIT = 200
"""A cell is one line: longer outside text ends in … (the detail screen and the CLI have it all)."""
CELLS_KEPT = 4000
"""Rendered cells kept: a screenful of rows in a few cursor and hover states."""


def literal(cell: object, width: int = CELL_LIMIT) -> object:
    """A cell drawn as typed: DataTable reads a str cell as markup (``[/bold]`` in a
    reason would crash the table), so text becomes a one-line ``Text``."""
    return Text(one_line(cell, width)) if isinstance(cell, str) else cell


def measure_now(table: DataTable[Any]) -> None:
    """Measure the new and changed cells on this refresh, before the next frame: DataTable
    waits for idle, and a frame drawn before that keeps lines at the old column widths."""
    if table._updated_cells:
        updated = table._updated_cells.copy()
        table._updated_cells.clear()
        table._update_column_widths(updated)
    if table._require_update_dimensions:
        table._require_update_dimensions = False
        new_rows = table._new_rows.copy()
        table._new_rows.clear()
        table._update_dimensions(new_rows)


def _plain(cell: Any) -> str:
    return str(getattr(cell, "plain", cell))


class RowsTable(StyleOncePerPass, DataTable[object]):
    """A table that shows a list of rows, updating cells in place instead of rebuilding."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    SORT_REVERSE: ClassVar[bool] = False
    MIN_WIDTHS: ClassVar[dict[str, int]] = {}
    """The narrowest a column gets, by name: a cell that often changes between a short and a
    longer text (a job's state) then changes no column width, so no layout."""

    def sort_key(self, cell: Any) -> Any:
        return _plain(cell)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fitted_widths: tuple[int, ...] = ()
        self._cells_drawn: LRUCache[tuple[object, ...], SegmentLines] = LRUCache(CELLS_KEPT)
        self._cell_versions: dict[str | None, dict[str | None, int]] = {}
        """By row, then column: bumped when a cell changes, so that cell alone is rendered again."""
        self._cells_generation = 0
        """Bumped when every cell may look different (columns, styles, theme)."""

    # DataTable keys each rendered cell on a count of all the table's changes, so one
    # changed cell renders every cell in view again (a third of a question's frame).

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        row_key = self._header_row_key if row_index == -1 else self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = row_key.value if row_key is not None else None
        column = column_key.value if column_key is not None else None
        key = (
            row_index,
            column_index,
            row,
            self._cell_versions.get(row, {}).get(column, 0),
            self._cells_generation,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self.show_cursor,
            self.cursor_type,
            self._pseudo_class_state,
        )
        lines = self._cells_drawn.get(key)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._cells_drawn[key] = lines
        return lines

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: object, *, update_width: bool = False
    ) -> None:
        """As DataTable's, but only the cell's row is drawn again (DataTable redraws the whole
        table: every line of it and every line the screen draws around it)."""
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if row not in self._row_locations or column not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        self._data[row][column] = value
        self._update_count += 1
        versions = self._cell_versions.setdefault(row.value, {})
        versions[column.value] = versions.get(column.value, 0) + 1
        if update_width:  # a column that grows redraws it all (see _update_dimensions)
            self._updated_cells.add(CellKey(row, column))
            self._require_update_dimensions = True
        index = self._row_locations.get(row)
        if index is not None:
            self.refresh_row(index)

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        self._cell_versions.pop(row_key if isinstance(row_key, str) else row_key.value, None)
        self._cells_generation += 1  # a row of that key added later starts at version 0 again

    def add_column(
        self, label: Any, *, width: int | None = None, key: str | None = None, default: object = None
    ) -> ColumnKey:
        self._cells_generation += 1
        return super().add_column(label, width=width, key=key, default=default)

    def remove_column(self, column_key: ColumnKey | str) -> None:
        self._cells_generation += 1
        super().remove_column(column_key)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cells_generation += 1

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cells_generation += 1

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable measures new rows when it is idle, after it may have drawn them (and kept
        the lines) at the old column widths: when a column grew, drop those lines."""
        super()._update_dimensions(new_rows)
        widths = tuple(column.content_width for column in self.columns.values())
        if widths != self._fitted_widths:
            self._fitted_widths = widths
            self.notify_style_update()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in self.COLUMNS:
            # The label's trailing spaces hold the width: DataTable sizes a column by its
            # widest cell or its label.
            label = Text(column.ljust(self.MIN_WIDTHS.get(column, 0)))
            self.add_column(label, key=column.lower())

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def set_rows(self, rows: Sequence[tuple[str, Sequence[object]]], reorder: bool = False) -> None:
        """Rows as (key, cells); ``reorder``: the sort key of rows already shown changed."""
        selected = self.selected_key
        wanted = {key for key, _ in rows}
        for row_key in list(self.rows):
            if row_key.value not in wanted:
                self.remove_row(row_key)
        added = False
        for key, raw_cells in rows:
            cells = [literal(cell) for cell in raw_cells]
            if key in self.rows:
                for column, value in zip(self.COLUMNS, cells, strict=True):
                    if self.get_cell(key, column.lower()) != value:
                        self.update_cell(key, column.lower(), value, update_width=True)
            else:
                self.add_row(*cells, key=key)
                added = True
        if (added or reorder) and self.COLUMNS:
            self._sort_if_moved()
        if added:
            self.refresh()  # DataTable's add_row draws nothing itself (a sort used to, every time)
        measure_now(self)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)

    def _sort_if_moved(self) -> None:
        """Sort, unless every row is in its place already: a sort redraws the whole table."""
        column = ColumnKey(self.COLUMNS[0].lower())
        shown = [row.key for row in self.ordered_rows]
        wanted = sorted(
            shown, key=lambda key: self.sort_key(self._data[key][column]), reverse=self.SORT_REVERSE
        )
        if wanted != shown:
            self.sort(column, key=self.sort_key, reverse=self.SORT_REVERSE)
