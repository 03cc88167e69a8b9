"""A widget's style worked out once per drawing pass instead of once per line.

``rich_style`` walks the widget's ancestors to blend their backgrounds on every call, and the
line-drawing widgets (DataTable, our logs) ask for it on every line, blank ones too: a third
of drawing a table. Nothing restyles a widget while it draws, so one answer serves the pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.widget import Widget as _Drawn
else:
    _Drawn = object  # a plain mixin: a Widget base would hide the widget's component classes


class StyleOncePerPass(_Drawn):
    """Mixed in before a line-drawing widget class: ``class T(StyleOncePerPass, DataTable)``."""

    _drawing = False
    _style_this_pass: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._drawing = True
        try:
            return super().render_lines(crop)
        finally:
            self._drawing = False
            self._style_this_pass = None

    @property
    def rich_style(self) -> Style:
        if not self._drawing:
            return super().rich_style
        if self._style_this_pass is None:
            self._style_this_pass = super().rich_style
        return self._style_this_pass
