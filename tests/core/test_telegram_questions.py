"""Tool questions on Telegram: a running job's question goes out with Allow / Always / Deny, the
buttons and replies answer it through the door, and a reply to a running job tells it.

pyrogram's own Message and CallbackQuery objects reach the bot through the gateway seam; the
ledger, the door and the outbox are real. The last tests run the real Claude CLI against the
loopback stand-in inside a real engine.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from enginekit import wait_for, wait_job
from pyrogram import errors
from telegramkit import (
    CHAT,
    STRANGER,
    TELEGRAM_CONFIG,
    BotKit,
    bot_kit,
    engine_config,
    message,
    press,
    started,
    telegram_engine,
)

from core.claude.conversation import Answer, Told
from core.jobs import Job, JobState, RunOutcome
from core.telegram.notify import MESSAGE_LIMIT, question_token, utf16_len
from core.telegram.recording import RecordingGateway, Sent

BUTTONS = ["Allow", "Always", "Deny"]


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[BotKit]:
    with bot_kit(tmp_path / "home") as made:
        yield await started(made)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


def add(kit: BotKit, work: Path, prompt: str = "tidy the notes") -> Job:
    return kit.control.add(prompt, cwd=work)


async def asked(kit: BotKit) -> Sent:
    """Reconcile (what the service does on each ledger change) and send: the question message."""
    kit.announcer.reconcile()
    await kit.drain()
    questions = [sent for sent in kit.gateway.messages() if sent.buttons == BUTTONS]
    assert questions, "no question message was sent"
    return questions[-1]


async def queued_message(kit: BotKit, job: Job) -> Sent:
    """The "queued #N" reply a job from Telegram got: one of the job's messages."""
    await kit.drain()
    (queued,) = [sent for sent in kit.gateway.messages() if sent.text == f"queued #{job.id}"]
    return queued


def finish(kit: BotKit, job_id: int) -> Job:
    kit.ledger.set_waiting(job_id, None, None)
    return kit.ledger.finish(
        job_id, RunOutcome(state=JobState.SUCCEEDED, session_id="session-1", answer="done")
    )


def reasons(kit: BotKit, job_id: int) -> list[str]:
    return [event.reason for event in kit.ledger.events(job_id)]


async def test_a_question_goes_out_once_with_buttons_naming_the_job_and_the_question(
    kit: BotKit, work: Path
) -> None:
    job = add(kit, work)
    kit.ask(
        job.id, "Bash", {"command": "touch approved.txt"}, request_id="0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
    )
    sent = await asked(kit)
    kit.announcer.reconcile()  # asked once, however often the service reconciles
    assert await kit.drain() == []
    assert sent.chat_id == CHAT  # the job came from the CLI: the notify chat is asked
    lines = sent.text.splitlines()
    assert lines[0] == f"? #{job.id} asks to use Bash · workflow default"
    assert f"cwd: {work}" in lines
    assert "Bash: touch approved.txt" in lines
    assert sent.text.endswith("reply to this message to deny with a reason.")
    assert sent.markup is not None
    token = question_token("0f1e2d3c-aaaa-bbbb-cccc-1234567890ab")
    data = [button.data for row in sent.markup.rows for button in row]
    assert data == [f"allow:{job.id}:{token}", f"always:{job.id}:{token}", f"refuse:{job.id}:{token}"]
    assert all(len(value.encode()) <= 64 for value in data)  # Telegram's limit for callback data
    # the next question of the same run is a new message
    kit.ledger.set_waiting(job.id, None, None)
    kit.ask(job.id, "Bash", {"command": "touch second.txt"}, request_id="req-2")
    second = await asked(kit)
    assert second.message_id != sent.message_id and "Bash: touch second.txt" in second.text


