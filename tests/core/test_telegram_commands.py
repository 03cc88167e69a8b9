"""Commands in: pyrogram's own Message and CallbackQuery objects reach the bot through the
gateway seam, and what the bot would send is read back from the recording gateway."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegramkit import (
    ALICE,
    BOB,
    CHAT,
    GROUP,
    STRANGER,
    TELEGRAM_CONFIG,
    BotKit,
    bot_kit,
    message,
    press,
    started,
)

from core.config.settings import load_settings
from core.jobs import JobSource, JobState


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[BotKit]:
    with bot_kit(tmp_path / "home") as made:
        yield await started(made)


async def test_run_queues_a_job_and_replies_with_its_id(kit: BotKit) -> None:
    await kit.say("/run summarise the notes")
    (job,) = kit.ledger.list_jobs()
    assert job.prompt == "summarise the notes"
    assert job.source == JobSource.TELEGRAM and job.state is JobState.QUEUED
    assert job.trigger == f"telegram @alice (chat {CHAT})"
    assert await kit.drain() == [f"queued #{job.id}"]
    assert kit.gateway.sent[0].chat_id == CHAT
    assert kit.store.origin(job.id) is not None


async def test_plain_text_is_a_run_with_the_default_workflow(kit: BotKit) -> None:
    await kit.say("what changed today?")
    (job,) = kit.ledger.list_jobs()
    assert job.prompt == "what changed today?" and job.workflow == "default"
    assert await kit.drain() == [f"queued #{job.id}"]


async def test_a_burst_of_messages_becomes_one_job(kit: BotKit) -> None:
    for part in ("please look at the failing test", "it is in tests/test_api.py", "and fix it"):
        await kit.gateway.deliver(message(part))
        kit.clock.advance(0.5)  # typing: each message well within the burst window
    assert kit.bot.flush_due() == [] and kit.ledger.list_jobs() == []
    (job,) = kit.quiet()
    assert job.prompt == "please look at the failing test\nit is in tests/test_api.py\nand fix it"
    assert await kit.drain() == [f"queued #{job.id} from 3 messages"]
    await kit.say("a separate thought, later")
    assert len(kit.ledger.list_jobs()) == 2


async def test_bursts_are_per_chat(kit: BotKit) -> None:
    await kit.gateway.deliver(message("from alice"))
    await kit.gateway.deliver(message("from bob", from_id=BOB, username="bob"))
    jobs = kit.quiet()
    assert sorted(job.prompt for job in jobs) == ["from alice", "from bob"]


async def test_a_command_flushes_the_pending_burst_first(kit: BotKit) -> None:
    await kit.gateway.deliver(message("do the thing"))
    await kit.gateway.deliver(message("/jobs"))
    (job,) = kit.ledger.list_jobs()
    sent = await kit.drain()
    assert sent[0] == f"queued #{job.id}"
    assert f"#{job.id} queued" in sent[1] and "do the thing" in sent[1]


async def test_run_with_a_workflow_and_bad_input(kit: BotKit) -> None:
    await kit.say("/run")
    await kit.say("/run -w nosuch do it")
    assert kit.ledger.list_jobs() == []
    usage, unknown = await kit.drain()
    assert usage.startswith("usage: /run PROMPT")
    assert "unknown workflow 'nosuch'" in unknown


async def test_jobs_and_status(kit: BotKit) -> None:
    assert await kit.drain() == []
    await kit.say("/jobs")
    assert await kit.drain() == ["no jobs yet: send a prompt to queue one"]
    await kit.say("first job")
    job = kit.finish(kit.ledger.list_jobs()[0].id, answer="forty-two")
    await kit.drain()
    await kit.say(f"/status {job.id}")
    await kit.say(f"/status #{job.id}")
    first, second = await kit.drain()
    assert first == second
    assert f"#{job.id} succeeded" in first and "forty-two" in first and "$0.0123" in first
    await kit.say("/status abc")
    await kit.say("/status 999")
    await kit.say("/status")
    assert await kit.drain() == [
        "bad job id 'abc': give the number /jobs shows",
        "no job #999: /jobs lists the latest ids",
        "usage: /status ID (the number /jobs shows)",
    ]


async def test_retry_and_cancel(kit: BotKit) -> None:
    await kit.say("job one")
    (job,) = kit.ledger.list_jobs()
    await kit.say(f"/retry {job.id}")
    await kit.say(f"/cancel {job.id}")
    await kit.say(f"/cancel {job.id}")
    sent = await kit.drain()
    assert sent[1] == f"job #{job.id} is queued: only a finished job can be retried (cancel it first)"
    assert sent[2] == f"cancelled #{job.id}"
    assert sent[3] == f"job #{job.id} already cancelled: nothing to cancel"
    await kit.say(f"/retry {job.id}")
    retried = kit.ledger.list_jobs()[0]
    assert retried.parent_id == job.id and retried.state is JobState.QUEUED
    assert await kit.drain() == [f"queued #{retried.id} (retry of #{job.id})"]
    assert "cancelled from Telegram by @alice" in [event.reason for event in kit.ledger.events(job.id)]


async def test_pause_and_resume(kit: BotKit) -> None:
    await kit.say("/pause")
    state = kit.control.pause_state()
    assert state.paused and state.reason == "paused from Telegram by @alice"
    await kit.say("/jobs")
    await kit.say("/resume")
    assert not kit.control.pause_state().paused
    paused, jobs, resumed = await kit.drain()
    assert paused.startswith("paused:") and "paused from Telegram" in jobs and resumed == "resumed"


async def test_watch_and_unwatch_edit_the_config(kit: BotKit, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    await kit.say(f"/watch {folder}")
    assert [watch.path for watch in load_settings(kit.paths.config_file).watch] == [str(folder.resolve())]
    assert "[telegram]" in kit.paths.config_file.read_text()  # the rest of the file survives
    await kit.say(f"/watch {folder}")
    await kit.say(f"/watch {tmp_path / 'missing'}")
    await kit.say(f"/unwatch {folder}")
    await kit.say(f"/unwatch {folder}")
    await kit.say("/watch")
    assert load_settings(kit.paths.config_file).watch == []
    sent = await kit.drain()
    assert sent[0] == f"watching {folder.resolve()} (workflow default)"
    assert sent[1].startswith(f"{folder.resolve()} is already watched")
    assert sent[2] == f"no such file or directory: {tmp_path / 'missing'}"
    assert sent[3] == f"stopped watching {folder.resolve()}"
    assert sent[4].startswith(f"{folder.resolve()} is not watched")
    assert sent[5].startswith("usage: /watch PATH")


async def test_help_start_and_unknown_commands(kit: BotKit) -> None:
    await kit.say("/help")
    await kit.say("/start")
    await kit.say("/frobnicate now")
    await kit.say("/help@flowtui_bot")
    await kit.say("/help@some_other_bot")  # in a group: meant for another bot
    help_text, start_text, unknown, addressed = await kit.drain()
    assert help_text == start_text == addressed
    for command in (
        "/run",
        "/jobs",
        "/status",
        "/retry",
        "/cancel",
        "/pause",
        "/resume",
        "/watch",
        "/unwatch",
    ):
        assert command in help_text
    assert unknown == "unknown command /frobnicate: /help lists the commands"


async def test_non_text_messages_get_a_hint(kit: BotKit) -> None:
    await kit.say(None)
    assert await kit.drain() == ["send text: a prompt, or a command from /help"]
    assert kit.ledger.list_jobs() == []


async def test_unauthorized_sender_is_ignored_logged_and_counted(
    kit: BotKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.telegram.commands")
    await kit.say("/run rm -rf everything", from_id=STRANGER, username="mallory")
    await kit.say("/help", from_id=STRANGER, username="mallory")
    await kit.say("hello?", from_id=STRANGER, chat_id=GROUP, username="mallory")
    await kit.gateway.press(press("retry:1", from_id=STRANGER))
    assert kit.ledger.list_jobs() == []
    assert kit.gateway.sent == []  # not even a callback answer: no hint that a bot listens
    assert await kit.drain() == []
    assert kit.bot.denied_count == 4
    assert kit.store.denied_summary() == (4, 1)
    assert any(f"unauthorized sender id {STRANGER}" in record.getMessage() for record in caplog.records)


async def test_empty_allowlist_denies_everybody(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG.replace(f"allowed_users = [{ALICE}, {BOB}]", "")
    with bot_kit(tmp_path / "home", config, allowed=()) as made:
        kit = await started(made)
        await kit.say("/run anything")
        assert kit.ledger.list_jobs() == [] and await kit.drain() == []
        assert kit.store.denied_summary() == (1, 1)


async def test_reply_to_a_notification_queues_a_follow_up(kit: BotKit) -> None:
    await kit.say("write the report")
    job = kit.finish(kit.ledger.list_jobs()[0].id, session_id="session-abc")
    await kit.drain()
    kit.announcer.job_finished(job)
    await kit.drain()
    notification = kit.gateway.sent[-1]
    assert notification.text.startswith(f"✓ #{job.id} succeeded")
    await kit.say("now shorten it", reply_to=notification.message_id)
    followup = kit.ledger.list_jobs()[0]
    assert followup.parent_id == job.id and followup.resume_session_id == "session-abc"
    assert followup.prompt == "now shorten it" and followup.source == JobSource.TELEGRAM
    assert await kit.drain() == [f"queued #{followup.id} (follow-up of #{job.id})"]
    # a reply to something that is not a job's message is an ordinary prompt
    await kit.say("unrelated", reply_to=99999)
    assert kit.ledger.list_jobs()[0].prompt == "unrelated"


async def test_follow_up_of_a_job_without_a_session_explains(kit: BotKit) -> None:
    await kit.say("first")
    job = kit.finish(kit.ledger.list_jobs()[0].id, state=JobState.FAILED, session_id=None, error="boom")
    kit.announcer.job_finished(job)
    await kit.drain()
    await kit.say("try again", reply_to=kit.gateway.sent[-1].message_id)
    assert (await kit.drain())[0].startswith(f"job #{job.id} has no Claude session to continue")


async def test_buttons_retry_follow_up_and_log(kit: BotKit, tmp_path: Path) -> None:
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text(
        '{"type": "system", "subtype": "init", "session_id": "s-1", "model": "m"}\n'
        '{"type": "assistant", "message": {"content": [{"type": "text", "text": "the log text"}]}}\n'
    )
    await kit.say("do it")
    job = kit.finish(kit.ledger.list_jobs()[0].id)
    kit.ledger.record_process(job.id, 1, 0.0, str(transcript))
    job = kit.control.get(job.id)
    kit.announcer.job_finished(job)
    await kit.drain()
    assert kit.gateway.sent[-1].buttons == ["Retry", "Follow up", "Show log"]

    await kit.gateway.press(press(f"retry:{job.id}"))
    retried = kit.ledger.list_jobs()[0]
    assert retried.parent_id == job.id
    await kit.gateway.press(press(f"follow:{job.id}"))
    await kit.gateway.press(press(f"log:{job.id}"))
    await kit.gateway.press(press("log:999"))
    assert kit.gateway.answers() == [
        f"queued #{retried.id} (retry of #{job.id})",
        "reply to the message below",
        "sending the log",
        "no job #999: /jobs lists the latest ids",
    ]
    await kit.drain()
    retry_reply, prompt, document, error = kit.gateway.messages()[-4:]
    assert retry_reply.text == f"queued #{retried.id} (retry of #{job.id})"
    assert prompt.markup is not None and prompt.markup.force_reply
    assert document.kind == "document" and document.file_name == f"job-{job.id}-transcript.txt"
    assert document.data is not None and b"the log text" in document.data
    assert error.text == "no job #999: /jobs lists the latest ids"
    await kit.say("and then this", reply_to=prompt.message_id)  # answering the Follow up prompt
    assert kit.ledger.list_jobs()[0].resume_session_id == "session-1"


async def test_approval_requests_and_buttons(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG + "\n[workflows.deploy]\napproval = true\n"
    with bot_kit(tmp_path / "home", config) as made:
        kit = await started(made)
        await kit.say("/run -w deploy ship it")
        await kit.say("/run -w deploy ship the other thing")
        first, second = sorted(kit.ledger.list_jobs(), key=lambda job: job.id)
        assert first.state is JobState.AWAITING_APPROVAL
        kit.announcer.reconcile()
        kit.announcer.reconcile()  # announced once, however often it runs
        sent = await kit.drain()
        assert sent[:2] == [
            f"#{first.id} waits for approval (workflow deploy)",
            f"#{second.id} waits for approval (workflow deploy)",
        ]
        requests = [s for s in kit.gateway.messages() if s.buttons == ["Approve", "Deny"]]
        assert [r.text.splitlines()[0] for r in requests] == [
            f"? #{first.id} waits for approval · workflow deploy",
            f"? #{second.id} waits for approval · workflow deploy",
        ]
        await kit.gateway.press(press(f"approve:{first.id}"))
        await kit.gateway.press(press(f"deny:{second.id}"))
        await kit.gateway.press(press(f"approve:{first.id}"))
        assert kit.control.get(first.id).state is JobState.QUEUED
        assert kit.control.get(second.id).state is JobState.CANCELLED
        assert kit.gateway.answers() == [
            f"approved #{first.id}",
            f"denied #{second.id}",
            f"job #{first.id} is queued and waits for no approval: nothing to be approved",
        ]
        reasons = [event.reason for event in kit.ledger.events(first.id)]
        assert "approved by Telegram user @alice" in reasons
        assert await kit.drain() == [
            f"approved #{first.id}: queued",
            f"denied #{second.id}: cancelled",
            f"job #{first.id} is queued and waits for no approval: nothing to be approved",
        ]
