"""The dashboard as a person uses it: the selection follows what they did, the footer offers
the keys of what is focused and selected, a narrow terminal keeps every pane reachable, and
the toasts, hints and header say what happens (issue 14, items 3, 5, 6, 7)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets.data_table import ColumnKey

from core.config.settings import ClaudeSettings, Settings
from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import NewJob
from core.paths import Paths
from tui.app import FlowtuiApp, build_app
from tui.demo import demo_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.new_job import NewJobScreen
from tui.screenshots import settle
from tui.widgets.job_table import JobTable
from tui.widgets.jobs_hint import JobsHint
from tui.widgets.output_pane import OutputPane
from tui.widgets.side_lists import NotificationList, WatchList
from tui.widgets.status_line import StatusLine

SIZE = (120, 36)
NARROW = (80, 24)


def footer_keys(app: FlowtuiApp) -> set[str]:
    """The keys the footer shows now."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


def in_view(widget: Widget) -> bool:
    """Drawn: neither it nor a container around it is hidden."""
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))


def toasts(app: FlowtuiApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def header(app: FlowtuiApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- the selection follows the user ---------------------------------------------------------


async def test_a_job_queued_with_n_becomes_the_selected_one_with_its_output(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        await pilot.press("G")  # away from the top row, so following it is seen
        assert table.selected_job_id == 1
        await pilot.press("n")
        assert isinstance(app.screen, NewJobScreen)
        await pilot.press(*"tidy up", "ctrl+s")
        await settle(pilot)
        newest = app.control.ledger.list_jobs(limit=1)[0]
        assert newest.prompt == "tidy up"
        assert table.selected_job_id == newest.id
        assert app.screen.query_one(OutputPane).job_id == newest.id


async def test_a_row_that_arrives_from_elsewhere_leaves_the_selection_alone(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        await pilot.press("j", "j", "j")
        assert table.selected_job_id == 2
        app.control.add("queued from the CLI", cwd="/tmp")
        app.refresh_soon()
        await wait_until(lambda: table.row_count == 6)
        await settle(pilot)
        assert table.selected_job_id == 2


async def test_home_end_g_and_G_move_to_the_first_and_last_row(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        await pilot.press("end")
        assert table.selected_job_id == 1
        await pilot.press("home")
        assert table.selected_job_id == 5
        await pilot.press("G")
        assert table.selected_job_id == 1
        await pilot.press("g")
        assert table.selected_job_id == 5
        watches = app.screen.query_one(WatchList)
        watches.focus()
        await pilot.press("G")
        assert watches.selected_key == "/mnt/usb/photos"
        await pilot.press("g")
        assert watches.selected_key == "/home/me/notes"
        # In the filter box the keys are the box's: a G is typed, home moves its cursor.
        await pilot.press("slash", *"Gx", "home")
        box = app.screen.query_one("#filter", Input)
        assert box.value == "Gx" and box.cursor_position == 0


# -- the footer offers the keys of what is focused and selected ------------------------------


async def test_footer_shows_the_keys_of_the_focused_pane_and_selected_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = footer_keys(app)  # job 5, queued
        assert {"n", "p", "c", "slash", "question_mark"} <= keys
        assert not keys & {"r", "u", "d", "t", "R", "y", "N", "s"}
        await pilot.press("G")  # job 1, succeeded, with a session
        await settle(pilot)
        keys = footer_keys(app)
        assert {"r", "u"} <= keys and "c" not in keys
        await pilot.press("tab", "tab")  # the Watched paths pane
        await settle(pilot)
        assert isinstance(app.screen.focused, WatchList)
        keys = footer_keys(app)
        assert {"a", "d", "t"} <= keys and not keys & {"r", "c", "R"}
        await pilot.press("tab")
        await settle(pilot)
        keys = footer_keys(app)
        assert "R" in keys and not keys & {"d", "t"}


async def test_footer_offers_approve_and_deny_on_a_job_awaiting_approval(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        new = NewJob("deploy the site", "default", "cli", "/tmp", max_attempts=1, awaiting_approval=True)
        job = app.control.ledger.create(new, "needs approval")
        app.refresh_soon()
        table = app.screen.query_one(JobTable)
        await wait_until(lambda: table.row_count == 6)
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert table.selected_job_id == job.id
        keys = footer_keys(app)
        assert {"y", "N", "c"} <= keys
        assert "1 awaiting approval" in header(app)
        await pilot.press("y")
        await settle(pilot)
        assert app.control.get(job.id).state is JobState.QUEUED
        assert not footer_keys(app) & {"y", "N"}
        assert "awaiting approval" not in header(app)


async def test_keys_act_only_on_a_pane_in_view_and_focused(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")  # the jobs pane is focused: no watch is asked about
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("R")
        await settle(pilot)
        assert app.sources.notification_rows()[0].id == 3  # nothing was resent


# -- narrow terminals ---------------------------------------------------------------------


async def test_a_narrow_window_switches_the_lower_pane_with_s(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        screen = app.screen
        output, watches = screen.query_one(OutputPane), screen.query_one(WatchList)
        notifications = screen.query_one(NotificationList)
        assert in_view(output) and not in_view(watches) and not in_view(notifications)
        assert "s" in footer_keys(app)
        await pilot.press("d")  # the watches are hidden: nothing to stop watching
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("s")
        await settle(pilot)
        assert in_view(watches) and not in_view(output) and screen.focused is watches
        assert {"d", "t"} <= footer_keys(app)
        await pilot.press("G", "d")
        assert isinstance(app.screen, ConfirmScreen)
        assert isinstance(app.screen, ConfirmScreen) and "/mnt/usb/photos" in app.screen.question
        await pilot.press("escape")
        await pilot.press("s")
        await settle(pilot)
        assert in_view(notifications) and not in_view(watches) and screen.focused is notifications
        await pilot.press("j", "R")  # 3 (waiting) -> 2 (failed): resent
        await settle(pilot)
        assert app.sources.notification_rows()[0].state == "pending"
        await pilot.press("s")
        await settle(pilot)
        assert in_view(output) and not in_view(notifications)
        assert isinstance(screen.focused, JobTable)  # focus left the pane that went out of view
        # Tab reaches only what is in view.
        await pilot.press("tab")
        assert screen.focused is output


async def test_a_wide_window_shows_every_pane_and_ignores_s(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "s" not in footer_keys(app)
        await pilot.press("s")
        await settle(pilot)
        assert in_view(screen.query_one(WatchList)) and in_view(screen.query_one(OutputPane))
        assert isinstance(screen.focused, JobTable)


async def test_the_footer_fits_at_80_columns(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await pilot.press("j")  # the running job: c and u
        await settle(pilot)
        text = app.export_screenshot()
        assert "Quit" in text and "palette" in text


# -- what the window says ------------------------------------------------------------------


async def test_an_empty_window_says_how_to_start(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hint = app.screen.query_one(JobsHint)
        words = str(hint.render())
        assert hint.display
        assert "n" in words and "queue a prompt for Claude" in words
        assert "watch a folder" in words
        assert "flowtui telegram check" in words and "[telegram]" in words
        await pilot.press("n", *"first", "ctrl+s")
        await settle(pilot)
        assert not hint.display


async def test_an_empty_filter_says_so_and_names_an_unknown_state(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hint = app.screen.query_one(JobsHint)
        assert not hint.display
        await pilot.press("slash", *"nothing-like-this", "enter")
        await settle(pilot)
        assert hint.display and str(hint.render()) == "no jobs match · esc clears"
        await pilot.press("slash", "ctrl+u", *"state:bogus", "enter")
        await settle(pilot)
        said = str(hint.render())
        assert said.startswith("unknown state 'bogus': use awaiting_approval, queued, running,")
        assert said.endswith("· esc clears")
        await pilot.press("escape")
        await settle(pilot)
        assert not hint.display and app.screen.query_one(JobTable).row_count == 5


async def test_cancel_says_cancelling_then_cancelled_when_the_job_ends(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")  # job 5, queued: cancelled at once
        await settle(pilot)
        assert "#5 cancelled" in toasts(app)
        await pilot.press("j", "c", "y")  # job 4 runs: the engine is asked to end it
        await settle(pilot)
        assert "cancelling #4…" in toasts(app)
        assert "#4 cancelled" not in toasts(app)
        assert "c" not in footer_keys(app)  # asked already
        ledger = app.control.ledger
        ledger.finish(4, RunOutcome(JobState.CANCELLED, error="cancelled by the user"))
        app.refresh_soon()
        await wait_until(lambda: "#4 cancelled" in toasts(app))
        await settle(pilot)
        assert toasts(app).count("#4 cancelled") == 1


async def test_the_help_wraps_and_scrolls_at_80_columns(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        meanings = list(app.screen.query(".meaning"))
        longest = max(meanings, key=lambda meaning: len(str(meaning.render())))
        assert longest.size.height > 1  # wrapped, not cut
        scroller = app.screen.query_one(".help")
        assert scroller.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert scroller.scroll_y == scroller.max_scroll_y


async def test_header_says_when_the_newest_job_failed_to_start_claude(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Claude" not in header(app)
        ledger = app.control.ledger
        ledger.claim(5, owner_pid=1)
        error = "claude command not found: 'claude'; install @anthropic-ai/claude-code"
        ledger.finish(5, RunOutcome(JobState.FAILED, error=error, exit_code=None))
        app.refresh_soon()
        await wait_until(lambda: "Claude failed to start" in header(app))
        assert "flowtui doctor" in header(app)
        assert app.screen.query_one(StatusLine).has_class("-claude-broken")


async def test_header_says_when_the_claude_cli_of_its_engine_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWTUI_CLAUDE", raising=False)
    settings = dataclasses.replace(Settings(), claude=ClaudeSettings(command=str(tmp_path / "no-claude")))
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    app = build_app(settings, paths)  # the window runs the engine: its PATH is the one jobs get
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: "claude command not found" in header(app))
        assert "flowtui doctor" in header(app)
        await settle(pilot)


async def test_rows_are_measured_when_they_are_shown(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.snapshot is not None
        table = screen.query_one(JobTable)
        jobs = list(screen.snapshot.overview.jobs)
        longer = dataclasses.replace(jobs[0], id=99, prompt="P" * 58 + "YZ", cost_usd=123.4567)
        table.show_jobs([longer, *jobs], screen.snapshot.taken_at)
        # Measured at once, before DataTable's idle pass: the next frame is not clipped.
        assert table.columns[ColumnKey("prompt")].content_width == 60
        assert table.columns[ColumnKey("cost")].content_width == len("$123.4567")
        widths = sum(column.get_render_width(table) for column in table.columns.values())
        assert table.virtual_size.width == widths


# -- every job the filter shows (issue 17, item 1) -------------------------------------------


async def test_F_and_X_act_on_every_job_the_filter_shows_after_saying_how_many(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ledger = app.control.ledger
        for prompt in ("flaky one", "flaky two"):
            job = ledger.create(NewJob(prompt, "default", "cli", "/tmp", max_attempts=1), "added by test")
            ledger.claim(job.id, owner_pid=1)
            ledger.finish(job.id, RunOutcome(JobState.FAILED, error="API Error: 529 overloaded"))
        app.refresh_soon()
        await settle(pilot)
        assert {"F", "C"}.isdisjoint(footer_keys(app))
        await pilot.press("F")  # no filter yet: nothing is retried, the toast says what to do
        await settle(pilot)
        assert "filter the jobs first (/), then F acts on every failed job the filter shows" in toasts(app)
        assert len(ledger.list_jobs()) == 7

        await pilot.press("slash", *"state:failed", "enter")
        await settle(pilot)
        assert {"F", "C"} <= footer_keys(app)
        await pilot.press("F")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.question == "Retry 3 failed jobs?"
        await pilot.press("n")  # no: nothing changes
        await settle(pilot)
        assert len(ledger.list_jobs()) == 7
        await pilot.press("F")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        retries = [job for job in ledger.list_jobs() if job.source == "retry"]
        assert sorted(job.parent_id or 0 for job in retries) == [2, 6, 7]
        assert "retried 3 jobs" in toasts(app)
        await pilot.press("F")  # each was retried already
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "no failed jobs among those shown" in toasts(app)

        await pilot.press("slash", "ctrl+u", *"state:queued state:running", "enter")
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Cancel 5 jobs (4 queued, 1 running)?"
        await pilot.press("y")
        await settle(pilot)
        assert "cancelled 5 jobs (1 being ended)" in toasts(app)
        assert ledger.counts()[JobState.QUEUED] == 0
        assert ledger.require(4).cancel_requested  # the running one is being ended
        await pilot.press("escape")
        await settle(pilot)
        assert {"F", "C"}.isdisjoint(footer_keys(app))
