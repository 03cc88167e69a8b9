"""Keys in the control centre act on the shared state (checked in the ledger, not only on screen).

Reads and operations run in thread workers: ``settle`` waits (with a deadline) until the
window shows what the last key did."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label

from core.config.settings import load_settings
from core.jobs import JobSource, JobState
from tui.demo import demo_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.new_job import FollowUpScreen, NewJobScreen
from tui.screens.watch_dialogs import AddWatchScreen
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.side_lists import NotificationList, WatchList
from tui.widgets.status_line import StatusLine


async def test_pause_key_pauses_and_resumes_the_queue(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert app.session.control.pause_state().paused
        assert app.screen.query_one(StatusLine).has_class("-paused")
        await pilot.press("p")
        await settle(pilot)
        assert not app.session.control.pause_state().paused
        assert not app.screen.query_one(StatusLine).has_class("-paused")


async def test_retry_key_queues_a_retry_of_the_selected_failed_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        assert table.selected_job_id == 5  # newest first
        await pilot.press("j", "j", "j")  # 5 -> 4 -> 3 -> 2 (the failed one)
        assert table.selected_job_id == 2
        await pilot.press("r")
        await settle(pilot)
        retry = app.session.control.ledger.list_jobs(limit=1)[0]
        assert (retry.source, retry.parent_id, retry.state) == (JobSource.RETRY, 2, JobState.QUEUED)
        assert table.selected_job_id == retry.id  # the retry queued from here is selected


async def test_cancel_key_cancels_the_selected_queued_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert app.session.control.get(5).state is JobState.CANCELLED
        await pilot.press("c")  # already cancelled: an error toast, the app lives on
        await settle(pilot)
        assert app.session.control.get(5).state is JobState.CANCELLED


async def test_new_job_modal_queues_a_job_and_validates_inline(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)
        app.screen.query_one("#cwd", Input).value = str(tmp_path / "nope")
        await pilot.press(*"tidy up", "ctrl+s")
        assert "is not a directory" in str(app.screen.query_one("#error", Label).render())
        app.screen.query_one("#cwd", Input).value = str(tmp_path)
        await pilot.press("enter")  # enter in the directory box submits
        await settle(pilot)
        assert not isinstance(app.screen, NewJobScreen)
        newest = app.control.ledger.list_jobs(limit=1)[0]
        assert (newest.prompt, newest.cwd, newest.state) == ("tidy up", str(tmp_path), JobState.QUEUED)
        await pilot.press("n", "escape")
        assert not isinstance(app.screen, NewJobScreen)


async def test_follow_up_and_details_of_the_finished_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "j", "u")
        assert isinstance(app.screen, FollowUpScreen)
        await pilot.press(*"and now?", "ctrl+s")
        await settle(pilot)
        follow = app.control.ledger.list_jobs(limit=1)[0]
        assert (follow.parent_id, follow.resume_session_id) == (1, "5f1c9e2a-demo")
        assert app.screen.query_one(JobTable).selected_job_id == follow.id  # the follow-up is selected
        await pilot.press("G", "enter")  # the last row: job 1
        assert isinstance(app.screen, JobDetailScreen)
        await settle(pilot)
        assert "claude --resume 5f1c9e2a-demo" in str(app.screen.query_one("#facts").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)


async def test_cancel_of_a_running_job_asks_first(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("j", "c")  # job 4 is running
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert not app.control.get(4).cancel_requested
        await pilot.press("c", "y")
        await settle(pilot)
        assert app.control.get(4).cancel_requested


async def test_filter_by_state_and_text_then_escape_clears(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        await pilot.press("slash", *"state:failed", "enter")
        await settle(pilot)
        assert [row.value for row in table.rows] == ["2"]
        await pilot.press("slash", "ctrl+u", *"landlord", "enter")
        await settle(pilot)
        assert [row.value for row in table.rows] == ["3"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(table.rows) == 5


async def test_help_lists_every_key_and_theme_is_remembered(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        app.theme = "nord"
        await pilot.pause()
    assert load_settings(tmp_path / "config.toml").ui.theme == "nord"
    again = demo_app(tmp_path, seed=False)
    assert again.theme == "nord"


async def test_resend_key_queues_a_failed_notification_again(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        notes = app.screen.query_one(NotificationList)
        notes.focus()
        await pilot.press("j")  # 3 (waiting) -> 2 (failed)
        assert notes.selected_notification_id == 2
        await pilot.press("R")
        await settle(pilot)
        rows = app.sources.notification_rows()
        assert rows[0].id == 4 and rows[0].state == "pending"


async def test_add_test_and_remove_a_watch_from_the_keyboard(tmp_path: Path) -> None:
    watched = tmp_path / "notes"
    watched.mkdir()
    app = demo_app(tmp_path / "home", seed=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, AddWatchScreen)
        await pilot.press(
            *str(watched), "tab", "tab", "tab", *"*.md", "enter"
        )  # path, workflow, poll, include
        await settle(pilot)
        assert load_settings(tmp_path / "home" / "config.toml").watch[0].path == str(watched)
        await pilot.press("t", *str(watched / "today.md"), "enter")
        await settle(pilot)  # the test runs in a thread
        verdict = str(app.screen.query_one("#verdict").render())
        assert "counts" in verdict and "today.md" in verdict
        await pilot.press("escape")
        watches = app.screen.query_one(WatchList)
        await settle(pilot)
        watches.focus()
        await pilot.press("d", "y")
        await settle(pilot)
        assert load_settings(tmp_path / "home" / "config.toml").watch == []
