"""Retry and cancel by filter: the door's one bulk operation on a real ledger and queue, the
CLI's flags and their one-line errors, and Telegram's `/retry failed` through the gateway seam."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import home_paths, settings_from
from fakeclaude import ok_script
from telegramkit import CHAT, BotKit, bot_kit, started

from core.clock import Clock
from core.errors import InputError
from core.jobs import Job, JobSource, JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob
from core.ops.bulk import BulkVerb, JobSelection
from core.ops.control import Control
from core.queue.transport import JobQueue
from core.wake.changes import Change

CONFIG = """
[workflows.nightly]
retries = 0
"""
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Door:
    control: Control
    ledger: Ledger
    hands: list[datetime]
    cwd: Path
    changes: list[Change] = field(default_factory=list)

    def job(
        self,
        state: JobState,
        workflow: str = "default",
        source: JobSource = JobSource.CLI,
        cwd: Path | None = None,
    ) -> Job:
        """A job brought to ``state`` as the engine would record it."""
        waits = state is JobState.AWAITING_APPROVAL
        new = NewJob("fix it", workflow, str(source), str(cwd or self.cwd), 1, awaiting_approval=waits)
        job = self.ledger.create(new, "added by test")
        if state in (JobState.QUEUED, JobState.AWAITING_APPROVAL):
            return job
        if state is JobState.CANCELLED:
            assert self.ledger.cancel_queued(job.id, "not wanted")
            return self.ledger.require(job.id)
        assert self.ledger.claim(job.id, owner_pid=1) is not None
        if state is JobState.RUNNING:
            return self.ledger.require(job.id)
        error = "API Error: 529 overloaded" if state is JobState.FAILED else None
        return self.ledger.finish(job.id, RunOutcome(state, error=error))


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    hands = [START]
    ledger = Ledger(paths.ledger_db, clock=Clock(lambda: hands[0], UTC))
    changes: list[Change] = []
    control = Control(settings_from(CONFIG), ledger, JobQueue(paths.queue_db), changes.append, paths=paths)
    try:
        yield Door(control, ledger, hands, tmp_path, changes)
    finally:
        ledger.close()


def test_retry_by_state_queues_each_failed_job_once_and_says_so(door: Door) -> None:
    first = door.job(JobState.FAILED)
    door.job(JobState.SUCCEEDED)
    second = door.job(JobState.FAILED, workflow="nightly")
    door.job(JobState.QUEUED)
    report = door.control.bulk(BulkVerb.RETRY, JobSelection(states=frozenset({JobState.FAILED})))
    assert [line.job_id for line in report.lines] == [first.id, second.id]  # oldest first
    retries = report.new_jobs
    assert [line.text for line in report.lines] == [
        f"queued #{retries[0].id} (retry of #{first.id})",
        f"queued #{retries[1].id} (retry of #{second.id})",
    ]
    assert report.summary() == "retried 2 jobs"
    for original, retry in zip((first, second), retries, strict=True):
        stored = door.ledger.require(retry.id)
        assert (stored.parent_id, stored.source, stored.state) == (original.id, "retry", JobState.QUEUED)
        assert (stored.prompt, stored.workflow) == (original.prompt, original.workflow)
    assert door.changes.count(Change.JOBS) == 2
    # Run again: the failed jobs were retried already, so nothing is queued twice.
    again = door.control.bulk(BulkVerb.RETRY, JobSelection(states=frozenset({JobState.FAILED})))
    assert again.lines == [] and again.summary() == "retried 0 jobs"
    assert len(door.ledger.list_jobs(states=[JobState.QUEUED])) == 3


def test_retry_picks_failed_jobs_by_default_and_every_filter_narrows(door: Door) -> None:
    old_watch = door.job(JobState.FAILED, source=JobSource.WATCH)
    door.hands[0] += timedelta(hours=20)
    nightly = door.job(JobState.FAILED, workflow="nightly", source=JobSource.SCHEDULE)
    cancelled = door.job(JobState.CANCELLED, workflow="nightly")
    watch = door.job(JobState.FAILED, source=JobSource.WATCH)
    door.job(JobState.SUCCEEDED, workflow="nightly")
    control = door.control
    since_12h = door.hands[0] - timedelta(hours=12)

    def picked(selection: JobSelection) -> list[int]:
        return [job.id for job in control.matching(BulkVerb.RETRY, selection)]

    assert picked(JobSelection(workflow="nightly")) == [nightly.id]  # failed only, unless told
    both = frozenset({JobState.FAILED, JobState.CANCELLED})
    assert picked(JobSelection(workflow="nightly", states=both)) == [nightly.id, cancelled.id]
    assert picked(JobSelection(source="watch")) == [old_watch.id, watch.id]
    assert picked(JobSelection(source="watch", since=since_12h)) == [watch.id]
    assert picked(JobSelection(since=since_12h)) == [nightly.id, watch.id]
    assert picked(JobSelection(job_ids=frozenset({old_watch.id, cancelled.id}))) == [old_watch.id]


def test_cancel_by_filter_cancels_waiting_jobs_and_asks_running_ones_to_end(door: Door) -> None:
    queued = door.job(JobState.QUEUED)
    waiting = door.job(JobState.AWAITING_APPROVAL)
    running = door.job(JobState.RUNNING)
    door.job(JobState.FAILED)
    other = door.job(JobState.QUEUED, workflow="nightly")
    report = door.control.bulk(BulkVerb.CANCEL, JobSelection(workflow="default"), "cancelled by test")
    assert [line.text for line in report.lines] == [
        f"cancelled #{queued.id}",
        f"cancelled #{waiting.id}",
        f"cancelling #{running.id}: the engine is ending its claude process group",
    ]
    assert report.summary() == "cancelled 3 jobs (1 being ended)"
    assert door.ledger.require(queued.id).state is JobState.CANCELLED
    assert door.ledger.require(waiting.id).state is JobState.CANCELLED
    assert door.ledger.require(running.id).cancel_requested
    assert door.ledger.require(other.id).state is JobState.QUEUED
    assert Change.CANCEL in door.changes and Change.JOBS in door.changes
    assert "cancelled by test" in [event.reason for event in door.ledger.events(queued.id)]


def test_a_job_that_cannot_be_retried_is_its_own_line_and_the_rest_go_on(door: Door, tmp_path: Path) -> None:
    gone_dir = tmp_path / "gone"
    gone_dir.mkdir()
    gone = door.job(JobState.FAILED, cwd=gone_dir)
    gone_dir.rmdir()
    fine = door.job(JobState.FAILED)
    report = door.control.bulk(BulkVerb.RETRY, JobSelection(states=frozenset({JobState.FAILED})))
    assert [line.done for line in report.lines] == [False, True]
    assert report.lines[0].text == (
        f"#{gone.id} left as it was: job #{gone.id}'s working directory {gone_dir} is gone: recreate it"
    )
    assert report.lines[1].new_job is not None and report.lines[1].new_job.parent_id == fine.id
    assert report.summary() == "retried 1 job; 1 left as they were"


def test_an_empty_filter_or_a_state_the_verb_cannot_act_on_is_one_line(door: Door) -> None:
    with pytest.raises(InputError) as empty:
        door.control.bulk(BulkVerb.RETRY, JobSelection())
    assert str(empty.value) == (
        "retry: give a job id, or filters (state, workflow, source, since) to retry every job they match"
    )
    with pytest.raises(InputError) as queued:
        door.control.bulk(BulkVerb.RETRY, JobSelection(states=frozenset({JobState.QUEUED, JobState.FAILED})))
    assert str(queued.value) == "cannot retry queued jobs: retry acts on cancelled, failed, succeeded jobs"
    with pytest.raises(InputError) as failed:
        door.control.bulk(BulkVerb.CANCEL, JobSelection(states=frozenset({JobState.FAILED})))
    assert (
        str(failed.value)
        == "cannot cancel failed jobs: cancel acts on awaiting_approval, queued, running jobs"
    )


# -- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    return Flowtui(home, ok_script(tmp_path / "claude"))


def seeded(flowtui: Flowtui, cwd: Path) -> list[Job]:
    """Two failed jobs (one nightly), a succeeded one and a queued one, in the home's ledger."""
    ledger = Ledger(flowtui.home / "ledger.db")
    made = []
    try:
        for workflow, state in (
            ("default", JobState.FAILED),
            ("nightly", JobState.FAILED),
            ("default", JobState.SUCCEEDED),
        ):
            job = ledger.create(NewJob("p", workflow, "cli", str(cwd), 1), "added by test")
            ledger.claim(job.id, owner_pid=1)
            made.append(
                ledger.finish(job.id, RunOutcome(state, error="boom" if state is JobState.FAILED else None))
            )
        made.append(ledger.create(NewJob("waits", "default", "cli", str(cwd), 1), "added by test"))
    finally:
        ledger.close()
    return made


