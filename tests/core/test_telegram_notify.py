"""Notifications out: what a finished job's message says, how long answers split, and who is told."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from pathlib import Path

import pytest
from telegramkit import CHAT, TELEGRAM_CONFIG, bot_kit, started

from core.jobs import JobState
from core.telegram.notify import MESSAGE_LIMIT, finished_messages, split_message, utf16_len

FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})")


def long_answer(length: int = 10_000, seed: int = 7) -> str:
    """Prose, lists and code blocks (one far longer than a message), about ``length`` characters."""
    rng = random.Random(seed)
    pieces: list[str] = []
    while len("\n\n".join(pieces)) < length - 400:
        roll = rng.random()
        if roll < 0.25:
            body = "\n".join(
                f"    value_{i} = compute({i}) ** 2  # {'x' * rng.randint(0, 60)}"
                for i in range(rng.randint(3, 40))
            )
            pieces.append(f"```python\n{body}\n```")
        elif roll < 0.3:
            body = "\n".join(f"line {i}: " + "y" * rng.randint(20, 90) for i in range(120))
            pieces.append(f"```text\n{body}\n```")
        else:
            pieces.append(" ".join(f"word{rng.randint(0, 999)}" for _ in range(rng.randint(5, 80))))
    text = "\n\n".join(pieces)
    if len(text) > length - 2:  # the last code block overshot: drop it, fill with prose
        text = "\n\n".join(pieces[:-1])
    filler = "\n".join(" ".join(f"tail{i}-{j}" for j in range(8)) for i in range(length // 40))
    return (text + "\n\n" + filler)[:length]


def fences_balanced(part: str) -> bool:
    return sum(1 for line in part.split("\n") if FENCE_LINE.match(line)) % 2 == 0


def unsplit(parts: list[str]) -> str:
    """Undo the split: drop each close-and-reopen added at a part edge, join at the cut newline."""
    text = parts[0]
    for previous, part in itertools.pairwise(parts):
        if _closed_for_the_split(previous, part):
            text = text.rsplit("\n", 1)[0]
            part = part.split("\n", 1)[1]
        text += "\n" + part
    return text


def _closed_for_the_split(previous: str, part: str) -> bool:
    """``previous`` ends with a fence that closes a block it opened, and ``part`` reopens it."""
    lines = previous.split("\n")
    openings = [line for line in lines[:-1] if FENCE_LINE.match(line)]
    return (
        len(openings) % 2 == 1 and bool(FENCE_LINE.match(lines[-1])) and part.startswith(openings[-1] + "\n")
    )


def test_short_text_is_one_part() -> None:
    assert split_message("hello") == ["hello"]


def test_a_10000_character_answer_splits_without_breaking_code_blocks() -> None:
    answer = long_answer()
    assert len(answer) == 10_000 and answer.count("```") >= 4
    parts = split_message(answer)
    assert len(parts) >= 3
    assert all(utf16_len(part) <= MESSAGE_LIMIT for part in parts)
    assert all(fences_balanced(part) for part in parts)
    assert unsplit(parts) == answer


@pytest.mark.parametrize("seed", range(12))
def test_splitting_keeps_every_character_and_balances_fences(seed: int) -> None:
    answer = long_answer(length=random.Random(seed).randint(4_000, 30_000), seed=seed)
    parts = split_message(answer, limit=1_000)
    assert all(utf16_len(part) <= 1_000 for part in parts)
    assert all(fences_balanced(part) for part in parts)
    assert unsplit(parts) == answer


def test_a_code_block_that_fits_moves_whole_to_the_next_part() -> None:
    prose = "p" * 900
    code = "```sh\n" + "\n".join(f"echo {i}" for i in range(20)) + "\n```"
    parts = split_message(f"{prose}\n{code}", limit=1_000)
    assert parts == [prose, code]


def test_a_reopened_block_keeps_its_language() -> None:
    code = "```python\n" + "\n".join(f"x_{i} = {i}" for i in range(400)) + "\n```"
    parts = split_message(code, limit=500)
    assert all(part.startswith("```python\n") and part.endswith("\n```") for part in parts)


def test_limits_count_utf16_units_and_never_cut_a_character() -> None:
    text = "😀" * 3_000  # 6,000 UTF-16 units
    parts = split_message(text)
    assert [utf16_len(part) for part in parts] == [4_096, 1_904]
    assert "".join(parts) == text


def test_one_enormous_line_is_cut_at_spaces() -> None:
    text = " ".join(["word"] * 3_000)
    parts = split_message(text)
    assert all(utf16_len(part) <= MESSAGE_LIMIT for part in parts)
    assert "".join(parts) == text
    assert all(part.endswith(" ") for part in parts[:-1])


async def test_finished_job_message_says_everything(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as kit:
        job = kit.control.add("add the numbers", trigger="file notes/today.md")
        done = kit.finish(job.id, answer="the sum is 12", cost_usd=0.5)
        ((text, markup),) = finished_messages(done)
        lines = text.split("\n")
        assert lines[0] == f"✓ #{job.id} succeeded · workflow default"
        assert lines[1] == "trigger: file notes/today.md"
        assert lines[2].startswith("took ") and "cost $0.5000" in lines[2] and "1 attempt" in lines[2]
        assert lines[-1] == "the sum is 12"
        assert markup is not None and [b.text for row in markup.rows for b in row] == ["Retry", "Follow up"]


async def test_failed_job_message_carries_the_error(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as kit:
        job = kit.control.add("break")
        failed = kit.finish(
            job.id, state=JobState.FAILED, error="API Error: 400 bad", answer=None, session_id=None
        )
        ((text, markup),) = finished_messages(failed)
        assert text.startswith(f"✗ #{job.id} failed · workflow default")
        assert text.endswith("error: API Error: 400 bad")
        assert markup is not None and [b.text for row in markup.rows for b in row] == ["Retry"]


async def test_a_long_answer_is_sent_in_labelled_parts_with_buttons_last(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as made:
        kit = await started(made)
        job = kit.control.add("write a lot")
        done = kit.finish(job.id, answer=long_answer())
        kit.announcer.job_finished(done)
        sent = await kit.drain()
        assert len(sent) >= 3
        assert all(utf16_len(text) <= MESSAGE_LIMIT for text in sent)
        total = len(sent)
        assert sent[0].startswith(f"✓ #{job.id} succeeded · workflow default (1/{total})")
        assert all(text.startswith(f"#{job.id} ({n}/{total})\n") for n, text in enumerate(sent[1:], start=2))
        messages = kit.gateway.messages()
        assert [m.buttons for m in messages[:-1]] == [[]] * (total - 1)
        assert messages[-1].buttons == ["Retry", "Follow up"]
        # every part of the answer maps back to the job, so a reply to any of them is a follow-up
        assert {kit.store.job_for_message(CHAT, m.message_id) for m in messages} == {job.id}


@pytest.mark.parametrize(
    ("policy", "state", "announced"),
    [
        ("always", JobState.SUCCEEDED, True),
        ("always", JobState.CANCELLED, True),
        ("failure", JobState.SUCCEEDED, False),
        ("failure", JobState.FAILED, True),
        ("never", JobState.FAILED, False),
    ],
)
async def test_notify_policy(tmp_path: Path, policy: str, state: JobState, announced: bool) -> None:
    config = TELEGRAM_CONFIG + f'\n[workflows.w]\nnotify = "{policy}"\n'
    with bot_kit(tmp_path / "home", config) as made:
        kit = await started(made)
        job = kit.control.add("x", workflow="w")
        done = kit.finish(job.id, state=state)
        kit.announcer.job_finished(done)
        kit.announcer.reconcile()
        assert bool(await kit.drain()) is announced
        assert kit.store.notice(job.id, "finished") == ("queued" if announced else f"policy {policy}")


async def test_jobs_from_a_chat_are_announced_there_others_to_notify_chat(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as made:
        kit = await started(made)
        await kit.say("from the group", chat_id=-100777)
        from_group = kit.finish(kit.ledger.list_jobs()[0].id)
        from_cli = kit.finish(kit.control.add("from the cli").id)
        retry_of_group = kit.finish(kit.control.retry(from_group.id).id)
        for job in (from_group, from_cli, retry_of_group):
            kit.announcer.job_finished(job)
        await kit.drain()
        by_job = {
            kit.store.job_for_message(s.chat_id, s.message_id): s.chat_id for s in kit.gateway.messages()
        }
        assert by_job == {from_group.id: -100777, from_cli.id: CHAT, retry_of_group.id: -100777}


async def test_reconcile_announces_what_no_event_did_and_nothing_twice(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as made:
        kit = await started(made)
        job = kit.finish(kit.control.add("finished while the service was down").id)
        kit.announcer.reconcile()
        kit.announcer.job_finished(job)  # the late event finds it already announced
        kit.announcer.reconcile()
        assert len(await kit.drain()) == 1


async def test_no_chat_to_tell_is_recorded_not_retried(tmp_path: Path) -> None:
    config = TELEGRAM_CONFIG.replace(f"notify_chat_id = {CHAT}", "")
    with bot_kit(tmp_path / "home", config) as made:
        kit = await started(made)
        kit.announcer.config = dataclasses.replace(kit.announcer.config, notify_chat_id=None)
        job = kit.finish(kit.control.add("nobody to tell").id)
        kit.announcer.job_finished(job)
        assert await kit.drain() == []
        assert kit.store.notice(job.id, "finished") == "no chat: set [telegram] notify_chat_id"


async def test_a_job_cancelled_before_it_ran_is_not_announced(tmp_path: Path) -> None:
    with bot_kit(tmp_path / "home") as made:
        kit = await started(made)
        job = kit.control.add("never mind")
        kit.control.cancel(job.id)
        kit.announcer.reconcile()
        assert await kit.drain() == []
        assert kit.store.notice(job.id, "finished") == "never ran"
