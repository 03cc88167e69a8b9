"""What makes a question's frame quick (issue 15, bench/ask.py): the dashboard draws it as soon
as its widgets handed their changes to the screen, not at Textual's next update tick; a table
renders again only the cells that changed; and the table and the output pane work out their
style once per drawing pass."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.dom import DOMNode
from textual.geometry import Region
from textual.widgets import DataTable

from core.claude.conversation import Question
from core.claude.tool_preview import preview
from core.events import QuestionChanged
from tui.demo import demo_app
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.output_pane import OutputPane
from tui.widgets.question_box import QuestionBox
from tui.widgets.rows_table import RowsTable

SIZE = (120, 36)
RUNNING_JOB = 4
"""The demo's running job."""


async def test_a_question_the_engine_publishes_is_drawn_without_an_update_tick(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table, box = screen.query_one(JobTable), screen.query_one(QuestionBox)
        table.move_cursor(row=table.get_row_index(str(RUNNING_JOB)))
        await settle(pilot)
        assert app.session is not None and not box.display
        # From here Textual's update timer never fires: only the dashboard's own draw can
        # put the question on screen.
        screen._update_timer.stop()
        tool_input = {"command": "touch q-1"}
        question = Question("req-frame", "Bash", tool_input, "2026-11-25T09:29:50.000Z")
        # As the engine's run: the ledger holds the question, then the event says so.
        assert app.control.ledger.set_waiting(RUNNING_JOB, question.to_json(), "asks to use Bash")
        shown = preview("Bash", tool_input, None)
        event = QuestionChanged(RUNNING_JOB, json.loads(question.to_json()), shown)
        publisher = threading.Thread(target=app.session.bus.publish, args=(event,))  # as the engine's run
        publisher.start()
        publisher.join()
        for _ in range(200):  # not pilot.pause(): it draws a frame itself
            await asyncio.sleep(0.01)
            if box in screen._compositor.visible_widgets:
                break
        assert box in screen._compositor.visible_widgets, "the question was not drawn without a tick"
        assert str(box.border_title) == f"#{RUNNING_JOB} asks to use Bash"
        assert screen.query_one(JobTable).get_cell(str(RUNNING_JOB), "state").plain == "? needs you"


class Pair(RowsTable):
    COLUMNS: ClassVar[tuple[str, ...]] = ("ID", "Name")


class PairApp(App[None]):
    CSS = "Pair { height: 8; }"

    def compose(self) -> ComposeResult:
        yield Pair()


def drawn(table: Pair) -> list[str]:
    region = table.region
    return [strip.text.rstrip() for strip in table.render_lines(Region(0, 0, region.width, region.height))]


@pytest.fixture
def cell_renders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(row, column) of each cell DataTable itself renders."""
    renders: list[tuple[int, int]] = []
    original = DataTable._render_cell

    def render_cell(self: Any, row_index: int, column_index: int, *args: Any, **kwargs: Any) -> Any:
        renders.append((row_index, column_index))
        return original(self, row_index, column_index, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_cell", render_cell)
    return renders


async def test_a_changed_cell_alone_is_rendered_again(cell_renders: list[tuple[int, int]]) -> None:
    app = PairApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Pair)
        table.set_rows([("1", ["1", "first"]), ("2", ["2", "second"]), ("3", ["3", "third"])])
        await pilot.pause()
        rows = [line.split() for line in drawn(table)[1:4]]
        assert rows == [["1", "first"], ["2", "second"], ["3", "third"]]
        table._styles_cache.clear()  # as a frame that draws the table again
        cell_renders.clear()
        table.set_rows([("1", ["1", "first"]), ("2", ["2", "SECOND"]), ("3", ["3", "third"])])
        lines = drawn(table)
        assert lines[2].split() == ["2", "SECOND"]
        assert cell_renders == [(1, 1)], "only the changed cell is rendered again"


async def test_rows_that_move_go_and_come_back_are_drawn_as_they_are_now(
    cell_renders: list[tuple[int, int]],
) -> None:
    app = PairApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Pair)
        table.set_rows([("1", ["1", "first"]), ("2", ["2", "second"])])
        await pilot.pause()
        drawn(table)
        # sorted the other way: each row at its new place
        table.sort("id", key=table.sort_key, reverse=True)
        assert [line.split() for line in drawn(table)[1:3]] == [["2", "second"], ["1", "first"]]
        # a row removed and added again under the same key shows its new cells
        table.set_rows([("1", ["1", "first"])])
        drawn(table)
        table.set_rows([("1", ["1", "first"]), ("2", ["2", "back again"])])
        assert [line.split(maxsplit=1) for line in drawn(table)[1:3]] == [["1", "first"], ["2", "back again"]]
        # a new theme renders every cell again
        await pilot.pause()
        drawn(table)
        cell_renders.clear()
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        drawn(table)
        assert len(set(cell_renders)) >= 6, "header and both rows, every column"


async def test_the_style_is_worked_out_once_per_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        asked: dict[str, int] = {}
        original = DOMNode.rich_style

        def rich_style(self: DOMNode) -> Style:
            name = type(self).__name__
            asked[name] = asked.get(name, 0) + 1
            return original.fget(self)  # type: ignore[attr-defined,no-any-return]

        monkeypatch.setattr(DOMNode, "rich_style", property(rich_style))

        for widget in (app.screen.query_one(JobTable), app.screen.query_one(OutputPane)):
            widget._styles_cache.clear()
            widget.render_lines(Region(0, 0, widget.region.width, widget.region.height))
            assert asked.get(type(widget).__name__, 0) <= 1, f"{type(widget).__name__} asked per line"
            assert widget.rich_style == original.fget(widget)  # type: ignore[attr-defined]


async def test_what_the_window_built_to_start_is_kept_out_of_full_collections(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(100):  # after the frame that shows the first read
            if gc.get_freeze_count():
                break
            await pilot.pause()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0, "the window gives it back to the collector when it closes"


async def test_rows_added_in_order_are_drawn_at_the_widths_they_need() -> None:
    app = PairApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Pair)
        await pilot.pause()  # drawn empty: the header at its labels' widths
        table.set_rows([("1", ["1", "a name wider than its label"])])  # in order: no sort
        await pilot.pause()
        await pilot.pause()
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "a name wider than its label" in screen
