"""The Notifications pane names each row's channel: Telegram's, or a ``[[notify]]`` entry's."""

from __future__ import annotations

from pathlib import Path

from core.ledger.notifications import Draft, NotificationStore
from core.paths import Paths
from tui.demo import demo_app
from tui.screenshots import settle
from tui.widgets.side_lists import NotificationList


async def test_the_notifications_pane_shows_the_channel_of_each_row(tmp_path: Path) -> None:
    store = NotificationStore(Paths.under(tmp_path).ledger_db)
    try:
        (telegram,) = store.enqueue([Draft(11111111, "✓ #1 succeeded", "job", job_id=1)])
        (hook,) = store.enqueue(
            [
                Draft(
                    0, "✗ #2 failed", "job", job_id=2, channel="ci", payload={"target": "webhook https://h/…"}
                )
            ]
        )
        store.mark_sent(telegram, 500)
        store.mark_retry(hook.id, "cannot reach https://h/…: Connection refused", 4_102_444_800.0, True)
    finally:
        store.close()
    app = demo_app(tmp_path, seed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(NotificationList)
        assert [str(column.label) for column in pane.columns.values()] == [
            "#",
            "Time",
            "Job",
            "Channel",
            "Delivery",
            "Text",
        ]
        cells = {
            str(pane.get_row(str(note_id))[0]): pane.get_row(str(note_id))
            for note_id in (telegram.id, hook.id)
        }
        assert str(cells[str(telegram.id)][3]) == "telegram"
        assert str(cells[str(hook.id)][3]) == "ci"
        assert str(cells[str(hook.id)][4]).startswith("waiting")
        rows = app.sources.notification_rows()
        assert [(row.id, row.channel) for row in rows] == [(hook.id, "ci"), (telegram.id, "telegram")]
