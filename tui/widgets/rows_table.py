"""A DataTable keyed by row id that updates in place: no flicker, the selection kept.

Rows are sorted by their first column (``SORT_KEY`` of its cell, ``SORT_REVERSE``) after
new rows arrive, so live updates never rebuild the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from core.display import one_line

CELL_LIMIT = 200
"""A cell is one line: longer outside text ends in … (the detail screen and the CLI have it all)."""


def literal(cell: object, width: int = CELL_LIMIT) -> object:
    """A cell drawn as typed: DataTable reads a str cell as markup (``[/bold]`` in a
    reason would crash the table), so text becomes a one-line ``Text``."""
    return Text(one_line(cell, width)) if isinstance(cell, str) else cell


def _plain(cell: Any) -> str:
    return str(getattr(cell, "plain", cell))


class RowsTable(DataTable[object]):
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
            self.sort(self.COLUMNS[0].lower(), key=self.sort_key, reverse=self.SORT_REVERSE)
        self._measure_now()
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)

    def _measure_now(self) -> None:
        """Measure the new and changed cells on this refresh, before the next frame: DataTable
        waits for idle, and a frame drawn before that clips a new row at the old widths."""
        if self._updated_cells:
            updated = self._updated_cells.copy()
            self._updated_cells.clear()
            self._update_column_widths(updated)
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)
