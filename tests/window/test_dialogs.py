"""Dialogs close only once the shared state accepted what they asked: an error stays in place
with what was typed, and the keys after it still go to the dialog, never to the dashboard."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Label, Select, TextArea

from core.jobs import JobSource, JobState
from tui.demo import demo_app
from tui.screens.dashboard import DashboardScreen
from tui.screens.dialog import SENDING
from tui.screens.new_job import FollowUpScreen, NewJobScreen
from tui.screens.watch_dialogs import AddWatchScreen, WatchRequest
from tui.screenshots import settle
from tui.widgets.job_table import JobTable


def error_line(app: object) -> str:
    return str(app.screen.query_one("#error", Label).render())  # type: ignore[attr-defined]


async def test_a_duplicate_watch_path_keeps_the_dialog_open_and_the_keys_in_it(tmp_path: Path) -> None:
    watched = tmp_path / "notes"
    watched.mkdir()
    app = demo_app(tmp_path / "home", seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("a", *str(watched), "enter")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)  # the first one is added and closes
        jobs_before = len(app.control.ledger.list_jobs())
        await pilot.press("a", *str(watched), "enter")
        await settle(pilot)
        assert isinstance(app.screen, AddWatchScreen)  # the door refused it: still open
        assert f"{watched} is already watched" in error_line(app), error_line(app)
        path_box = app.screen.query_one("#path", Input)
        assert path_box.value == str(watched)  # what was typed is kept
        await pilot.press("r", "q")  # retry and quit, were they to reach the dashboard
        await settle(pilot)
        assert isinstance(app.screen, AddWatchScreen)
        assert path_box.value == f"{watched}rq"
        assert len(app.control.ledger.list_jobs()) == jobs_before  # no retry was queued
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_new_job_enter_adds_a_line_and_ctrl_s_queues_it_from_the_window(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)
        app.screen.query_one("#cwd", Input).value = str(tmp_path)
        await pilot.press(*"first line", "enter", *"second line")
        assert isinstance(app.screen, NewJobScreen)  # enter is a new line, not a submit
        assert app.screen.query_one("#prompt", TextArea).text == "first line\nsecond line"
        await pilot.press("ctrl+s", "ctrl+s")  # a second press while it is being queued is moot
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        jobs = app.control.ledger.list_jobs()
        assert len(jobs) == 6
        newest = jobs[0]
        assert (newest.prompt, newest.source, newest.state) == (
            "first line\nsecond line",
            JobSource.TUI,
            JobState.QUEUED,
        )
        assert any("added by tui" in event.reason for event in app.control.ledger.events(newest.id))
        await pilot.press("slash", *"source:tui", "enter")
        await settle(pilot)
        assert [row.value for row in app.screen.query_one(JobTable).rows] == [str(newest.id)]


async def test_new_job_refused_by_the_door_shows_the_error_and_keeps_the_prompt(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NewJobScreen)
        screen.query_one("#cwd", Input).value = str(tmp_path)
        # a workflow that left the config after the dialog listed it: only the door can tell
        workflow = screen.query_one("#workflow", Select)
        workflow.set_options([("ghost", "ghost")])
        workflow.value = "ghost"
        await pilot.press(*"tidy up", "ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "ghost" in error_line(app), error_line(app)
        assert screen.query_one("#prompt", TextArea).text == "tidy up"
        await pilot.press("r")  # goes on typing in the prompt
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#prompt", TextArea).text == "tidy upr"
        assert len(app.control.ledger.list_jobs()) == 5


async def test_new_job_checks_the_prompt_and_directory_in_place(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n", "ctrl+s")
        assert isinstance(app.screen, NewJobScreen)
        assert "the prompt is empty" in error_line(app)
        app.screen.query_one("#cwd", Input).value = str(tmp_path / "nowhere")
        await pilot.press(*"go", "ctrl+s")
        assert "is not a directory" in error_line(app)
        assert app.screen.query_one("#cwd", Input).has_focus


async def test_follow_up_refused_by_the_door_stays_open_with_the_error(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        with sqlite3.connect(app.control.paths.ledger_db) as conn:
            conn.execute("UPDATE jobs SET cwd = '/nonexistent/gone' WHERE id = 1")
        await pilot.press("j", "j", "j", "j", "u")
        screen = app.screen
        assert isinstance(screen, FollowUpScreen)
        await pilot.press(*"and now?", "ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "/nonexistent/gone is gone" in error_line(app), error_line(app)
        assert screen.query_one("#prompt", TextArea).text == "and now?"
        assert len(app.control.ledger.list_jobs()) == 5


async def test_follow_up_from_the_window_says_source_tui(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "j", "u", *"and", "enter", *"then?", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        newest = app.control.ledger.list_jobs(limit=1)[0]
        assert (newest.prompt, newest.parent_id, newest.source) == ("and\nthen?", 1, JobSource.TUI)


async def test_the_new_job_dialog_fits_80_by_24(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NewJobScreen)
        dialog = screen.query_one(".dialog")
        assert dialog.max_scroll_y == 0  # nothing is scrolled out of sight
        for widget in (screen.query_one("#prompt"), screen.query_one("#cwd"), *screen.query(".hint")):
            region = widget.region
            assert region.height >= 1 and dialog.content_region.contains_region(region), widget
        assert screen.query_one("#prompt").region.height >= 5  # a few lines of prompt in view


async def test_the_add_watch_dialog_fits_80_by_24(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AddWatchScreen)
        dialog = screen.query_one(".dialog")
        assert dialog.max_scroll_y == 0
        for widget in (*screen.query(Input), *screen.query(".hint"), screen.query_one("#error")):
            region = widget.region
            assert region.height >= 1 and dialog.content_region.contains_region(region), widget


async def test_an_answer_after_the_dialog_was_closed_is_still_seen(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    answers: list[Callable[[str], None]] = []

    def submit(request: WatchRequest, done: Callable[[str], None], failed: Callable[[str], None]) -> None:
        answers.append(failed)  # the shared state is slow to answer

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        dialog = AddWatchScreen(["default"], submit)
        app.push_screen(dialog)
        await pilot.pause()
        await pilot.press(*str(tmp_path), "enter", "enter")
        assert len(answers) == 1  # the second enter waited for the first answer
        assert error_line(app) == SENDING
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        answers[0]("the config file cannot be written")
        await pilot.pause()
        assert [note.message for note in app._notifications][-1] == "the config file cannot be written"
