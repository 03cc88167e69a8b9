"""The details screen follows its job while open, reads the ledger off the window's thread, stops
when closed, and shows the whole prompt, the error and the answer (Markdown, or raw on ``m``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Markdown, Static, TabbedContent
from textual.widgets._markdown import MarkdownBlock

from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import NewJob
from tui.app import FlowtuiApp
from tui.demo import demo_app, long_prompt_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.job_detail import JobDetailScreen, JobRead, read_job
from tui.screenshots import settle
from tui.shared import Door
from tui.widgets.job_table import JobTable
from tui.widgets.output_pane import OutputPane

HOSTILE = "[bold]loud[/] and [/] and [link=https://x]x[/link] [red]"


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Let the window run until ``condition`` holds (reads answer from threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def facts_of(app: FlowtuiApp) -> str:
    return str(app.screen.query_one("#facts", Static).render())


def markdown_text(screen: JobDetailScreen) -> str:
    blocks = screen.query_one("#answer-markdown", Markdown).query(MarkdownBlock)
    return "\n".join(block._content.plain for block in blocks)


async def open_details(pilot: Pilot[Any], job_id: int) -> JobDetailScreen:
    app = pilot.app
    assert isinstance(app, FlowtuiApp)
    app.refresh_soon()  # a job the test just wrote to the ledger
    await settle(pilot)
    table = app.screen.query_one(JobTable)
    for key in ("k", "j"):  # up to the newest row, then down the table
        for _ in range(table.row_count):
            if table.selected_job_id == job_id:
                break
            await pilot.press(key)
    assert table.selected_job_id == job_id
    await pilot.press("enter")
    assert isinstance(app.screen, JobDetailScreen)
    await settle(pilot)
    return app.screen


async def test_details_follow_a_running_job_to_its_end(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_details(pilot, 4)  # the demo's running job
        assert "running" in facts_of(app) and "cost -" in facts_of(app)
        assert screen.query_one(TabbedContent).active == "transcript"  # a running job: its output
        events_before = screen.query_one("#events", DataTable).row_count
        answer = "## Risks\n\n```python\nprint('fixed')\n```\n"
        app.control.ledger.finish(
            4,
            RunOutcome(JobState.SUCCEEDED, cost_usd=0.25, input_tokens=1234, output_tokens=56, answer=answer),
        )
        app.refresh_soon()  # what the engine's JobChanged (or another process's poke) does
        await until(pilot, lambda: "succeeded" in facts_of(app), "the facts to say succeeded")
        assert "cost $0.2500" in facts_of(app) and "1,234 in / 56 out" in facts_of(app)
        await until(
            pilot,
            lambda: screen.query_one("#events", DataTable).row_count == events_before + 1,
            "the finish event",
        )
        await until(pilot, lambda: "print('fixed')" in markdown_text(screen), "the answer's code block")
        assert "Risks" in markdown_text(screen) and "##" not in markdown_text(screen)


async def test_a_new_attempt_of_the_job_shows_in_the_transcript(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_details(pilot, 4)
        ledger = app.control.ledger
        ledger.requeue(4, "test: again", run_after=None)
        ledger.claim(4, owner_pid=1)
        app.paths.transcript_for(4, 2).write_text(
            '{"type":"system","subtype":"init","session_id":"second-run","model":"m"}\n'
        )
        app.refresh_soon()
        output = screen.query_one(OutputPane)
        await until(
            pilot, lambda: "── attempt 2 ──" in "\n".join(output.lines), "attempt 2 in the transcript"
        )
        await until(pilot, lambda: any("second-run" in line for line in output.lines), "attempt 2's output")


async def test_reads_run_off_the_window_thread_and_stop_when_the_screen_closes(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    reads: list[str] = []

    def recording_read(door: Door, job_id: int) -> JobRead:
        reads.append(threading.current_thread().name)
        return read_job(door, job_id)

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        board: DashboardScreen = dashboard
        job = app.control.get(4)
        app.push_screen(JobDetailScreen(job, dashboard.door, lambda: dashboard.snapshot, read=recording_read))
        await settle(pilot)
        assert reads and threading.main_thread().name not in reads
        app.control.ledger.note(4, "a change")
        app.control.ledger.finish(4, RunOutcome(JobState.FAILED, error="boom"))
        app.refresh_soon()
        await until(pilot, lambda: "failed" in facts_of(app), "the failure to show")
        count = len(reads)
        await pilot.press("escape")
        assert app.screen is dashboard
        app.control.ledger.finish(4, RunOutcome(JobState.FAILED, error="boom again"))  # the job changes
        app.refresh_soon()
        await until(
            pilot,
            lambda: (
                (seen := board.snapshot) is not None and getattr(seen.job(4), "error", "") == "boom again"
            ),
            "the dashboard to see the change",
        )
        await settle(pilot)
        assert len(reads) == count  # the closed screen read nothing more


async def test_the_whole_prompt_the_error_and_a_markdown_answer_literal_and_raw(tmp_path: Path) -> None:
    app = long_prompt_app(tmp_path)
    prompt = "\n".join([HOSTILE, *(f"line {n} of the prompt" for n in range(2, 81)), "the very last line"])
    answer = f"# Plan\n\n{HOSTILE}\n\n```python\nx = '[bold]'\n```\n"
    async with app.run_test(size=(80, 24)) as pilot:
        ledger = app.control.ledger
        job = ledger.create(NewJob(prompt, "default", "cli", "/tmp", max_attempts=1), "test")
        ledger.claim(job.id, owner_pid=1)
        ledger.finish(job.id, RunOutcome(JobState.FAILED, error=f"{HOSTILE} went wrong", answer=answer))
        screen = await open_details(pilot, job.id)
        assert screen.query_one(TabbedContent).active == "answer"
        shown_prompt = screen.query_one("#prompt", Static).render()
        assert str(shown_prompt) == prompt  # whole and literal: no markup read, nothing cut
        assert screen.query_one("#prompt-box").border_title == "Prompt · 81 lines"
        assert str(screen.query_one("#error", Static).render()) == f"{HOSTILE} went wrong"
        assert screen.query_one("#error-box").display
        # Markdown is rendered (a heading, a highlighted code block); Rich markup is not.
        text = markdown_text(screen)
        assert "Plan" in text and "# Plan" not in text
        assert HOSTILE in text and "x = '[bold]'" in text
        paragraph = next(block for block in screen.query(MarkdownBlock) if HOSTILE in block._content.plain)
        # "[bold]" and "[red]" in Claude's text style nothing (Markdown only links the bare URL)
        styled = [(span.start, span.end) for span in paragraph._content.spans]
        url = HOSTILE.index("https://x")
        assert styled in ([], [(url, url + len("https://x"))])
        assert screen.query_one("#answer-markdown").display and not screen.query_one("#answer-raw").display
        await pilot.press("m")
        assert screen.query_one("#answer-box").has_class("-raw")
        raw = screen.query_one("#answer-raw", Static)
        assert raw.display and not screen.query_one("#answer-markdown").display
        assert str(raw.render()) == answer
        assert screen.query_one("#answer-box").border_title == "Answer · raw text"
        await pilot.press("m")
        assert not screen.query_one("#answer-box").has_class("-raw")
        await pilot.press("3")
        assert screen.query_one(TabbedContent).active == "events-tab"
        assert screen.query_one("#events").has_focus
        await pilot.press("2")
        assert screen.query_one("#detail-output").has_focus
        await pilot.press("m")  # the toggle brings the answer back into view
        assert screen.query_one(TabbedContent).active == "answer"
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)
