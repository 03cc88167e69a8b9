"""The output pane shows streamed text exactly as the renderer produced it, however it is split."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from core.claude.transcript import render_transcript
from tui.widgets.output_pane import MAX_LINES, OutputPane


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputPane()


def delta(text: str) -> str:
    return json.dumps(
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}},
        }
    )


@pytest.mark.parametrize("pieces_per_pull", [1, 2, 100])
async def test_streamed_pieces_land_on_the_right_lines(tmp_path: Path, pieces_per_pull: int) -> None:
    pieces = [
        "Risks:\n",
        "1. The CSV writer ignores the ",
        "locale.\n2. Exports",
        " over 10,000 rows",
        " stall.\n",
        "done",
    ]
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    app = PaneApp()
    async with app.run_test() as pilot:
        pane = app.query_one(OutputPane)
        pane.show_job(1, [transcript])
        for start in range(0, len(pieces), pieces_per_pull):
            with transcript.open("a") as out:
                for piece in pieces[start : start + pieces_per_pull]:
                    out.write(delta(piece) + "\n")
            pane.pull()
            await pilot.pause()
        shown = "\n".join(pane.lines)
    assert shown == render_transcript(transcript).rstrip("\n")
    assert shown.splitlines() == [
        "Risks:",
        "1. The CSV writer ignores the locale.",
        "2. Exports over 10,000 rows stall.",
        "done",
    ]


# -- wrapping ---------------------------------------------------------------------------

from rich.cells import cell_len  # noqa: E402
from textual.widgets import Input  # noqa: E402

from core.jobs import JobState  # noqa: E402
from tui.demo import demo_app  # noqa: E402
from tui.screens.new_job import NewJobScreen  # noqa: E402
from tui.screens.output_search import OutputSearchScreen  # noqa: E402
from tui.screenshots import settle  # noqa: E402
from tui.widgets.wrapped_log import wrap_offsets  # noqa: E402

SEQ_LINE = ",".join(str(number) for number in range(1, 151))  # `seq -s , 1 150`: 491 characters


def rows_of(text: str, width: int) -> list[str]:
    starts = wrap_offsets(text, width)
    return [text[begin:end] for begin, end in zip(starts, (*starts[1:], len(text)), strict=True)]


@pytest.mark.parametrize(
    "text",
    [
        SEQ_LINE,
        "Claude writes each paragraph as one line, " * 12,
        "漢字かな交じり文の段落は一行で書かれる。" * 8,
        "party 🎉 time 🎉🎉 " * 20,
        "cafe\u0301 nai\u0308ve " * 30,
        "a" * 7 + " " + "b" * 30,
    ],
)
@pytest.mark.parametrize("width", [1, 2, 7, 40, 79])
def test_wrapped_rows_keep_every_character_and_fit_the_width(text: str, width: int) -> None:
    rows = rows_of(text, width)
    assert "".join(rows) == text  # nothing lost, nothing repeated
    for row in rows:
        # a row fits (a space at the break hangs past the edge, where drawing crops it), or it
        # is a single character wider than a one-cell pane
        assert cell_len(row.rstrip(" ")) <= width or len(row.rstrip(" ")) == 1, (row, width)
        assert not row or cell_len(row[0]) > 0, "a row never starts with a combining mark"


def test_words_move_to_the_next_row_whole() -> None:
    assert rows_of("the quick brown fox jumps", 10) == ["the quick ", "brown fox ", "jumps"]
    assert rows_of("漢字 漢字漢字", 8) == ["漢字 ", "漢字漢字"]
    assert rows_of("short", 10) == ["short"]


def transcript_with(tmp_path: Path, *texts: str) -> Path:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("".join(delta(text) + "\n" for text in texts))
    return transcript


def screen_rows(pane: OutputPane) -> list[str]:
    return [pane.render_line(y).text for y in range(pane.scrollable_content_region.height)]


async def test_a_400_character_line_is_readable_whole_and_w_switches_to_sideways(tmp_path: Path) -> None:
    transcript = transcript_with(tmp_path, "before\n", SEQ_LINE[:200], SEQ_LINE[200:] + "\n", "after\n")
    app = PaneApp()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(OutputPane)
        pane.focus()
        pane.show_job(1, [transcript])
        await pilot.pause()
        width = pane.scrollable_content_region.width
        assert pane.lines == ["before", SEQ_LINE, "after"]
        shown = screen_rows(pane)
        assert shown[0].rstrip() == "before"
        long_rows = [row.rstrip() for row in shown[1 : 1 + pane.row_count - 2]]
        assert "".join(long_rows) == SEQ_LINE  # every number on screen, ",150" included
        assert all(cell_len(row) <= width for row in long_rows)
        assert pane.max_scroll_x == 0  # nothing to scroll to sideways

        await pilot.press("w")
        await pilot.pause()
        assert not pane.wrap and pane.row_count == 3
        assert pane.virtual_size.width == len(SEQ_LINE)  # streamed in pieces, yet scrolls to its end
        pane.scroll_to(x=pane.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        assert screen_rows(pane)[1].rstrip().endswith(",149,150")
        assert "no wrap" in str(pane.border_subtitle)

        await pilot.press("w")
        await pilot.pause()
        assert pane.wrap and pane.row_count > 3


async def test_a_resize_wraps_again_and_memory_stays_bounded(tmp_path: Path) -> None:
    transcript = transcript_with(tmp_path, SEQ_LINE + "\n")
    app = PaneApp()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(OutputPane)
        pane.show_job(1, [transcript])
        await pilot.pause()
        rows_at_60 = pane.row_count
        await pilot.resize_terminal(120, 20)
        await pilot.pause()
        await pilot.pause()
        assert pane.row_count < rows_at_60
        assert "".join(row.rstrip() for row in screen_rows(pane)[: pane.row_count]) == SEQ_LINE
        pane.append("".join(f"{n:05d} " + "word " * 30 + "\n" for n in range(MAX_LINES + 50)))
        await pilot.pause()
        assert pane.line_count == MAX_LINES  # the oldest lines (the 491-character one too) are gone
        assert pane.lines[0].startswith("00050 ") and pane.lines[-1].startswith(f"{MAX_LINES + 49:05d} ")
        assert pane.row_count == 2 * MAX_LINES  # each 156-cell line is two rows at 118 cells
        last_two = [row.rstrip() for row in screen_rows(pane)[-2:]]
        assert "".join(last_two).replace("word", "") == f"{MAX_LINES + 49:05d}" + " " * 29


async def test_marker_and_unknown_lines_show_literally(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(
        json.dumps({"type": "flowtui", "subtype": "cancelled", "text": "[b]cancelled[/b] by the user"})
        + "\n"
        + delta("[red]not markup[/red]\n")
        + "\n"
    )
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(OutputPane)
        pane.show_job(1, [transcript])
        await pilot.pause()
        shown = "\n".join(screen_rows(pane))
    assert "[red]not markup[/red]" in shown
    assert "[b]cancelled[/b] by the" in shown  # drawn as written (the line wraps after "the")
    assert any("[b]cancelled[/b] by the user" in line for line in pane.lines)
    assert "\n".join(pane.lines) == render_transcript(transcript).rstrip("\n")


# -- a job with no transcript says why ----------------------------------------------------


async def test_jobs_without_a_transcript_say_why(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(OutputPane)
        assert pane.job_id == 5 and pane.lines == ["job #5 is queued: its output shows here when it starts"]
        await pilot.press("j", "j", "j")  # #2 failed (API error) before any transcript was written
        await settle(pilot)
        assert pane.lines == ["job #2 failed before Claude started:", "API Error: 400 prompt is too long"]
        assert app.session is not None
        failed = app.session.control.get(2)
        await pilot.press("k", "k", "k")  # back to #5, still queued
        await settle(pilot)
        queued = app.session.control.get(5)
        for state, expected in [
            (JobState.AWAITING_APPROVAL, ["job #5 is waiting for approval: y approves it, N denies it"]),
            (JobState.RUNNING, ["job #5 is starting: Claude's output shows here as it comes"]),
            (JobState.CANCELLED, ["job #5 was cancelled before Claude started: cancelled by the user"]),
            (
                JobState.FAILED,
                ["job #5 failed before Claude started:", "claude: command not found", "(exit 127)"],
            ),
        ]:
            error = {
                JobState.CANCELLED: "cancelled by the user",
                JobState.FAILED: "claude: command not found\n(exit 127)",
            }.get(state)
            pane.note_job(dataclasses.replace(queued, state=state, error=error))  # as the next snapshot does
            assert pane.lines == expected, state
        pane.note_job(failed)  # another job's news leaves the pane alone
        assert pane.job_id == 5 and pane.lines == expected
        # its transcript appears: the next pull reads it instead of the message
        transcript = app.paths.transcript_for(5, 1)
        transcript.write_text(delta("hello from Claude\n") + "\n")
        pane.pull()
        assert pane.lines == ["hello from Claude"]


# -- search -----------------------------------------------------------------------------


async def test_search_finds_moves_and_closes_in_a_plain_pane(tmp_path: Path) -> None:
    transcript = transcript_with(tmp_path, "alpha risk\n", "nothing here\n", "Risk two, risk three\n")
    app = PaneApp()
    async with app.run_test(size=(80, 20)) as pilot:
        pane = app.query_one(OutputPane)
        pane.focus()
        pane.show_job(1, [transcript])
        await pilot.press("slash")
        assert isinstance(app.screen, OutputSearchScreen)
        await pilot.press(*"risk")
        await pilot.pause()
        verdict = str(app.screen.query_one("#output-search-verdict").render())
        assert verdict.startswith("1 of 3")
        await pilot.press("enter")
        assert not isinstance(app.screen, OutputSearchScreen)
        assert (pane.match_count, pane.current_match) == (3, 1)
        await pilot.press("n")
        assert pane.current_match == 2
        await pilot.press("n", "n")
        assert pane.current_match == 1  # round again
        await pilot.press("N")
        assert pane.current_match == 3
        assert "3 of 3" in str(pane.border_subtitle)
        # the current match is drawn in its own style on its row
        row = screen_rows(pane)[2]
        current = pane.get_component_rich_style("wrapped-log--current-match")
        strip = pane.render_line(2)
        styled = [
            segment.text for segment in strip if segment.style and segment.style.bgcolor == current.bgcolor
        ]
        assert row.startswith("Risk two, risk three") and styled == ["risk"]
        # new output is searched as it arrives
        with transcript.open("a") as out:
            out.write(delta("a late risk\n") + "\n")
        pane.pull()
        assert pane.match_count == 4
        await pilot.press("escape")
        assert pane.search_query == "" and pane.match_count == 0

        await pilot.press("slash", *"zebra")
        await pilot.pause()
        assert str(app.screen.query_one("#output-search-verdict").render()).startswith("no match for 'zebra'")
        await pilot.press("escape")
        assert not isinstance(app.screen, OutputSearchScreen) and pane.search_query == ""


async def test_n_and_slash_reach_the_dashboard_unless_an_output_search_is_kept(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "j")  # #1, the finished job with a transcript
        await settle(pilot)
        await pilot.press("slash")  # the jobs table is focused: / filters the jobs
        assert app.screen.query_one("#filter", Input).has_focus
        await pilot.press("escape")
        await settle(pilot)
        pane = app.screen.query_one(OutputPane)
        pane.focus()
        await pilot.pause()
        await pilot.press("n")  # no search kept: n is still "new job"
        assert isinstance(app.screen, NewJobScreen)
        await pilot.press("escape")
        await settle(pilot)
        pane.focus()
        await pilot.press("slash", *"notes", "enter")
        assert pane.match_count >= 2 and pane.current_match == 1
        await pilot.press("n")  # a search is kept: n moves to the next match
        assert not isinstance(app.screen, NewJobScreen) and pane.current_match == 2
        await pilot.press("escape")  # closes the search, not the filter
        assert pane.search_query == ""
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)


async def test_the_details_transcript_wraps_and_searches_with_the_same_keys(tmp_path: Path) -> None:
    from textual.widgets import TabPane

    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "j", "enter")  # #1's details
        await settle(pilot)
        pane = app.screen.query_one("#detail-output", OutputPane)
        if any(isinstance(node, TabPane) for node in pane.ancestors):
            await pilot.press("2")  # the transcript sits in a tab of its own: its key shows it
            await settle(pilot)
        pane.focus()
        await pilot.pause()
        long_line = next(line for line in pane.lines if line.startswith("The boiler note"))
        assert pane.wrap and pane.row_count > pane.line_count  # the long demo line takes rows
        width = pane.scrollable_content_region.width
        rows = pane.rows()
        first = next(index for index, row in enumerate(rows) if row.startswith("The boiler note"))
        long_rows = rows[first : first + pane.row_count - pane.line_count + 1]
        assert "".join(long_rows) == long_line and all(
            cell_len(row.rstrip(" ")) <= width for row in long_rows
        )
        await pilot.press("slash", *"boiler", "enter")
        assert (
            pane.match_count == long_line.lower().count("boiler") + 1
        )  # "call the plumber about the boiler"
        assert app.focused is pane, app.focused
        await pilot.press("escape")  # closes the search first, the screen stays
        assert pane.search_query == "" and app.screen.query_one("#detail-output") is pane
        await pilot.press("w")
        assert not pane.wrap and pane.row_count == pane.line_count


class ShrinkingApp(App[None]):
    """The output pane under a box that appears above it (as a tool question's does)."""

    CSS = "#above { height: 0; } #above.-shown { height: 8; }"

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        yield Static("a question", id="above")
        yield OutputPane()


async def test_only_the_users_scrolling_holds_the_view_not_a_layout_change(tmp_path: Path) -> None:
    transcript = transcript_with(tmp_path, *(f"line {n}\n" for n in range(200)))
    app = ShrinkingApp()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(OutputPane)
        pane.show_job(1, [transcript])
        await pilot.pause()
        assert pane.following and pane.is_vertical_scroll_end
        for shown in (True, False, True):  # the box above comes and goes: the pane resizes
            app.query_one("#above").set_class(shown, "-shown")
            await pilot.pause()
            await pilot.pause()
            assert pane.following, "a layout change must not hold the view"
            assert "-holding" not in pane.classes
        pane.append("one more\n")
        await pilot.pause()
        assert pane.is_vertical_scroll_end and screen_rows(pane)[-1].rstrip() == "one more"

        pane.scroll_up(animate=False)  # the user (k, the wheel, the scrollbar) scrolls up: it holds
        await pilot.pause()
        assert not pane.following and "-holding" in pane.classes
        pane.append("and another\n")
        await pilot.pause()
        assert not pane.is_vertical_scroll_end  # held: the new line does not pull the view down
        pane.scroll_end(animate=False, immediate=True)  # back at the end: it follows again
        await pilot.pause()
        assert pane.following
