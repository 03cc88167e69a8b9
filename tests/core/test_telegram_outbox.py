"""The outbox: rows first, then paced sends; FloodWait honoured; failures retried, given up, and
sent after a restart. The clock is a settable fake, so nothing here waits or times anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyrogram import errors
from telegramkit import API_HASH, BOT_TOKEN, CHAT, FakeClock, telegram_config

from core.ledger.notifications import Draft, Notification, NotificationStore
from core.telegram.outbox import Outbox
from core.telegram.recording import RecordingGateway

OTHER_CHAT = 333


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NotificationStore]:
    opened = NotificationStore(tmp_path / "ledger.db")
    yield opened
    opened.close()


def outbox_for(
    store: NotificationStore, gateway: RecordingGateway, clock: FakeClock, **options: object
) -> tuple[Outbox, list[Notification]]:
    changes: list[Notification] = []
    outbox = Outbox(
        store,
        gateway,
        secrets=telegram_config().secrets(),
        clock=clock,
        on_change=changes.append,
        **options,  # type: ignore[arg-type]
    )
    return outbox, changes


def drafts(*texts: str, chat_id: int = CHAT) -> list[Draft]:
    return [Draft(chat_id, text, "reply") for text in texts]


async def test_a_row_exists_before_anything_is_sent(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, changes = outbox_for(store, gateway, clock)
    (row,) = outbox.enqueue(drafts("hello"))
    assert row.state == "pending" and gateway.sent == []
    assert [change.state for change in changes] == ["pending"]
    await outbox.send_due()
    sent = store.require(row.id)
    assert sent.state == "sent" and sent.message_id == gateway.sent[0].message_id and sent.sent_at
    assert [change.state for change in changes] == ["pending", "sent"]


async def test_one_message_a_second_per_chat(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(store, gateway, clock)
    outbox.enqueue(drafts("one", "two", "three"))
    outbox.enqueue(drafts("other chat", chat_id=OTHER_CHAT))
    delay = await outbox.send_due()
    # one to each chat may go at once (apart from the 30/s overall spacing)
    assert [s.text for s in gateway.sent] == ["one"]
    assert delay == pytest.approx(1 / 30)
    clock.advance(delay)
    delay = await outbox.send_due()
    assert [s.text for s in gateway.sent] == ["one", "other chat"]
    assert delay == pytest.approx(1.0 - 1 / 30)
    clock.advance(0.5)
    assert await outbox.send_due() == pytest.approx(1.0 - 1 / 30 - 0.5)
    assert len(gateway.sent) == 2
    clock.advance(1.0)
    await outbox.send_due()
    assert [s.text for s in gateway.sent][-1] == "two"


async def test_flood_wait_raised_by_pyrogram_is_honoured(store: NotificationStore, tmp_path: Path) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, changes = outbox_for(store, gateway, clock)
    gateway.fail_next(errors.FloodWait(value=42))
    (row,) = outbox.enqueue(drafts("wait for it"))
    outbox.enqueue(drafts("another chat too", chat_id=OTHER_CHAT))
    delay = await outbox.send_due()
    assert gateway.sent == []
    waiting = store.require(row.id)
    assert waiting.state == "pending" and waiting.error == "flood wait 42s" and waiting.attempts == 0
    assert delay == pytest.approx(42)
    clock.advance(41)
    assert await outbox.send_due() == pytest.approx(1)
    assert gateway.sent == []  # nothing goes to any chat while Telegram asked to wait
    # the wait survives a restart
    restarted, _ = outbox_for(NotificationStore(tmp_path / "ledger.db"), gateway, clock)
    assert restarted.flood_until == pytest.approx(outbox.flood_until)
    clock.advance(1)
    while (delay := await outbox.send_due()) is not None:
        clock.advance(delay)
    assert [s.text for s in gateway.sent] == ["wait for it", "another chat too"]
    assert store.require(row.id).state == "sent"
    assert [c.state for c in changes if c.id == row.id] == ["pending", "pending", "sent"]


async def test_network_errors_retry_with_growing_delays_then_give_up(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(store, gateway, clock, max_attempts=4, first_retry_seconds=2.0)
    gateway.fail_next(*(ConnectionError() for _ in range(4)))
    (row,) = outbox.enqueue(drafts("doomed"))
    delays = []
    while (delay := await outbox.send_due()) is not None:
        delays.append(delay)
        clock.advance(delay)
    assert delays == [pytest.approx(2.0), pytest.approx(4.0), pytest.approx(8.0)]
    failed = store.require(row.id)
    assert failed.state == "failed" and failed.attempts == 4
    assert failed.error == "gave up after 4 attempts: cannot reach Telegram (network)"
    assert gateway.sent == []


async def test_a_refusal_fails_at_once_with_the_reason(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(store, gateway, clock)
    gateway.fail_next(errors.UserIsBlocked())
    (blocked,) = outbox.enqueue(drafts("hello?"))
    (later,) = outbox.enqueue(drafts("next one"))
    while (delay := await outbox.send_due()) is not None:
        clock.advance(delay)
    refused = store.require(blocked.id)
    assert refused.state == "failed" and refused.attempts == 1
    assert refused.error is not None and "USER_IS_BLOCKED" in refused.error
    assert store.require(later.id).state == "sent"


async def test_secrets_never_reach_the_stored_error(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(store, gateway, clock)
    gateway.fail_next(OSError(f"proxy said no to bot{BOT_TOKEN} with {API_HASH}"))
    (row,) = outbox.enqueue(drafts("x"))
    await outbox.send_due()
    error = store.require(row.id).error or ""
    assert BOT_TOKEN not in error and API_HASH not in error and "***" in error


async def test_a_failed_send_succeeds_after_a_restart(tmp_path: Path) -> None:
    """Telegram is unreachable; the process stops; the next one sends the pending row."""
    first_store = NotificationStore(tmp_path / "ledger.db")
    dead, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(first_store, dead, clock)
    dead.fail_next(ConnectionError("Connection refused"))
    (row,) = outbox.enqueue([Draft(CHAT, "your job finished", "job", job_id=7)])
    delay = await outbox.send_due()
    assert delay is not None and delay > 0  # backing off
    assert first_store.require(row.id).state == "pending"
    first_store.close()

    second_store = NotificationStore(tmp_path / "ledger.db")
    assert second_store.clear_backoff() == 1  # a restart tries at once
    alive = RecordingGateway()
    outbox, _ = outbox_for(second_store, alive, FakeClock(clock.now))
    assert await outbox.send_due() is None
    sent = second_store.require(row.id)
    assert sent.state == "sent" and sent.attempts == 2 and sent.error is None
    assert [s.text for s in alive.sent] == ["your job finished"]
    assert second_store.job_for_message(CHAT, alive.sent[0].message_id) == 7
    second_store.close()


async def test_resend_makes_a_new_row_and_keeps_the_old(store: NotificationStore) -> None:
    gateway, clock = RecordingGateway(), FakeClock()
    outbox, _ = outbox_for(store, gateway, clock)
    (row,) = outbox.enqueue([Draft(CHAT, "once more", "job", job_id=3)])
    await outbox.send_due()
    copy = store.resend(row.id)
    assert copy.id != row.id and copy.resent_from == row.id and copy.state == "pending"
    assert (copy.text, copy.job_id, copy.kind) == ("once more", 3, "job")
    clock.advance(5)
    await outbox.send_due()
    assert [s.text for s in gateway.sent] == ["once more", "once more"]
    assert store.require(row.id).state == store.require(copy.id).state == "sent"
    with pytest.raises(KeyError):
        store.resend(999)


async def test_json_shape(store: NotificationStore) -> None:
    (row,) = store.enqueue(drafts("x"))
    assert set(row.to_dict()) == {
        "id",
        "job_id",
        "channel",
        "chat_id",
        "state",
        "error",
        "created_at",
        "sent_at",
    }
