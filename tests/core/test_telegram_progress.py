"""Live progress in Telegram: one message per running job, shown after ``progress_seconds``, edited
no faster than the spacing and the outbox's per-chat pacing allow, a FloodWait honoured, the
finish message replacing it, and a stale one cleaned up after a restart. The gateway is the
recording fake behind the seam (pyrogram's own errors); the clock is a settable fake, so
nothing here sleeps or times anything, except the engine test at the end, which waits for events."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from enginekit import settings_from, wait_for, wait_job
from fakeclaude import result_line, write_script
from pyrogram import enums, errors, types
from telegramkit import (
    BOT_TOKEN,
    CHAT,
    TELEGRAM_CONFIG,
    BotKit,
    bot_kit,
    engine_config,
    rows,
    telegram_config,
    telegram_engine,
)

from core.claude.events import AssistantText, Finished, TextDelta, ToolCall
from core.claude.stream import ResultLine
from core.errors import ConfigError
from core.jobs import Job, JobState, RunOutcome
from core.ledger.notifications import Draft, NotificationStore
from core.telegram.config import resolve_config
from core.telegram.gateway import PyrogramGateway
from core.telegram.progress import HEARTBEAT_SECONDS, STATE_PREFIX, ProgressTracker
from core.telegram.recording import RecordingGateway, Sent

SPACING = 5.0


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[BotKit]:
    with bot_kit(tmp_path / "home", TELEGRAM_CONFIG + "progress = true\n") as opened:
        yield opened


def tracker_for(
    kit: BotKit, progress: bool = True, store: NotificationStore | None = None
) -> ProgressTracker:
    config = dataclasses.replace(kit.bot.config, progress=progress, progress_seconds=SPACING)
    tracker = ProgressTracker(config, store or kit.store, kit.clock, kit.ledger.get)
    tracker.attach(kit.gateway, kit.outbox, kit.announcer)
    return tracker


def running_job(kit: BotKit, tracker: ProgressTracker, workflow: str = "default") -> Job:
    job = kit.control.add("work", workflow=workflow, cwd=kit.home)
    claimed = kit.ledger.claim(job.id, owner_pid=1)
    assert claimed is not None and claimed.state is JobState.RUNNING
    tracker.job_changed(claimed)
    return claimed


def finished(kit: BotKit, tracker: ProgressTracker, job: Job) -> Job:
    """The running job succeeds, as the engine records and publishes it."""
    outcome = RunOutcome(state=JobState.SUCCEEDED, session_id="session-1", answer="done", cost_usd=0.5)
    done = kit.ledger.finish(job.id, outcome)
    tracker.job_changed(done)
    kit.announcer.job_finished(done)
    return done


def tool(name: str = "Bash", summary: str = "echo hi") -> ToolCall:
    return ToolCall(tool_use_id=f"tool-{summary}", name=name, summary=summary)


def cost(usd: float) -> Finished:
    result = ResultLine(False, "success", "partial", usd, 1, 1, 1, "session-1", None)
    return Finished(result=result, duration_ms=10)


def progress_calls(gateway: RecordingGateway) -> list[Sent]:
    """The progress message's sends, edits and deletes (not the outbox's rows)."""
    return [s for s in gateway.sent if s.kind in ("edit", "delete") or s.text.startswith("⏳")]


async def pump(tracker: ProgressTracker) -> float | None:
    return await tracker.send_due()


async def test_the_first_message_goes_after_progress_seconds(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    assert await pump(tracker) == pytest.approx(SPACING) and kit.gateway.sent == []
    tracker.output(job.id, [tool(), TextDelta("looking at the tests\n")])
    kit.clock.advance(SPACING - 0.1)
    assert await pump(tracker) == pytest.approx(0.1) and kit.gateway.sent == []
    kit.clock.advance(0.1)
    await pump(tracker)
    (first,) = kit.gateway.sent
    assert first.kind == "message" and first.chat_id == CHAT and first.markup is None
    assert (
        first.text
        == f"⏳ #{job.id} running for 0:05\n1 tool call, last: Bash: echo hi\n\nlooking at the tests"
    )
    assert kit.store.states(STATE_PREFIX) == {f"{STATE_PREFIX}{CHAT}:{first.message_id}": str(job.id)}


async def test_edits_are_throttled_and_unchanged_text_is_not_sent_again(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    sent_at: list[float] = []
    kit.gateway.on_send = lambda sent: sent_at.append(kit.clock())
    for step in range(60):  # a busy job: something new every half second for 30 s
        tracker.output(job.id, [tool(summary=f"step {step}"), TextDelta(f"line {step}\n")])
        if step == 30:
            tracker.output(job.id, [cost(0.25)])
        await pump(tracker)
        kit.clock.advance(0.5)
    await pump(tracker)
    calls = progress_calls(kit.gateway)
    assert [call.kind for call in calls] == ["message"] + ["edit"] * (len(calls) - 1)
    assert len(calls) == 6  # at 5, 10, 15, 20, 25 and 30 s: never closer than the spacing
    assert all(later - earlier >= SPACING for earlier, later in itertools.pairwise(sent_at))
    assert {call.message_id for call in calls} == {calls[0].message_id}  # one message per job
    last = calls[-1].text
    assert "60 tool calls, last: Bash: step 59" in last and "cost so far: $0.2500" in last
    assert last.endswith("\n".join(f"line {n}" for n in range(54, 60)))  # the last lines only
    # nothing new: no edit at the next spacing, nor the one after
    kit.clock.advance(2 * SPACING)
    await pump(tracker)
    assert len(progress_calls(kit.gateway)) == 6
    kit.clock.advance(HEARTBEAT_SECONDS)  # still nothing new: once a minute the time moves on
    await pump(tracker)
    assert len(progress_calls(kit.gateway)) == 7
    assert progress_calls(kit.gateway)[-1].text.startswith(f"⏳ #{job.id} running for 1:40\n60 tool calls")
    kit.clock.advance(SPACING)
    # the streamed block's whole text is not added twice; a block that was not streamed is
    whole = AssistantText("\n".join(f"line {n}" for n in range(60)))
    tracker.output(job.id, [whole, AssistantText("a whole block, not streamed")])
    await pump(tracker)
    last = progress_calls(kit.gateway)[-1].text
    assert last.endswith("line 58\nline 59\na whole block, not streamed") and last.count("line 59") == 1


async def test_progress_shares_the_outbox_pacing_of_its_chat(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    running_job(kit, tracker)
    kit.clock.advance(SPACING - 0.5)
    kit.outbox.enqueue([Draft(CHAT, "an answer", "reply")])
    await kit.outbox.send_due()
    kit.clock.advance(0.5)  # the progress is due, but the chat had a message half a second ago
    assert await pump(tracker) == pytest.approx(0.5)
    assert progress_calls(kit.gateway) == []
    kit.clock.advance(0.5)
    await pump(tracker)
    assert len(progress_calls(kit.gateway)) == 1
    kit.outbox.enqueue([Draft(CHAT, "another answer", "reply")])
    assert await kit.outbox.send_due() == pytest.approx(1.0)  # and the outbox waits for the progress


async def test_a_flood_wait_on_an_edit_is_honoured_then_edits_resume(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    kit.clock.advance(SPACING)
    await pump(tracker)
    tracker.output(job.id, [tool(summary="first")])
    kit.clock.advance(SPACING)
    kit.gateway.fail_next(errors.FloodWait(value=30))
    await pump(tracker)
    assert [call.kind for call in progress_calls(kit.gateway)] == ["message"]  # the edit was refused
    flooded_at = kit.clock()
    for step in range(29):  # new output every second; nothing may go before the deadline
        tracker.output(job.id, [tool(summary=f"during the flood {step}")])
        kit.clock.advance(1)
        delay = await pump(tracker)
        assert delay is not None and delay > 0
    assert [call.kind for call in progress_calls(kit.gateway)] == ["message"]
    assert kit.clock() < flooded_at + 30
    kit.clock.advance(flooded_at + 30 - kit.clock())
    await pump(tracker)
    calls = progress_calls(kit.gateway)
    assert [call.kind for call in calls] == ["message", "edit"]  # one edit: the latest state, no backlog
    assert "30 tool calls, last: Bash: during the flood 28" in calls[-1].text


async def test_the_finish_message_replaces_the_progress_message(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    kit.clock.advance(SPACING)
    await pump(tracker)
    (progress,) = progress_calls(kit.gateway)
    finished(kit, tracker, job)
    await kit.drain()
    while (delay := await pump(tracker)) is not None:
        kit.clock.advance(delay)
    deletes = kit.gateway.deletes()
    assert [(d.chat_id, d.message_id) for d in deletes] == [(CHAT, progress.message_id)]
    assert kit.gateway.messages()[-1].text.startswith(f"✓ #{job.id} succeeded")
    assert kit.store.states(STATE_PREFIX) == {} and tracker.tracked() == []
    kit.clock.advance(10 * SPACING)
    assert await pump(tracker) is None  # nothing more about the finished job


async def test_a_job_ending_while_flooded_gets_its_finish_message_and_the_progress_goes_later(
    kit: BotKit,
) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    kit.clock.advance(SPACING)
    await pump(tracker)
    tracker.output(job.id, [tool()])
    kit.clock.advance(SPACING)
    kit.gateway.fail_next(errors.FloodWait(value=120))
    await pump(tracker)
    finished(kit, tracker, job)
    await kit.drain()  # the durable finish message is not held up by the progress's flood
    assert kit.gateway.messages()[-1].text.startswith(f"✓ #{job.id} succeeded")
    assert await pump(tracker) == pytest.approx(tracker.flood_until - kit.clock())
    assert kit.gateway.deletes() == []
    kit.clock.advance(tracker.flood_until - kit.clock())
    await pump(tracker)
    assert len(kit.gateway.deletes()) == 1 and kit.store.states(STATE_PREFIX) == {}


async def test_progress_off_or_notify_never_sends_no_progress(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG + '\n[workflows.quiet]\nnotify = "never"\n'
    with bot_kit(tmp_path / "home", config) as kit:
        off = tracker_for(kit, progress=False)
        job = running_job(kit, off)
        on = tracker_for(kit)
        quiet = running_job(kit, on, workflow="quiet")
        for _ in range(20):
            off.output(job.id, [tool(), TextDelta("text\n")])
            on.output(quiet.id, [tool(), TextDelta("text\n")])
            kit.clock.advance(SPACING)
            assert await pump(off) is None and await pump(on) is None
        assert kit.gateway.sent == [] and off.tracked() == [] and on.tracked() == []
        assert kit.store.states(STATE_PREFIX) == {}


async def test_progress_switched_on_while_a_job_runs_follows_it_and_off_stops_the_edits(kit: BotKit) -> None:
    tracker = tracker_for(kit, progress=False)
    job = running_job(kit, tracker)
    tracker.output(job.id, [tool()])
    assert tracker.tracked() == []
    tracker.config = dataclasses.replace(tracker.config, progress=True)  # the config was edited
    tracker.output(job.id, [tool(summary="second")])  # its output: looked up, running, followed
    assert tracker.tracked() == [job.id]
    kit.clock.advance(SPACING)
    await pump(tracker)
    (shown,) = progress_calls(kit.gateway)
    assert "1 tool call, last: Bash: second" in shown.text
    tracker.config = dataclasses.replace(tracker.config, progress=False)
    tracker.output(job.id, [tool(summary="third")])
    kit.clock.advance(SPACING)
    assert await pump(tracker) is None and len(progress_calls(kit.gateway)) == 1
    finished(kit, tracker, job)
    await pump(tracker)
    assert [d.message_id for d in kit.gateway.deletes()] == [shown.message_id]  # still replaced


async def test_a_restart_deletes_the_progress_message_an_interrupted_job_left(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    kit.clock.advance(SPACING)
    await pump(tracker)
    (left,) = progress_calls(kit.gateway)
    # the engine stops mid-run; a new one starts on the same ledger file, Telegram first asks to wait
    store = NotificationStore(kit.paths.ledger_db)
    try:
        restarted = tracker_for(kit, store=store)
        kit.gateway.fail_next(errors.FloodWait(value=20))
        kit.clock.advance(await pump(restarted) or 0.0)  # the chat's pacing from the last send
        assert await pump(restarted) == pytest.approx(20) and kit.gateway.deletes() == []
        # the job runs again meanwhile: its output reaches the new tracker, which follows it
        restarted.output(job.id, [tool(summary="second run")])
        assert restarted.tracked() == [job.id]
        while (delay := await pump(restarted)) is not None and len(kit.gateway.messages()) == 1:
            kit.clock.advance(delay)
        assert [(d.chat_id, d.message_id) for d in kit.gateway.deletes()] == [(CHAT, left.message_id)]
        (new,) = [s for s in kit.gateway.messages() if s.message_id != left.message_id]
        assert "second run" in new.text
        assert store.states(STATE_PREFIX) == {f"{STATE_PREFIX}{CHAT}:{new.message_id}": str(job.id)}
        finished(kit, restarted, job)
        while (delay := await pump(restarted)) is not None:
            kit.clock.advance(delay)
        assert [d.message_id for d in kit.gateway.deletes()] == [left.message_id, new.message_id]
        assert store.states(STATE_PREFIX) == {}
    finally:
        store.close()


async def test_text_from_claude_is_literal_and_secrets_are_blanked(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    markup = "**bold** <b>tag</b> `code` [link](http://x) _under_"
    tracker.output(job.id, [TextDelta(f"{markup}\ntoken {BOT_TOKEN}\n")])
    tracker.output(job.id, [tool(summary=f"curl -H {BOT_TOKEN}")])
    kit.clock.advance(SPACING)
    await pump(tracker)
    (shown,) = progress_calls(kit.gateway)
    assert markup in shown.text and BOT_TOKEN not in shown.text and "token ***" in shown.text
    assert shown.markup is None  # sent as plain text (the gateway sends without a parse mode)


async def test_a_deleted_progress_message_is_given_up_and_the_finish_still_comes(kit: BotKit) -> None:
    tracker = tracker_for(kit)
    job = running_job(kit, tracker)
    kit.clock.advance(SPACING)
    await pump(tracker)
    tracker.output(job.id, [tool()])
    kit.clock.advance(SPACING)
    kit.gateway.fail_next(errors.MessageIdInvalid())
    await pump(tracker)
    tracker.output(job.id, [tool()])
    kit.clock.advance(SPACING)
    assert await pump(tracker) is None  # no more edits of a message that is gone
    assert [call.kind for call in progress_calls(kit.gateway)] == ["message"]
    finished(kit, tracker, job)
    await kit.drain()
    assert kit.gateway.messages()[-1].text.startswith(f"✓ #{job.id} succeeded")


def slow_script(path: Path, release: Path) -> Path:
    """Claude that calls a tool, says a line, then waits until the test lets it finish."""
    tool_line = {
        "type": "assistant",
        "message": {
            "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make"}}]
        },
    }
    text_line = {"type": "assistant", "message": {"content": [{"type": "text", "text": "building *now*"}]}}
    return write_script(
        path,
        f"echo '{json.dumps(tool_line)}'\necho '{json.dumps(text_line)}'\n"
        f"while [ ! -e '{release}' ]; do sleep 0.1; done\n"
        f"echo '{result_line(result='built')}'\n",
    )


def test_a_running_job_in_the_engine_shows_progress_then_its_finish(tmp_path: Path) -> None:
    gateway = RecordingGateway()
    home, release = tmp_path / "home", tmp_path / "release"
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(slow_script(tmp_path / "claude", release))}
    config = engine_config(tmp_path).replace(
        "[telegram]\n", "[telegram]\nprogress = true\nprogress_seconds = 3\n"
    )
    with telegram_engine(home, config, environ, gateway) as (engine, service, _):
        wait_for(lambda: gateway.started, what="the gateway to start")
        assert engine.control is not None
        job = engine.control.add("build it", cwd=tmp_path)
        shown = wait_for(
            lambda: [s for s in progress_calls(gateway) if "1 tool call" in s.text and "building" in s.text],
            what="the progress message with the tool call and the text",
        )[0]
        assert shown.text.startswith(f"⏳ #{job.id} running for ")
        assert "1 tool call, last: Bash: make" in shown.text and shown.text.endswith("building *now*")
        release.touch()
        wait_job(engine, job.id, JobState.SUCCEEDED)
        wait_for(lambda: gateway.deletes(), what="the progress message to be deleted")
        finish = wait_for(
            lambda: [row for row in rows(home) if row.kind == "job" and row.state == "sent"],
            what="the finish message",
        )[0]
    assert [(d.chat_id, d.message_id) for d in gateway.deletes()] == [(CHAT, shown.message_id)]
    assert finish.text.startswith(f"✓ #{job.id} succeeded") and service.progress is not None
    assert service.progress.tracked() == []


async def test_the_pyrogram_gateway_edits_as_plain_text_and_deletes(tmp_path: Path) -> None:
    gateway = PyrogramGateway(telegram_config(), tmp_path / "bot.session", in_memory=True)

    async def ignore(update: Any) -> None:
        return None

    client = gateway.prepare(ignore, ignore)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def edit_message_text(*args: Any, **kwargs: Any) -> types.Message:
        calls.append(("edit_message_text", args, kwargs))
        return types.Message(id=args[1])

    async def delete_messages(*args: Any, **kwargs: Any) -> int:
        calls.append(("delete_messages", args, kwargs))
        return 1

    client.edit_message_text = edit_message_text  # type: ignore[method-assign]
    client.delete_messages = delete_messages  # type: ignore[method-assign]
    await gateway.edit_message(42, 7, "⏳ #5 running for 0:05\n**not bold**")
    await gateway.delete_message(42, 7)
    assert client.parse_mode is enums.ParseMode.DISABLED  # Claude's text is never parsed as markup
    assert calls == [
        ("edit_message_text", (42, 7, "⏳ #5 running for 0:05\n**not bold**"), {"reply_markup": None}),
        ("delete_messages", (42, 7), {}),
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('progress = "yes"', "[telegram] progress: expected true or false (got 'yes')"),
        ("progress_seconds = 1", "[telegram] progress_seconds: input should be greater than or equal to 3"),
        ('progress_seconds = "often"', "[telegram] progress_seconds: expected a number (got 'often')"),
    ],
)
def test_the_progress_keys_are_checked_at_load(line: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(f"[telegram]\n{line}\n")
    assert error in str(raised.value) and "\n" not in str(raised.value)


def test_the_progress_keys_reach_the_bot_config() -> None:
    settings = settings_from(TELEGRAM_CONFIG + "progress = true\nprogress_seconds = 8\n")
    config = resolve_config(settings, {})
    assert config is not None and (config.progress, config.progress_seconds) == (True, 8.0)
    default = resolve_config(settings_from(TELEGRAM_CONFIG), {})
    assert default is not None and (default.progress, default.progress_seconds) == (False, 5.0)
