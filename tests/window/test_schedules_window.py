"""The schedules view: S opens it over the dashboard; r runs the selected schedule now and
p pauses or resumes it, through the door (what `flowtui schedules` then says)."""

from __future__ import annotations

from pathlib import Path

from core.ledger.sqlite import Ledger
from core.paths import Paths
from tui.demo import DEMO_CLOCK, schedules_app
from tui.screens.schedules import ScheduleList, SchedulesScreen
from tui.screenshots import settle


def _cells(screen: SchedulesScreen) -> list[list[str]]:
    table = screen.query_one(ScheduleList)
    return [
        [str(getattr(cell, "plain", cell)) for cell in table.get_row_at(row)]
        for row in range(table.row_count)
    ]


async def test_s_lists_the_schedules_and_r_p_act_on_the_selected_one(tmp_path: Path) -> None:
    app = schedules_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SchedulesScreen)
        rows = _cells(screen)
        assert [row[1] for row in rows] == ["morning-digest", "fix-tests@0_x_x_x_x", "photos"]
        assert rows[0][2] == "active" and rows[0][4] == "07:30"
        assert rows[1][5] == "3 missed, 3 run (all)"
        assert rows[2][2] == "paused since 08:15" and rows[2][3] == "-"

        await pilot.press("p")  # pause morning-digest
        await settle(pilot)
        assert _cells(screen)[0][2].startswith("paused since")
        await pilot.press("j", "j", "p")  # resume photos
        await settle(pilot)
        assert _cells(screen)[2][2] == "active" and _cells(screen)[2][3] == "22:00"
        await pilot.press("r")  # run photos now
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SchedulesScreen)

    ledger = Ledger(Paths.under(tmp_path).ledger_db, clock=DEMO_CLOCK)
    try:
        newest = ledger.list_jobs(limit=1)[0]
        assert newest.source == "schedule" and newest.prompt == "Rename the new photos by date taken."
        assert (newest.trigger or "").startswith("schedule photos: run now by ")
        assert ledger.get_flag("schedule.paused:morning-digest") is not None
        assert ledger.get_flag("schedule.paused:photos") is None
    finally:
        ledger.close()
