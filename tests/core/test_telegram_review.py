"""A job's changes on Telegram: the finish message lists the changed files with their line counts
and, for a worktree to review, Keep / Discard buttons that act through the door (a pressed button
whose job was kept or discarded since says it is stale); `/diff ID` sends the diff inline as a code
block, or as a file when it is long.

Real git in temp repositories, the real door, ledger and outbox; pyrogram's own update objects
reach the bot through the recording gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gitkit import git
from telegramkit import CHAT, STRANGER, TELEGRAM_CONFIG, BotKit, bot_kit, message, press, started

from core.engine.workspace import prepare_workspace, record_after, record_before
from core.jobs import Job
from core.telegram.notify import CHANGES_SHOWN, MESSAGE_LIMIT, utf16_len
from core.telegram.recording import Sent

ISOLATED = TELEGRAM_CONFIG + '\n[workflows.isolated]\nisolation = "worktree"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    where = tmp_path / "repo"
    where.mkdir()
    git(where, "init", "-q", "-b", "main")
    (where / "shared.txt").write_text("original\n")
    git(where, "add", ".")
    git(where, "commit", "-q", "-m", "first")
    return where


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[BotKit]:
    with bot_kit(tmp_path / "home", config_text=ISOLATED) as made:
        yield await started(made)


def run_job(kit: BotKit, repo: Path, files: dict[str, str], workflow: str = "isolated") -> Job:
    """A job run as the engine runs one, without Claude: its workspace made, its tree recorded
    before, ``files`` written where it runs, its tree recorded after, then finished."""
    job = kit.control.add("change the files", workflow=workflow, cwd=repo)
    job = prepare_workspace(job, kit.settings.workflow(workflow), kit.paths, kit.ledger)
    before = record_before(job, kit.ledger)
    for name, text in files.items():
        target = Path(job.run_directory) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    record_after(kit.ledger.require(job.id), before, kit.ledger)
    return kit.finish(job.id)


async def announced(kit: BotKit, job: Job) -> Sent:
    kit.announcer.job_finished(job)
    await kit.drain()
    (sent,) = [sent for sent in kit.gateway.messages() if sent.text.startswith(f"✓ #{job.id} ")]
    return sent


def data(sent: Sent) -> list[str]:
    assert sent.markup is not None
    return [button.data for row in sent.markup.rows for button in row]


async def test_the_finish_message_lists_changed_files_and_keep_merges_then_the_button_is_stale(
    kit: BotKit, repo: Path
) -> None:
    job = run_job(kit, repo, {"shared.txt": "changed\nand more\n", "new.txt": "new\n"})
    sent = await announced(kit, job)
    lines = sent.text.splitlines()
    assert f"changes: 2 files changed (+3 -1) in its worktree, to review: /diff {job.id}" in lines
    assert "  +1 -0  new.txt" in lines and "  +2 -1  shared.txt" in lines
    assert sent.buttons == ["Retry", "Follow up", "Keep", "Discard"]
    assert f"keep:{job.id}" in data(sent) and f"discard:{job.id}" in data(sent)

    await kit.gateway.press(press(f"keep:{job.id}", message_id=sent.message_id))
    await kit.drain()
    assert kit.ledger.require(job.id).review == "kept"
    assert (repo / "shared.txt").read_text() == "changed\nand more\n"
    assert kit.gateway.answers()[-1] == f"kept #{job.id}: merged into main"
    (edit,) = kit.gateway.edits()
    assert edit.message_id == sent.message_id and edit.text.endswith("✓ kept by @alice")
    assert edit.buttons == ["Retry", "Follow up"]  # Keep and Discard went, the rest stays
    assert any("kept by Telegram user @alice" in event.reason for event in kit.ledger.events(job.id))

    # the old message's buttons, pressed again: stale, nothing done twice
    head = git(repo, "rev-parse", "HEAD")
    await kit.gateway.press(press(f"discard:{job.id}", message_id=sent.message_id))
    await kit.drain()
    assert kit.gateway.answers()[-1] == f"#{job.id}'s changes were kept already: this button is stale"
    assert git(repo, "rev-parse", "HEAD") == head and kit.ledger.require(job.id).review == "kept"


async def test_discard_asks_first_then_removes_the_worktree_and_branch(kit: BotKit, repo: Path) -> None:
    job = run_job(kit, repo, {"shared.txt": "changed\n"})
    sent = await announced(kit, job)
    await kit.gateway.press(press(f"discard:{job.id}", message_id=sent.message_id))
    await kit.drain()
    assert kit.ledger.require(job.id).review == "pending"  # only asked
    confirm = kit.gateway.messages()[-1]
    assert confirm.text.startswith(f"Discard #{job.id}'s changes for good?")
    assert data(confirm) == [f"discard-sure:{job.id}"]

    await kit.gateway.press(press(f"discard-sure:{job.id}", message_id=confirm.message_id))
    await kit.drain()
    assert kit.ledger.require(job.id).review == "discarded"
    assert not Path(job.worktree or "").exists()
    assert git(repo, "branch", "--list", f"flowtui/job-{job.id}") == ""
    assert (repo / "shared.txt").read_text() == "original\n"
    await kit.gateway.press(press(f"keep:{job.id}", message_id=sent.message_id))
    assert kit.gateway.answers()[-1] == f"#{job.id}'s changes were discarded already: this button is stale"


async def test_a_refused_keep_says_why_and_a_stranger_s_press_does_nothing(kit: BotKit, repo: Path) -> None:
    job = run_job(kit, repo, {"shared.txt": "from the job\n"})
    sent = await announced(kit, job)
    await kit.gateway.press(press(f"keep:{job.id}", from_id=STRANGER, message_id=sent.message_id))
    assert kit.ledger.require(job.id).review == "pending" and kit.gateway.answers() == []

    (repo / "shared.txt").write_text("the user's own edit\n")
    git(repo, "commit", "-qam", "meanwhile")
    await kit.gateway.press(press(f"keep:{job.id}", message_id=sent.message_id))
    await kit.drain()
    refusal = f"job #{job.id} not kept: keeping would conflict in shared.txt"
    assert kit.gateway.answers()[-1].startswith(refusal)
    assert kit.gateway.messages()[-1].text.startswith(refusal)
    assert kit.ledger.require(job.id).review == "pending" and kit.gateway.edits() == []


async def test_many_changed_files_are_cut_after_ten_and_a_plain_job_has_no_review_buttons(
    kit: BotKit, repo: Path
) -> None:
    many = {f"file{number:02}.txt": "x\n" for number in range(CHANGES_SHOWN + 4)}
    job = run_job(kit, repo, many, workflow="default")
    sent = await announced(kit, job)
    lines = sent.text.splitlines()
    assert f"changes: 14 files changed (+14 -0): /diff {job.id}" in lines
    assert "  +1 -0  file09.txt" in lines and "  +1 -0  file10.txt" not in lines
    assert "  … and 4 more" in lines
    assert sent.buttons == ["Retry", "Follow up"]  # its changes are in the repository already
    await kit.gateway.press(press(f"keep:{job.id}", message_id=sent.message_id))
    assert kit.gateway.answers()[-1] == f"#{job.id} has no changes to review: this button is stale"


async def test_diff_is_a_code_block_when_short_and_a_file_when_long(kit: BotKit, repo: Path) -> None:
    short = run_job(kit, repo, {"shared.txt": "changed\n"})
    await kit.gateway.deliver(message(f"/diff {short.id}"))
    await kit.drain()
    code = kit.gateway.messages()[-1]
    assert code.kind == "code" and code.language == "diff" and code.chat_id == CHAT
    caption, _, body = code.text.partition("\n")
    assert caption == f"#{short.id} diff: 1 file changed (+1 -1)"
    assert body == kit.control.diff(short.id).rstrip("\n") and "-original\n+changed" in body

    long = run_job(kit, repo, {"big.txt": "".join(f"line {n}\n" for n in range(2000))})
    await kit.gateway.deliver(message(f"/diff {long.id}"))
    await kit.drain()
    document = kit.gateway.messages()[-1]
    assert document.kind == "document" and document.file_name == f"job-{long.id}.diff"
    assert document.text == f"#{long.id} diff: 1 file changed (+2000 -0)"
    assert document.data == kit.control.diff(long.id).encode()
    assert utf16_len(kit.control.diff(long.id)) > MESSAGE_LIMIT

    await kit.gateway.deliver(message("/diff 999"))
    await kit.gateway.deliver(message("/diff"))
    await kit.drain()
    assert [sent.text for sent in kit.gateway.messages()[-2:]] == [
        "no job #999: /jobs lists the latest ids",
        "usage: /diff ID (the number /jobs shows)",
    ]


async def test_diff_of_a_job_that_changed_nothing_or_ran_outside_git(
    kit: BotKit, repo: Path, tmp_path: Path
) -> None:
    unchanged = run_job(kit, repo, {}, workflow="default")
    outside = tmp_path / "plain"
    outside.mkdir()
    plain = kit.finish(kit.control.add("look around", cwd=outside).id)
    for job in (unchanged, plain):
        await kit.gateway.deliver(message(f"/diff {job.id}"))
    await kit.drain()
    nothing, no_git = [sent.text for sent in kit.gateway.messages()[-2:]]
    assert nothing == f"#{unchanged.id} changed nothing"
    assert no_git.startswith(f"job #{plain.id} ran outside git, so it has no diff")