def test_cli_retry_and_cancel_by_filter_print_a_line_per_job_and_the_count(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    failed, nightly, _done, waiting = seeded(flowtui, tmp_path)
    assert flowtui.ok("retry", "--state", "failed", "--since", "1h") == (
        f"queued #5 (retry of #{failed.id})\nqueued #6 (retry of #{nightly.id})\nretried 2 jobs\n"
    )
    assert flowtui.ok("retry", "--state", "failed") == "retried 0 jobs\n"  # retried already
    assert flowtui.ok("cancel", "--workflow", "nightly") == "cancelled #6\ncancelled 1 job\n"
    assert flowtui.ok("cancel", "--source", "retry", "--state", "queued") == "cancelled #5\ncancelled 1 job\n"
    assert flowtui.ok("cancel", "--state", "queued") == f"cancelled #{waiting.id}\ncancelled 1 job\n"
    states = {job["id"]: job["state"] for job in json.loads(flowtui.ok("jobs", "--json"))}
    assert states == {
        1: "failed",
        2: "failed",
        3: "succeeded",
        4: "cancelled",
        5: "cancelled",
        6: "cancelled",
    }
    # An id still works as before: the new id alone on stdout.
    assert flowtui.ok("retry", "3") == "7\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("retry", "--since", "5x"),
            " retry: Invalid value for '--since': bad duration '5x': "
            "use a number and a unit (s, m, h, d or w), as 30m, 12h or 7d",
        ),
        (
            ("cancel", "1", "--state", "queued"),
            "flowtui: give a job id or filters (--state, --workflow, --source, --since), not both",
        ),
        (
            ("retry",),
            "flowtui: retry: give a job id, or filters (state, workflow, source, since) "
            "to retry every job they match",
        ),
        (
            ("cancel", "--state", "succeeded"),
            "flowtui: cannot cancel succeeded jobs: cancel acts on awaiting_approval, queued, running jobs",
        ),
    ],
)
def test_cli_bad_filters_are_one_line_with_exit_2(
    flowtui: Flowtui, tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    seeded(flowtui, tmp_path)
    done = flowtui.run(*args)
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (2, "", 1)
    assert done.stderr.endswith(line + "\n"), done.stderr  # the command's name comes first


# -- Telegram -----------------------------------------------------------------------------


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[BotKit]:
    with bot_kit(tmp_path / "home") as made:
        yield await started(made)


async def test_telegram_retry_failed_retries_every_failed_job_and_replies_with_the_count(kit: BotKit) -> None:
    await kit.say("/retry failed")
    assert await kit.drain() == ["no failed jobs to retry"]
    for text in ("one", "two", "three"):
        await kit.say(text)
    first, second, third = sorted(kit.ledger.list_jobs(), key=lambda job: job.id)
    kit.finish(first.id, JobState.FAILED, error="API Error: 529")
    kit.finish(second.id, JobState.SUCCEEDED)
    kit.finish(third.id, JobState.FAILED, error="API Error: 529")
    await kit.drain()
    await kit.say("/retry failed")
    retries = [job for job in kit.ledger.list_jobs() if job.source == "retry"]
    assert sorted(job.parent_id or 0 for job in retries) == [first.id, third.id]
    new_ids = sorted(job.id for job in retries)
    assert await kit.drain() == [f"retried 2 jobs: queued #{new_ids[0]}, #{new_ids[1]}"]
    for job_id in new_ids:  # each retry reports to the chat that asked
        origin = kit.store.origin(job_id)
        assert origin is not None and origin[0] == CHAT
    await kit.say("/retry FAILED")
    assert await kit.drain() == ["no failed jobs to retry"]  # each was retried already
