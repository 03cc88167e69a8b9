"""The Diff view and the keep / discard keys, with real git in temp repositories: a job of an
isolated workflow made as the engine makes one (its worktree opened, its trees recorded around
the attempt), then looked at, kept, discarded or refused from the window (issue 16, item 4)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from core.jobs import Job
from core.paths import Paths
from tui.app import FlowtuiApp
from tui.demo import DEMO_CLOCK, demo_app
from tui.demo_review import git, isolated_job, make_repo
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.diff_view import DiffScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screenshots import settle
from tui.widgets.diff_log import DiffLog, resolve
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine

SIZE = (120, 36)
FILES = {"shared.txt": "original\n", "src/app.py": "print('hi')\n"}
EDITS: dict[str, str | None] = {
    "shared.txt": "changed by the job\n",
    "src/app.py": None,
    "notes/new.md": "[bold]not markup[/bold] \x1b[31mnot red\n",
}


def window_with_job(tmp_path: Path, edits: dict[str, str | None] = EDITS) -> tuple[FlowtuiApp, Job, Path]:
    """The window over a ledger holding one finished isolated job whose changes wait for review."""
    app = demo_app(tmp_path, seed=False)
    repo = make_repo(tmp_path / "repo", FILES)
    job = isolated_job(Paths.under(tmp_path), repo, "Tidy the notes\nsecond line", edits, DEMO_CLOCK)
    assert job.changes_to_review
    return app, job, repo


def header(app: FlowtuiApp) -> str:
    return str(app.screen_stack[1].query_one(StatusLine).render())


def state_cell(app: FlowtuiApp, job_id: int) -> str:
    table = app.screen_stack[1].query_one(JobTable)
    return str(getattr(table.get_cell(str(job_id), "state"), "plain", ""))


def file_rows(screen: DiffScreen) -> list[tuple[str, ...]]:
    table = screen.query_one("#diff-files", DataTable)
    return [
        tuple(str(getattr(cell, "plain", cell)) for cell in table.get_row_at(row))
        for row in range(table.row_count)
    ]


def diff_lines(screen: DiffScreen) -> list[str]:
    return [strip.text.rstrip() for strip in screen.query_one(DiffLog).lines]


def said(screen: DiffScreen) -> str:
    return str(screen.query_one("#diff-said", Static).render())


def toasts(app: FlowtuiApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def open_diff(app: FlowtuiApp, pilot: Pilot[Any]) -> DiffScreen:
    await settle(pilot)
    await pilot.press("D")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DiffScreen)
    await wait_until(lambda: screen.read is not None)
    return screen


async def test_a_job_to_review_is_marked_and_counted_and_D_shows_its_files_and_diff(tmp_path: Path) -> None:
    app, job, _repo = window_with_job(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "± 1 to review (D / K / X)" in header(app)
        assert state_cell(app, job.id) == "✓ succeeded ± review"
        screen = await open_diff(app, pilot)
        assert file_rows(screen) == [
            ("+1", "-0", "notes/new.md"),
            ("+1", "-1", "shared.txt"),
            ("+0", "-1", "src/app.py"),
        ]
        assert [change.path for change in app.control.changes(job.id).files] == [
            "notes/new.md",
            "shared.txt",
            "src/app.py",
        ]
        facts = str(screen.query_one("#diff-facts", Static).render())
        assert f"job #{job.id}" in facts and "± changes to review" in facts
        assert f"flowtui/job-{job.id} → main" in facts and "3 files changed (+2 -2)" in facts
        lines = diff_lines(screen)
        assert "+changed by the job" in lines and "-original" in lines and "-print('hi')" in lines
        # the files' text is drawn as it is: no markup read, an escape shown and not obeyed
        assert "+[bold]not markup[/bold] \\x1b[31mnot red" in lines
        # each line coloured by what it is
        log = screen.query_one(DiffLog)
        added = next(strip for strip in log.lines if strip.text.startswith("+changed"))
        removed = next(strip for strip in log.lines if strip.text.startswith("-original"))
        variables = app.theme_variables
        assert added._segments[0].style is not None and removed._segments[0].style is not None
        assert added._segments[0].style.color == Style.parse(resolve("$text-success", variables)).color
        assert removed._segments[0].style.color == Style.parse(resolve("$text-error", variables)).color
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_picking_a_file_scrolls_the_diff_to_it(tmp_path: Path) -> None:
    edits: dict[str, str | None] = {
        "a_long.txt": "".join(f"line {n}\n" for n in range(300)),
        "shared.txt": "changed by the job\n",
        "z_long.txt": "".join(f"line {n}\n" for n in range(300)),
    }
    app, _job, _repo = window_with_job(tmp_path, edits)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diff(app, pilot)
        log = screen.query_one(DiffLog)
        assert [row[2] for row in file_rows(screen)] == ["a_long.txt", "shared.txt", "z_long.txt"]
        second = log.file_starts[1]
        assert second > 300 and diff_lines(screen)[second] == "diff --git a/shared.txt b/shared.txt"
        assert log.scroll_y == 0
        await pilot.press("down")  # the file list has focus: the diff follows the cursor
        await settle(pilot)
        assert log.scroll_y == second
        await pilot.press("up")
        await settle(pilot)
        assert log.scroll_y == 0
        await pilot.press("n")  # the next file, from anywhere in the view
        await settle(pilot)
        assert log.scroll_y == second
        await pilot.press("N", "enter")  # enter jumps, then the diff has the keys
        await settle(pilot)
        assert log.scroll_y == 0 and screen.focused is log


async def test_D_in_the_job_details_opens_the_diff_view(tmp_path: Path) -> None:
    app, job, _repo = window_with_job(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen)
        screen = await open_diff(app, pilot)
        assert screen.job.id == job.id and len(file_rows(screen)) == 3
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen)  # back where it was opened


async def test_K_in_the_diff_view_merges_the_job_into_the_branch_it_started_from(tmp_path: Path) -> None:
    app, job, repo = window_with_job(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diff(app, pilot)
        await pilot.press("K")
        await settle(pilot)
        await wait_until(lambda: screen.job.review == "kept")
        assert said(screen) == f"kept #{job.id}: flowtui/job-{job.id} merged into main"
        assert f"kept #{job.id}: flowtui/job-{job.id} merged into main" in toasts(app)
        await wait_until(lambda: "kept: merged into main" in str(screen.query_one("#diff-facts").render()))
        assert (repo / "shared.txt").read_text() == "changed by the job\n"
        assert not (repo / "src" / "app.py").exists()
        assert git(repo, "log", "-1", "--format=%s").strip() == f"Tidy the notes (flowtui job #{job.id})"
        assert git(repo, "status", "--porcelain") == ""
        await pilot.press("escape")
        await settle(pilot)
        await wait_until(lambda: "to review" not in header(app))
        assert state_cell(app, job.id) == "✓ succeeded"
        assert "kept by" in app.control.ledger.events(job.id)[-1].reason


async def test_X_on_the_jobs_pane_asks_first_and_no_keeps_the_worktree(tmp_path: Path) -> None:
    app, job, repo = window_with_job(tmp_path)
    worktree = Path(job.worktree or "")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Discard job #{job.id}'s changes?" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert worktree.is_dir() and git(repo, "branch", "--list", f"flowtui/job-{job.id}").strip()
        assert app.control.get(job.id).changes_to_review
        await pilot.press("X")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        await wait_until(lambda: app.control.get(job.id).review == "discarded")
        assert not worktree.exists()
        assert git(repo, "branch", "--list", f"flowtui/job-{job.id}").strip() == ""
        assert (repo / "shared.txt").read_text() == "original\n"  # nothing was merged
        await wait_until(lambda: "to review" not in header(app))
        assert f"discarded #{job.id}: its worktree and flowtui/job-{job.id} removed" in toasts(app)


async def test_X_in_the_diff_view_discards_after_yes(tmp_path: Path) -> None:
    app, job, repo = window_with_job(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diff(app, pilot)
        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        await wait_until(lambda: screen.job.review == "discarded")
        assert said(screen).startswith(f"discarded #{job.id}")
        assert not Path(job.worktree or "").exists()
        assert f"flowtui/job-{job.id}" not in git(repo, "branch", "--list")


async def test_a_refused_keep_shows_the_doors_line_and_changes_nothing(tmp_path: Path) -> None:
    app, job, repo = window_with_job(tmp_path)
    (repo / "shared.txt").write_text("the user's own edit\n")  # uncommitted, in a file the job changed
    branch_before = git(repo, "rev-parse", f"flowtui/job-{job.id}")
    head_before = git(repo, "rev-parse", "HEAD")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diff(app, pilot)
        await pilot.press("K")
        await settle(pilot)
        line = (
            f"job #{job.id} not kept: the repository has uncommitted changes in shared.txt: "
            "commit or stash them, then keep again"
        )
        await wait_until(lambda: said(screen) == line)
        assert screen.query_one("#diff-said").has_class("-error")
        assert line in toasts(app)
        assert (repo / "shared.txt").read_text() == "the user's own edit\n"
        assert git(repo, "rev-parse", "HEAD") == head_before
        assert git(repo, "rev-parse", f"flowtui/job-{job.id}") == branch_before
        assert app.control.get(job.id).changes_to_review
        assert len(file_rows(screen)) == 3  # the view still shows the changes to review


async def test_a_conflicting_keep_from_the_jobs_pane_says_so_in_a_toast(tmp_path: Path) -> None:
    app, job, repo = window_with_job(tmp_path)
    (repo / "shared.txt").write_text("committed meanwhile\n")
    git(repo, "commit", "-q", "-am", "meanwhile")
    head_before = git(repo, "rev-parse", "HEAD")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("K")
        await settle(pilot)
        await wait_until(lambda: any("would conflict in shared.txt" in toast for toast in toasts(app)))
        assert git(repo, "rev-parse", "HEAD") == head_before
        assert (repo / "shared.txt").read_text() == "committed meanwhile\n"
        assert "<<<<<<<" not in (Path(job.worktree or "") / "shared.txt").read_text()
        assert state_cell(app, job.id) == "✓ succeeded ± review"


async def test_a_job_outside_git_lists_what_its_edits_named_and_K_says_why_not(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)  # the demo's jobs ran in /tmp, outside any repository
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("G")  # job 1, succeeded
        screen = await open_diff(app, pilot)
        assert screen.job.id == 1
        assert "ran outside git: the files its edits named" in str(screen.query_one("#diff-facts").render())
        assert diff_lines(screen) == [
            "no diff: the job ran outside git (the list names the files its edits touched)"
        ]
        await pilot.press("K")
        await settle(pilot)
        line = (
            'job #1 has no worktree of its own to keep (its workflow\'s isolation is "none"): '
            "its changes were made where it ran"
        )
        await wait_until(lambda: said(screen) == line)
        assert line in toasts(app) and app.control.get(1).review is None