async def test_an_edit_question_carries_a_diff_preview_within_telegrams_limit(
    kit: BotKit, work: Path
) -> None:
    (work / "notes.txt").write_text("first line\nold line\nlast line\n")
    job = add(kit, work)
    kit.ask(
        job.id,
        "Edit",
        {"file_path": "notes.txt", "old_string": "old line", "new_string": "new line"},
    )
    sent = await asked(kit)
    lines = sent.text.splitlines()
    assert "Edit: notes.txt" in lines
    assert "--- a/notes.txt" in lines and "+++ b/notes.txt" in lines
    assert "-old line" in lines and "+new line" in lines and " first line" in lines
    assert "*" not in sent.text.replace("**", "")  # plain text: nothing added for a parser

    big = add(kit, work, "rewrite everything")
    kit.ask(big.id, "Write", {"file_path": "big.txt", "content": "x" * 250 + "\n" + "line\n" * 5000})
    huge = await asked(kit)
    assert utf16_len(huge.text) <= MESSAGE_LIMIT - 200  # room left for the answered line
    assert any(line.startswith("… ") and line.endswith("more lines") for line in huge.text.splitlines())


async def test_allow_always_and_deny_answer_through_the_door_and_rewrite_the_message(
    kit: BotKit, work: Path
) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    first = await asked(kit)
    token = question_token("req-1")
    await kit.gateway.press(press(f"allow:{job.id}:{token}", message_id=first.message_id))
    assert kit.inputs(job.id) == [Answer("req-1", allow=True, always=False, by="@alice", via="telegram")]
    assert "allowed Bash (by @alice via telegram)" in reasons(kit, job.id)
    assert kit.gateway.answers() == [f"allowed Bash once for #{job.id}"]
    (edit,) = kit.gateway.edits()
    assert edit.message_id == first.message_id and edit.chat_id == CHAT and edit.markup is None
    assert edit.text.startswith(first.text) and edit.text.endswith("✓ allowed once by @alice")

    kit.ledger.set_waiting(job.id, None, None)  # the engine delivered the answer
    kit.ask(job.id, request_id="req-2")
    second = await asked(kit)
    await kit.gateway.press(press(f"always:{job.id}:{question_token('req-2')}", message_id=second.message_id))
    assert kit.inputs(job.id) == [Answer("req-2", allow=True, always=True, by="@alice", via="telegram")]
    assert kit.gateway.edits()[-1].text.endswith(f"✓ allowed always (for the rest of #{job.id}) by @alice")

    kit.ledger.set_waiting(job.id, None, None)
    kit.ask(job.id, "Write", {"file_path": "x.txt", "content": "x"}, request_id="req-3")
    third = await asked(kit)
    await kit.gateway.press(press(f"refuse:{job.id}:{question_token('req-3')}", message_id=third.message_id))
    assert kit.inputs(job.id) == [Answer("req-3", allow=False, always=False, by="@alice", via="telegram")]
    assert "denied Write (by @alice via telegram)" in reasons(kit, job.id)
    assert kit.gateway.answers()[-1] == f"denied Write for #{job.id}"
    assert kit.gateway.edits()[-1].text.endswith("✗ denied by @alice")
    assert await kit.drain() == []  # the rewritten message says it all: no extra chat message


