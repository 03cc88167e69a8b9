"""Keys in the control centre act on the shared state (checked in the ledger, not only on screen)."""

from __future__ import annotations

from pathlib import Path

from core.jobs import JobSource, JobState
from tui.demo import demo_app
from tui.widgets.job_table import JobTable
from tui.widgets.status_line import StatusLine


async def test_pause_key_pauses_and_resumes_the_queue(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        await pilot.press("p")
        assert app.session.control.pause_state().paused
        assert app.query_one(StatusLine).has_class("-paused")
        await pilot.press("p")
        assert not app.session.control.pause_state().paused
        assert not app.query_one(StatusLine).has_class("-paused")


async def test_retry_key_queues_a_retry_of_the_selected_failed_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        table = app.query_one(JobTable)
        assert table.selected_job_id == 5  # newest first
        await pilot.press("j", "j", "j")  # 5 -> 4 -> 3 -> 2 (the failed one)
        assert table.selected_job_id == 2
        await pilot.press("r")
        retry = app.session.control.ledger.list_jobs(limit=1)[0]
        assert (retry.source, retry.parent_id, retry.state) == (JobSource.RETRY, 2, JobState.QUEUED)
        assert table.selected_job_id == 2  # the new row did not steal the selection


async def test_cancel_key_cancels_the_selected_queued_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.session is not None
        await pilot.press("c")
        assert app.session.control.get(5).state is JobState.CANCELLED
        await pilot.press("c")  # already cancelled: an error toast, the app lives on
        assert app.session.control.get(5).state is JobState.CANCELLED