async def test_a_stale_button_says_so_instead_of_answering_the_next_question(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    first = await asked(kit)
    kit.control.approve(job.id, by="tester", via="cli")  # answered in the window meanwhile
    kit.inputs(job.id)
    kit.ledger.set_waiting(job.id, None, None)
    kit.ask(job.id, "Bash", {"command": "rm -rf build"}, request_id="req-2")
    await kit.gateway.press(press(f"allow:{job.id}:{question_token('req-1')}", message_id=first.message_id))
    stale = f"#{job.id} no longer waits for this answer (it was answered, or its run ended)"
    assert kit.gateway.answers() == [stale]
    assert kit.inputs(job.id) == []  # the rm -rf question still waits
    assert kit.control.get(job.id).question is not None
    (edit,) = kit.gateway.edits()
    assert edit.message_id == first.message_id and edit.markup is None
    assert edit.text.endswith("(no longer waiting: answered elsewhere, or its run ended)")
    # an old pre-run Approve button never answers a tool question either
    await kit.gateway.press(press(f"approve:{job.id}"))
    assert kit.inputs(job.id) == []
    refused = f"job #{job.id} is running and waits for no approval: nothing to be approved"
    assert kit.gateway.answers()[-1] == refused
    # and once the run ended, the question's buttons answer nothing
    finish(kit, job.id)
    await kit.gateway.press(press(f"refuse:{job.id}:{question_token('req-2')}"))
    assert kit.gateway.answers()[-1] == stale and kit.inputs(job.id) == []


async def test_a_strangers_press_is_refused_without_a_word(
    kit: BotKit, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.telegram.commands")
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    before = list(kit.gateway.sent)
    await kit.gateway.press(
        press(f"allow:{job.id}:{question_token('req-1')}", from_id=STRANGER, message_id=sent.message_id)
    )
    await kit.gateway.deliver(message("go ahead", from_id=STRANGER, reply_to=sent.message_id))
    assert kit.inputs(job.id) == [] and kit.control.get(job.id).question is not None
    assert kit.gateway.sent == before and await kit.drain() == []
    assert kit.bot.denied_count == 2
    assert any(f"unauthorized sender id {STRANGER}" in record.getMessage() for record in caplog.records)


async def test_a_reply_to_the_question_denies_it_with_the_reply_as_the_reason(
    kit: BotKit, work: Path
) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    await kit.say("not on a Sunday", reply_to=sent.message_id)
    assert kit.inputs(job.id) == [
        Answer("req-1", allow=False, always=False, message="not on a Sunday", by="@alice", via="telegram")
    ]
    assert "denied Bash: not on a Sunday (by @alice via telegram)" in reasons(kit, job.id)
    assert await kit.drain() == [f"denied Bash for #{job.id}: Claude reads your reason"]
    (edit,) = kit.gateway.edits()
    assert edit.message_id == sent.message_id and edit.text.endswith("✗ denied by @alice: not on a Sunday")
    assert kit.ledger.list_jobs() == [kit.control.get(job.id)]  # no new job from the reply


async def test_a_reply_to_a_running_jobs_message_tells_it(kit: BotKit) -> None:
    await kit.say("refactor the parser")
    (job,) = kit.ledger.list_jobs()
    queued = await queued_message(kit, job)
    assert kit.ledger.claim(job.id, owner_pid=1) is not None
    await kit.say("also keep the old API", reply_to=queued.message_id)
    assert kit.inputs(job.id) == [Told("also keep the old API", by="@alice", via="telegram")]
    assert "told by @alice via telegram: also keep the old API" in reasons(kit, job.id)
    assert await kit.drain() == [f"told #{job.id}: Claude reads it at its next turn"]

    # while a question waits, a reply to another of its messages still tells it
    kit.ask(job.id, request_id="req-1")
    question = await asked(kit)
    await kit.say("and add tests", reply_to=queued.message_id)
    assert kit.inputs(job.id) == [Told("and add tests", by="@alice", via="telegram")]
    assert await kit.drain() == [
        f"told #{job.id}: Claude reads it at its next turn (it also waits for an answer about Bash)"
    ]
    # a reply to a question that was answered meanwhile tells the job too
    kit.control.approve(job.id, by="tester")
    kit.inputs(job.id)
    kit.ledger.set_waiting(job.id, None, None)
    await kit.say("thanks, carry on", reply_to=question.message_id)
    assert kit.inputs(job.id) == [Told("thanks, carry on", by="@alice", via="telegram")]
    assert len(kit.ledger.list_jobs()) == 1


async def test_a_reply_to_a_job_not_running_yet_says_the_doors_error(kit: BotKit) -> None:
    await kit.say("later please")
    (job,) = kit.ledger.list_jobs()
    queued = await queued_message(kit, job)
    await kit.say("one more thing", reply_to=queued.message_id)
    assert await kit.drain() == [
        f"job #{job.id} is queued, not running: "
        f"use `flowtui followup {job.id} MESSAGE` to continue its session"
    ]
    assert kit.inputs(job.id) == [] and len(kit.ledger.list_jobs()) == 1


async def test_a_reply_to_a_finished_jobs_question_message_is_a_follow_up(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    finish(kit, job.id)
    await kit.say("now shorten it", reply_to=sent.message_id)
    followup = kit.ledger.list_jobs()[0]
    assert followup.parent_id == job.id and followup.resume_session_id == "session-1"
    assert followup.prompt == "now shorten it"
    assert await kit.drain() == [f"queued #{followup.id} (follow-up of #{job.id})"]


async def test_a_reply_to_an_approval_request_denies_it_with_the_reason(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG + "\n[workflows.deploy]\napproval = true\n"
    with bot_kit(tmp_path / "home", config) as made:
        kit = await started(made)
        await kit.say("/run -w deploy ship it")
        (job,) = kit.ledger.list_jobs()
        kit.announcer.reconcile()
        await kit.drain()
        (request,) = [sent for sent in kit.gateway.messages() if sent.buttons == ["Approve", "Deny"]]
        await kit.say("not before the release", reply_to=request.message_id)
        assert kit.control.get(job.id).state is JobState.CANCELLED
        assert any("not before the release" in reason for reason in reasons(kit, job.id))
        assert await kit.drain() == [f"denied #{job.id}: cancelled"]


async def test_when_telegram_refuses_the_edit_the_chat_is_told(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    kit.gateway.fail_next(errors.MessageIdInvalid())
    await kit.gateway.press(press(f"allow:{job.id}:{question_token('req-1')}", message_id=sent.message_id))
    assert kit.inputs(job.id)[0] == Answer("req-1", allow=True, by="@alice", via="telegram")
    assert await kit.drain() == ["✓ allowed once by @alice"]


# -- a question answered elsewhere: its message loses its buttons and says how it ended ------


async def closed_edit(kit: BotKit, sent: Sent) -> Sent:
    """One pass of what the service does after a ledger change: the one edit it made."""
    before = len(kit.gateway.edits())
    await kit.bot.close_answered()
    edits = kit.gateway.edits()[before:]
    assert [edit.message_id for edit in edits] == [sent.message_id]
    await kit.bot.close_answered()  # closed once: a later pass leaves it alone
    assert len(kit.gateway.edits()) == before + 1
    return edits[0]


async def test_a_question_answered_in_the_window_drops_its_buttons_and_names_who(
    kit: BotKit, work: Path
) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    await kit.bot.close_answered()
    assert kit.gateway.edits() == []  # still asked: the buttons stay
    kit.control.approve(job.id, by="bob", via="tui")
    await kit.bot.close_answered()
    assert kit.gateway.edits() == []  # answered, but the run has not taken it yet: nothing moves
    kit.ledger.set_waiting(job.id, None, None)  # the engine handed the answer to Claude
    edit = await closed_edit(kit, sent)
    assert edit.markup is None and edit.chat_id == sent.chat_id
    assert edit.text.startswith(sent.text.splitlines()[0])
    assert edit.text.endswith("✓ allowed Bash, by bob in the window")
    # a reply to the rewritten message no longer denies anything: it tells the running job
    await kit.say("use the other folder", reply_to=sent.message_id)
    assert kit.inputs(job.id)[-1] == Told("use the other folder", by="@alice", via="telegram")


async def test_a_question_denied_from_the_cli_or_by_the_time_out_says_so(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, "Bash", {"command": "rm -rf build"}, request_id="req-1")
    first = await asked(kit)
    kit.control.deny(job.id, by="carol", reason="not today", via="cli")
    kit.ledger.set_waiting(job.id, None, None)
    kit.ask(job.id, "Bash", {"command": "rm -rf dist"}, request_id="req-2")  # the run asks again
    edit = await closed_edit(kit, first)
    assert edit.text.endswith("✗ denied Bash: not today, by carol from the CLI")
    second = await asked(kit)
    timed_out = (
        "Bash denied: no answer within 30 min (the workflow's permission_timeout_minutes): Bash denied"
    )
    kit.ledger.note(job.id, timed_out)  # what the run notes when the time for an answer is up
    kit.ledger.set_waiting(job.id, None, None)
    edit = await closed_edit(kit, second)
    assert edit.text.endswith(f"✗ denied by the time-out: {timed_out}") and edit.markup is None


async def test_a_question_whose_run_ended_first_says_so(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    finish(kit, job.id)
    edit = await closed_edit(kit, sent)
    assert edit.text.endswith(f"(no longer waiting: #{job.id} succeeded before an answer)")


async def test_a_question_answered_on_telegram_is_rewritten_once(kit: BotKit, work: Path) -> None:
    job = add(kit, work)
    kit.ask(job.id, request_id="req-1")
    sent = await asked(kit)
    await kit.gateway.press(press(f"refuse:{job.id}:{question_token('req-1')}", message_id=sent.message_id))
    (edit,) = kit.gateway.edits()
    assert edit.text.endswith("✗ denied by @alice")
    kit.ledger.set_waiting(job.id, None, None)
    await kit.bot.close_answered()  # the bot's own rewrite closed it: no second edit
    assert len(kit.gateway.edits()) == 1


# -- the real Claude CLI in a real engine ---------------------------------------------------


def waiting_message(gateway: RecordingGateway, job_id: int, count: int = 1) -> Sent:
    found = wait_for(
        lambda: [
            s for s in gateway.messages() if s.buttons == BUTTONS and s.text.startswith(f"? #{job_id} ")
        ][count - 1 :],
        timeout=60,
        what=f"job #{job_id}'s question on Telegram",
    )
    return found[0]


@pytest.mark.claude
def test_claude_asks_on_telegram_and_a_press_and_a_reply_answer_it(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str], work: Path
) -> None:
    gateway = RecordingGateway()
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    with telegram_engine(tmp_path / "home", engine_config(work), environ, gateway) as (engine, _, _):
        wait_for(lambda: gateway.started, what="the gateway to start")
        allowed = engine.control.add("Make it [[bash:touch approved.txt]]", cwd=work)
        question = waiting_message(gateway, allowed.id)
        assert "Bash: touch approved.txt" in question.text.splitlines()
        assert question.markup is not None
        allow = question.markup.rows[0][0].data
        gateway.press_threadsafe(press(allow, message_id=question.message_id))
        done = wait_job(engine, allowed.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        assert done.state is JobState.SUCCEEDED, done.error
        assert (work / "approved.txt").exists()
        assert "allowed Bash (by @alice via telegram)" in [e.reason for e in engine.ledger.events(allowed.id)]  # type: ignore[union-attr]

        denied = engine.control.add("Make it [[bash:touch denied.txt]]", cwd=work)
        question = waiting_message(gateway, denied.id)
        gateway.deliver_threadsafe(message("not on a Sunday", reply_to=question.message_id))
        done = wait_job(engine, denied.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        assert done.state is JobState.SUCCEEDED, done.error
        assert not (work / "denied.txt").exists()
        assert done.answer is not None and "not on a Sunday" in done.answer
        edits = [edit.text for edit in gateway.edits()]
    assert edits[0].endswith("✓ allowed once by @alice")
    assert edits[1].endswith("✗ denied by @alice: not on a Sunday")


@pytest.mark.claude
def test_a_question_answered_in_the_window_is_closed_on_telegram_by_the_running_service(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str], work: Path
) -> None:
    gateway = RecordingGateway()
    environ = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    with telegram_engine(tmp_path / "home", engine_config(work), environ, gateway) as (engine, _, _):
        wait_for(lambda: gateway.started, what="the gateway to start")
        job = engine.control.add("Make it [[bash:touch elsewhere.txt]]", cwd=work)
        question = waiting_message(gateway, job.id)
        engine.control.approve(job.id, by="bob", via="tui")  # what y in the window does
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        assert done.state is JobState.SUCCEEDED, done.error
        assert (work / "elsewhere.txt").exists()
        (edit,) = wait_for(
            lambda: [edit for edit in gateway.edits() if edit.message_id == question.message_id],
            timeout=30,
            what="the question message to be rewritten",
        )
    assert edit.markup is None
    assert edit.text.endswith("✓ allowed Bash, by bob in the window")
