"""One contract, two ledgers: every test runs against SQLite and against a real redis-server."""

from __future__ import annotations

import dataclasses
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.clock import SYSTEM_CLOCK, Clock, parse_time, to_iso
from core.config.settings import QUEUE_ENV, Settings
from core.errors import ConfigError
from core.jobs import Job, JobState, RunOutcome, Workspace
from core.ledger.redis import RedisLedger
from core.ledger.sqlite import Ledger, LedgerError, NewJob, lease_deadline
from core.ledger.stats import StatsRow
from core.ledger.store import LedgerStore, open_ledger
from core.paths import Paths

OpenStore = Callable[[], LedgerStore]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens another handle on one fresh ledger (a new connection each time)."""
    opened: list[LedgerStore] = []
    if request.param == "sqlite":
        db = tmp_path / "ledger.db"

        def make() -> LedgerStore:
            return Ledger(db)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

        def make() -> LedgerStore:
            return RedisLedger(url, prefix=prefix)

    def tracked() -> LedgerStore:
        store = make()
        opened.append(store)
        return store

    yield tracked
    for store in opened:
        store.close()


@pytest.fixture
def ledger(open_store: OpenStore) -> LedgerStore:
    return open_store()


def add(
    ledger: LedgerStore,
    prompt: str = "p",
    workflow: str = "default",
    source: str = "cli",
    max_attempts: int = 2,
    **extra: object,
) -> Job:
    new = NewJob(prompt, workflow, source, "/work", max_attempts, **extra)  # type: ignore[arg-type]
    return ledger.create(new, "added by test")


def history(ledger: LedgerStore, job_id: int) -> list[tuple[str, str]]:
    return [(event.state, event.reason) for event in ledger.events(job_id)]


def ids(found: list[Job]) -> list[int]:
    return [job.id for job in found]


def claimed(ledger: LedgerStore, job_id: int, pid: int = 1, host: str = "here", lease: float = 30.0) -> Job:
    job = ledger.claim(job_id, pid, host, lease)
    assert job is not None
    return job


# -- the interface itself ---------------------------------------------------------


def test_the_interface_is_exactly_the_sqlite_ledgers_public_methods() -> None:
    def public(kind: type) -> set[str]:
        return {name for name, value in vars(kind).items() if callable(value) and not name.startswith("_")}

    assert public(LedgerStore) == public(Ledger)
    assert public(LedgerStore) <= public(RedisLedger)


def test_both_implementations_satisfy_the_protocol(ledger: LedgerStore) -> None:
    assert isinstance(ledger, LedgerStore)


def test_open_ledger_picks_sqlite_by_default_and_redis_from_the_env_or_config(
    tmp_path: Path, redis_url: str
) -> None:
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path)
    sqlite = open_ledger(Settings(), paths, environ={})
    assert isinstance(sqlite, Ledger) and sqlite.path == paths.ledger_db
    sqlite.close()
    from_env = open_ledger(Settings(), paths, environ={QUEUE_ENV: redis_url})
    assert isinstance(from_env, RedisLedger) and from_env.url == redis_url
    from_env.close()
    configured = SimpleNamespace(ledger=Settings().ledger, queue=SimpleNamespace(backend=redis_url))
    from_config = open_ledger(configured, paths, environ={})  # type: ignore[arg-type]
    assert isinstance(from_config, RedisLedger)
    from_config.close()
    overridden = open_ledger(configured, paths, environ={QUEUE_ENV: "sqlite"})  # type: ignore[arg-type]
    assert isinstance(overridden, Ledger)
    overridden.close()
    with pytest.raises(ConfigError, match=r"postgres://x.*not understood"):
        open_ledger(Settings(), paths, environ={QUEUE_ENV: "postgres://x"})


# -- creating and reading ---------------------------------------------------------


def test_create_keeps_every_field_and_numbers_jobs_from_one(ledger: LedgerStore) -> None:
    first = add(ledger, "first")
    second = add(
        ledger,
        "second",
        workflow="review",
        source="watch",
        max_attempts=3,
        priority=7,
        parent_id=first.id,
        trigger="src/a.py",
        resume_session_id="sess-1",
        awaiting_approval=True,
    )
    assert (first.id, second.id) == (1, 2)
    assert first.state is JobState.QUEUED and second.state is JobState.AWAITING_APPROVAL
    assert (second.workflow, second.source, second.cwd, second.max_attempts, second.priority) == (
        "review",
        "watch",
        "/work",
        3,
        7,
    )
    assert (second.parent_id, second.trigger, second.resume_session_id) == (1, "src/a.py", "sess-1")
    assert second.attempts == 0 and second.cancel_requested is False
    assert ISO_UTC.match(second.created_at)
    blank = {
        "started_at",
        "finished_at",
        "run_after",
        "exit_code",
        "error",
        "cost_usd",
        "answer",
        "owner_pid",
        "owner_host",
        "lease_until",
        "claude_pid",
        "claude_started",
        "transcript_path",
        "session_id",
    }
    assert all(getattr(first, name) is None for name in blank)
    assert ledger.get(2) == second and ledger.require(1) == first
    assert history(ledger, 2) == [("awaiting_approval", "added by test")]


def test_a_missing_job_is_none_or_a_clear_error(ledger: LedgerStore) -> None:
    assert ledger.get(41) is None
    assert ledger.events(41) == []
    with pytest.raises(LedgerError, match="no job #41"):
        ledger.require(41)
    with pytest.raises(LedgerError):
        ledger.finish(41, RunOutcome(JobState.SUCCEEDED))
    with pytest.raises(LedgerError):
        ledger.requeue(41, "again", None)
    assert ledger.claim(41, 1) is None
    assert not ledger.approve(41, "x") and not ledger.cancel_queued(41, "x")
    assert not ledger.request_cancel(41, "x") and not ledger.defer(41, SYSTEM_CLOCK.iso(), "x")
    assert ledger.rewrite_waiting(41, "p", None, "x") is None


def test_listing_is_newest_first_with_state_filters_and_limits(ledger: LedgerStore) -> None:
    jobs = [add(ledger, f"job {n}") for n in range(1, 6)]
    claimed(ledger, jobs[1].id)
    ledger.cancel_queued(jobs[2].id, "not needed")
    assert ids(ledger.list_jobs()) == [5, 4, 3, 2, 1]
    assert ids(ledger.list_jobs(limit=2)) == [5, 4]
    assert ids(ledger.list_jobs(limit=0)) == []
    assert ids(ledger.list_jobs(states=[JobState.QUEUED])) == [5, 4, 1]
    assert ids(ledger.list_jobs(states=[JobState.RUNNING, JobState.CANCELLED])) == [3, 2]
    assert ids(ledger.list_jobs(states=[JobState.QUEUED, JobState.CANCELLED], limit=3)) == [5, 4, 3]
    assert ids(ledger.list_jobs(states=[JobState.FAILED])) == []
    assert ids(ledger.orphans()) == [2]
    assert ledger.counts() == {
        JobState.AWAITING_APPROVAL: 0,
        JobState.QUEUED: 3,
        JobState.RUNNING: 1,
        JobState.SUCCEEDED: 0,
        JobState.FAILED: 0,
        JobState.CANCELLED: 1,
    }


def test_queued_runs_by_priority_then_age(ledger: LedgerStore) -> None:
    add(ledger, "low", priority=-1)
    add(ledger, "normal")
    add(ledger, "urgent old", priority=5)
    add(ledger, "urgent new", priority=5)
    add(ledger, "waiting", awaiting_approval=True)
    assert [job.prompt for job in ledger.queued()] == ["urgent old", "urgent new", "normal", "low"]


def test_search_matches_prompt_answer_error_and_trigger_like_sqlite_like(ledger: LedgerStore) -> None:
    by_prompt = add(ledger, "Fix the README")
    by_answer = add(ledger, "docs")
    claimed(ledger, by_answer.id)
    ledger.finish(by_answer.id, RunOutcome(JobState.SUCCEEDED, answer="updated readme.md"))
    by_error = add(ledger, "load")
    claimed(ledger, by_error.id)
    ledger.finish(by_error.id, RunOutcome(JobState.FAILED, error="disk 100% full"))
    by_trigger = add(ledger, "watch", trigger="notes/todo_list.md")
    accented = add(ledger, "Ärger im Büro")
    assert ids(ledger.search("readme")) == [by_answer.id, by_prompt.id]
    assert ids(ledger.search("README", limit=1)) == [by_answer.id]
    assert ids(ledger.search("100%")) == [by_error.id]
    assert ids(ledger.search("%")) == [by_error.id]  # a literal %, not a wildcard
    assert ids(ledger.search("_list")) == [by_trigger.id]
    assert ids(ledger.search("ärger")) == []  # LIKE folds ASCII letters only
    assert ids(ledger.search("Ärger")) == [accented.id]
    assert ids(ledger.search("no such text")) == []
    assert len(ledger.search("")) == 5


# -- running, finishing, retrying ------------------------------------------------------


def test_every_state_change_is_an_event_with_a_reason(ledger: LedgerStore) -> None:
    job = add(ledger)
    assert ledger.claim(job.id, owner_pid=1) is not None
    assert ledger.claim(job.id, owner_pid=1) is None  # a duplicate queue entry cannot run it twice
    ledger.requeue(job.id, "try again", None)
    ledger.claim(job.id, owner_pid=1)
    ledger.note(job.id, "a stray line skipped")
    done = ledger.finish(job.id, RunOutcome(JobState.FAILED, error="boom", exit_code=1))
    assert (done.state, done.attempts, done.error, done.exit_code) == (JobState.FAILED, 2, "boom", 1)
    assert history(ledger, job.id) == [
        ("queued", "added by test"),
        ("running", "attempt 1 of 2 started"),
        ("queued", "try again"),
        ("running", "attempt 2 of 2 started"),
        ("running", "a stray line skipped"),
        ("failed", "boom"),
    ]
    events = ledger.events(job.id)
    assert all(ISO_UTC.match(event.at) and event.job_id == job.id for event in events)
    assert [event.id for event in events] == sorted({event.id for event in events})


def test_claim_takes_a_lease_and_only_from_queued(ledger: LedgerStore) -> None:
    job = add(ledger)
    waiting = add(ledger, awaiting_approval=True)
    before = datetime.now(UTC)
    running = ledger.claim(job.id, 4242, "box-a", lease_seconds=60)
    assert running is not None
    assert (running.state, running.attempts, running.owner_pid, running.owner_host) == (
        JobState.RUNNING,
        1,
        4242,
        "box-a",
    )
    assert running.started_at is not None and ISO_UTC.match(running.started_at)
    assert running.lease_until is not None
    assert 55 <= (parse_time(running.lease_until) - before).total_seconds() <= 65
    assert ledger.claim(job.id, 1) is None
    assert ledger.claim(waiting.id, 1) is None
    default_host = ledger.claim(add(ledger).id, 7)
    assert default_host is not None and default_host.owner_host == ""


def test_record_process_keeps_the_cli_process_exactly(ledger: LedgerStore) -> None:
    job = add(ledger)
    claimed(ledger, job.id)
    ledger.record_process(job.id, 99, 1765432101.123456, "/t/job-1-attempt-1.jsonl")
    running = ledger.require(job.id)
    assert (running.claude_pid, running.claude_started, running.transcript_path) == (
        99,
        1765432101.123456,
        "/t/job-1-attempt-1.jsonl",
    )
    assert history(ledger, job.id)[-1] == ("running", "claude started (pid 99)")
    again = ledger.requeue(job.id, "retry", None)
    assert (again.claude_pid, again.claude_started, again.transcript_path) == (
        None,
        None,
        "/t/job-1-attempt-1.jsonl",
    )


def test_finish_records_the_run_and_releases_the_job(ledger: LedgerStore) -> None:
    job = add(ledger)
    claimed(ledger, job.id)
    ledger.record_process(job.id, 5, 1.0, "/t")
    done = ledger.finish(
        job.id,
        RunOutcome(
            JobState.SUCCEEDED,
            exit_code=0,
            cost_usd=0.0123,
            input_tokens=100,
            output_tokens=20,
            turns=3,
            session_id="s-1",
            answer="all done",
        ),
    )
    assert (done.state, done.exit_code, done.cost_usd, done.answer, done.error) == (
        JobState.SUCCEEDED,
        0,
        0.0123,
        "all done",
        None,
    )
    assert (done.input_tokens, done.output_tokens, done.turns, done.session_id) == (100, 20, 3, "s-1")
    assert done.finished_at is not None and ISO_UTC.match(done.finished_at)
    released = (done.owner_pid, done.owner_host, done.lease_until, done.claude_pid, done.claude_started)
    assert released == (None, None, None, None, None) and done.cancel_requested is False
    assert ledger.get(job.id) == done
    assert history(ledger, job.id)[-1] == ("succeeded", "done")
    cancelled = add(ledger)
    claimed(ledger, cancelled.id)
    ledger.finish(cancelled.id, RunOutcome(JobState.CANCELLED))
    assert history(ledger, cancelled.id)[-1] == ("cancelled", "cancelled")


def test_requeue_refunds_an_attempt_and_keeps_what_the_attempt_reported(ledger: LedgerStore) -> None:
    job = add(ledger)
    claimed(ledger, job.id)
    later = to_iso(datetime.now(UTC) + timedelta(hours=1))
    paused = ledger.requeue(job.id, "usage limit: waits", later, refund_attempt=True)
    assert (paused.state, paused.attempts, paused.run_after) == (JobState.QUEUED, 0, later)
    assert (paused.owner_pid, paused.owner_host, paused.lease_until) == (None, None, None)
    claimed(ledger, job.id)
    outcome = RunOutcome(JobState.FAILED, error="flaky", cost_usd=0.01, session_id="s-0")
    retried = ledger.requeue(job.id, "retry in 5 s", None, outcome=outcome)
    assert (retried.attempts, retried.error, retried.session_id, retried.cost_usd) == (
        1,
        "flaky",
        "s-0",
        0.01,
    )
    again = claimed(ledger, job.id)
    assert (again.attempts, again.run_after) == (2, None)
    done = ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, cost_usd=0.02, answer="ok"))
    # coalesced: the session survives an attempt that reported none; error and answer do not
    assert (done.session_id, done.error, done.answer) == ("s-0", None, "ok")
    assert done.cost_usd == 0.01 + 0.02  # the same double on both backends
    costs = [(event.state, event.cost_usd) for event in ledger.events(job.id)]
    assert costs == [
        ("queued", None),
        ("running", None),
        ("queued", None),
        ("running", None),
        ("queued", 0.01),
        ("running", None),
        ("succeeded", 0.02),
    ]


def test_spent_since_counts_every_attempt_per_workflow(ledger: LedgerStore) -> None:
    start = SYSTEM_CLOCK.iso()
    pricey = add(ledger, workflow="pricey")
    claimed(ledger, pricey.id)
    ledger.requeue(pricey.id, "retry", None, outcome=RunOutcome(JobState.FAILED, cost_usd=0.25))
    claimed(ledger, pricey.id)
    ledger.finish(pricey.id, RunOutcome(JobState.SUCCEEDED, cost_usd=0.5))
    cheap = add(ledger, workflow="cheap")
    claimed(ledger, cheap.id)
    ledger.finish(cheap.id, RunOutcome(JobState.FAILED, cost_usd=0.125))
    free = add(ledger, workflow="cheap")
    claimed(ledger, free.id)
    ledger.finish(free.id, RunOutcome(JobState.SUCCEEDED))  # no cost reported
    assert ledger.spent_since(start) == 0.875
    assert ledger.spent_since(start, workflow="pricey") == 0.75
    assert ledger.spent_since(start, workflow="cheap") == 0.125
    assert ledger.spent_since(start, workflow="other") == 0.0
    assert ledger.spent_since(to_iso(datetime.now(UTC) + timedelta(minutes=1))) == 0.0


def test_stats_per_day_workflow_and_source(ledger: LedgerStore) -> None:
    pricey = add(ledger, workflow="pricey", source="cli")
    claimed(ledger, pricey.id)
    ledger.requeue(pricey.id, "retry", None, outcome=RunOutcome(JobState.FAILED, cost_usd=0.01))
    claimed(ledger, pricey.id)
    ledger.finish(
        pricey.id, RunOutcome(JobState.SUCCEEDED, cost_usd=0.02, input_tokens=100, output_tokens=10)
    )
    failed = add(ledger, workflow="cheap", source="watch")
    claimed(ledger, failed.id)
    ledger.finish(failed.id, RunOutcome(JobState.FAILED, cost_usd=0.005, input_tokens=5, output_tokens=1))
    dropped = add(ledger, workflow="cheap", source="telegram")
    ledger.cancel_queued(dropped.id, "not wanted")
    add(ledger, workflow="cheap", source="schedule")  # still queued: not in the stats
    stats = ledger.stats(1)

    def rows(found: list[StatsRow]) -> list[tuple[object, ...]]:
        return [
            (
                row.key,
                row.jobs,
                row.succeeded,
                row.failed,
                round(row.cost_usd, 9),
                row.input_tokens,
                row.output_tokens,
            )
            for row in found
        ]

    today = datetime.now().astimezone().date().isoformat()
    assert rows(stats.days) == [(today, 3, 1, 1, 0.035, 105, 11)]
    assert rows(stats.workflows) == [
        ("cheap", 2, 0, 1, 0.005, 5, 1),
        ("pricey", 1, 1, 0, 0.03, 100, 10),
    ]
    assert rows(stats.sources) == [
        ("cli", 1, 1, 0, 0.03, 100, 10),
        ("telegram", 1, 0, 0, 0.0, 0, 0),
        ("watch", 1, 0, 1, 0.005, 5, 1),
    ]
    assert ledger.stats(7).days == stats.days


# -- approval, cancelling, deferring, rewriting ------------------------------------------


def test_approve_only_what_awaits_approval(ledger: LedgerStore) -> None:
    waiting = add(ledger, awaiting_approval=True)
    queued = add(ledger)
    assert ledger.approve(waiting.id, "approved in Telegram")
    assert ledger.require(waiting.id).state is JobState.QUEUED
    assert not ledger.approve(waiting.id, "twice")
    assert not ledger.approve(queued.id, "not waiting")
    assert history(ledger, waiting.id) == [
        ("awaiting_approval", "added by test"),
        ("queued", "approved in Telegram"),
    ]
    assert ledger.counts()[JobState.AWAITING_APPROVAL] == 0


def test_cancel_queued_takes_queued_or_awaiting_jobs_only(ledger: LedgerStore) -> None:
    denied = add(ledger, awaiting_approval=True)
    queued = add(ledger)
    running = add(ledger)
    claimed(ledger, running.id)
    assert ledger.defer(queued.id, to_iso(datetime.now(UTC) + timedelta(hours=2)), "over budget")
    assert ledger.cancel_queued(denied.id, "denied")
    assert ledger.cancel_queued(queued.id, "cancelled by user")
    assert not ledger.cancel_queued(queued.id, "again")
    assert not ledger.cancel_queued(running.id, "running jobs need request_cancel")
    gone = ledger.require(queued.id)
    assert (gone.state, gone.run_after) == (JobState.CANCELLED, None)
    assert gone.finished_at is not None
    assert history(ledger, denied.id)[-1] == ("cancelled", "denied")
    assert ledger.require(running.id).state is JobState.RUNNING
    assert ledger.claim(queued.id, 1) is None


def test_request_cancel_marks_only_running_jobs(ledger: LedgerStore) -> None:
    queued = add(ledger)
    running = add(ledger)
    claimed(ledger, running.id)
    assert not ledger.request_cancel(queued.id, "user")
    assert ledger.cancel_requested_ids() == []
    assert ledger.request_cancel(running.id, "user")
    assert ledger.require(running.id).cancel_requested is True
    assert ledger.cancel_requested_ids() == [running.id]
    assert history(ledger, running.id)[-1] == ("running", "cancel requested: user")
    done = ledger.finish(running.id, RunOutcome(JobState.CANCELLED, error="cancelled by user"))
    assert done.cancel_requested is False and ledger.cancel_requested_ids() == []
    assert not ledger.request_cancel(running.id, "too late")


def test_a_running_job_carries_its_question_until_the_run_ends(ledger: LedgerStore) -> None:
    queued = add(ledger)
    assert not ledger.set_waiting(queued.id, '{"tool": "Bash"}', "asks")
    assert ledger.require(queued.id).waiting_for is None
    running = claimed(ledger, add(ledger).id)
    question = '{"kind": "tool", "tool": "Bash", "input": {"command": "touch x"}, "request_id": "r1"}'
    assert ledger.set_waiting(running.id, question, "asks to use Bash: touch x")
    job = ledger.require(running.id)
    assert job.waiting_for == question and job.question is not None and job.question["tool"] == "Bash"
    assert job.to_dict()["waiting_for"]["input"] == {"command": "touch x"}
    assert history(ledger, running.id)[-1] == ("running", "asks to use Bash: touch x")
    assert ledger.set_waiting(running.id, None, None)
    assert ledger.require(running.id).waiting_for is None
    assert history(ledger, running.id)[-1] == ("running", "asks to use Bash: touch x")  # no line for None
    ledger.set_waiting(running.id, question, "asks again")
    requeued = ledger.requeue(running.id, "interrupted", run_after=None)
    assert requeued.waiting_for is None
    again = claimed(ledger, running.id)
    ledger.set_waiting(again.id, question, "asks")
    assert ledger.finish(again.id, RunOutcome(JobState.SUCCEEDED)).waiting_for is None


def test_inputs_are_kept_for_running_jobs_and_taken_once_in_order(ledger: LedgerStore) -> None:
    queued = add(ledger)
    assert not ledger.post_input(queued.id, '{"kind": "message"}', "told")
    running = claimed(ledger, add(ledger).id)
    other = claimed(ledger, add(ledger).id)
    assert ledger.input_job_ids() == set()
    assert ledger.post_input(running.id, "first", "told by me via cli: first")
    assert ledger.post_input(running.id, "second", "allowed Bash (by me via cli)")
    assert ledger.post_input(other.id, "elsewhere", "told")
    assert history(ledger, running.id)[-2:] == [
        ("running", "told by me via cli: first"),
        ("running", "allowed Bash (by me via cli)"),
    ]
    assert ledger.input_job_ids() == {running.id, other.id}
    assert ledger.take_inputs(running.id) == ["first", "second"]
    assert ledger.take_inputs(running.id) == []
    assert ledger.input_job_ids() == {other.id}
    ledger.finish(other.id, RunOutcome(JobState.SUCCEEDED))
    assert ledger.input_job_ids() == set() and ledger.take_inputs(other.id) == []


def test_tools_allowed_always_stay_with_the_job(ledger: LedgerStore) -> None:
    job = add(ledger)
    assert job.always_allowed_tools == [] and job.to_dict()["always_allowed"] == []
    ledger.allow_always(job.id, "Bash")
    ledger.allow_always(job.id, "Bash")
    ledger.allow_always(job.id, "Edit")
    assert ledger.require(job.id).always_allowed_tools == ["Bash", "Edit"]
    claimed(ledger, job.id)
    assert ledger.requeue(job.id, "retry", run_after=None).always_allowed_tools == ["Bash", "Edit"]
    follow = add(ledger, always_allowed=("Bash",))
    assert follow.always_allowed_tools == ["Bash"]


def test_a_job_keeps_where_in_git_it_works_and_what_it_changed(ledger: LedgerStore) -> None:
    plain = add(ledger)
    assert plain.workspace is None and plain.review is None and not plain.changes_to_review
    recorded = ledger.set_workspace(
        plain.id, Workspace("/repo", base_branch="main", base_commit="c0"), "in git"
    )
    assert recorded.workspace == Workspace("/repo", base_branch="main", base_commit="c0")
    assert recorded.review is None and recorded.run_directory == "/work"
    assert not ledger.set_review(plain.id, "kept", "no worktree: nothing to keep")
    ledger.record_trees(plain.id, "t1", None, None)
    ledger.record_trees(plain.id, "t2", "t3", "1 file changed (+1 -0)")
    ledger.record_trees(plain.id, None, "t4", None)
    again = ledger.require(plain.id)
    assert (again.tree_before, again.tree_after) == ("t1", "t4")
    assert history(ledger, plain.id)[-2:] == [("queued", "in git"), ("queued", "1 file changed (+1 -0)")]

    isolated_space = Workspace("/work", "/data/worktrees/job-2", "flowtui/job-2", "main", "c0")
    isolated = add(ledger)
    isolated = ledger.set_workspace(isolated.id, isolated_space, "runs in its worktree")
    assert isolated.review == "pending" and isolated.run_directory == "/data/worktrees/job-2"
    assert not isolated.changes_to_review and not isolated.to_dict()["changes_to_review"]
    claimed(ledger, isolated.id)
    done = ledger.finish(isolated.id, RunOutcome(state=JobState.SUCCEEDED))
    assert done.changes_to_review and done.to_dict()["changes_to_review"] is True
    assert ledger.set_review(isolated.id, "kept", "kept: merged")
    assert not ledger.set_review(isolated.id, "kept", "kept again")
    assert ledger.require(isolated.id).review == "kept"
    assert history(ledger, isolated.id)[-1] == ("succeeded", "kept: merged")
    follow = add(ledger, workspace=isolated_space)
    assert follow.workspace == isolated_space and follow.review == "pending"


def test_defer_only_while_queued(ledger: LedgerStore) -> None:
    job = add(ledger)
    tomorrow = to_iso(datetime.now(UTC) + timedelta(days=1))
    assert ledger.defer(job.id, tomorrow, "waits for tomorrow: over budget")
    deferred = ledger.require(job.id)
    assert (deferred.state, deferred.run_after) == (JobState.QUEUED, tomorrow)
    assert history(ledger, job.id)[-1] == ("queued", "waits for tomorrow: over budget")
    claimed(ledger, job.id)
    assert not ledger.defer(job.id, tomorrow, "running")


def test_rewrite_waiting_only_before_a_worker_takes_it(ledger: LedgerStore) -> None:
    queued = add(ledger, "one change", trigger="a.txt")
    waiting = add(ledger, "needs approval", awaiting_approval=True)
    merged = ledger.rewrite_waiting(queued.id, "two changes", "a.txt, b.txt", "joined a new change")
    assert merged is not None and (merged.prompt, merged.trigger) == ("two changes", "a.txt, b.txt")
    assert history(ledger, queued.id)[-1] == ("queued", "joined a new change")
    cleared = ledger.rewrite_waiting(waiting.id, "new prompt", None, "rewritten")
    assert cleared is not None and (cleared.prompt, cleared.trigger) == ("new prompt", None)
    assert history(ledger, waiting.id)[-1] == ("awaiting_approval", "rewritten")
    claimed(ledger, queued.id)
    assert ledger.rewrite_waiting(queued.id, "too late", None, "x") is None
    assert ledger.require(queued.id).prompt == "two changes"


def test_flags_are_set_replaced_and_removed(ledger: LedgerStore) -> None:
    assert ledger.get_flag("paused") is None
    ledger.set_flag("paused", "user")
    assert ledger.get_flag("paused") == "user"
    ledger.set_flag("paused", "budget")
    ledger.set_flag("theme", "nord")
    assert (ledger.get_flag("paused"), ledger.get_flag("theme")) == ("budget", "nord")
    ledger.set_flag("paused", None)
    ledger.set_flag("never-set", None)
    assert ledger.get_flag("paused") is None and ledger.get_flag("theme") == "nord"


# -- leases and recovery ------------------------------------------------------------------


def test_renew_leases_keeps_only_what_this_worker_still_owns(ledger: LedgerStore) -> None:
    mine = claimed(ledger, add(ledger).id, pid=1, host="a", lease=30)
    other_pid = claimed(ledger, add(ledger).id, pid=2, host="a")
    other_host = claimed(ledger, add(ledger).id, pid=1, host="b")
    queued = add(ledger)
    finished = claimed(ledger, add(ledger).id, pid=1, host="a")
    ledger.finish(finished.id, RunOutcome(JobState.SUCCEEDED))
    before = datetime.now(UTC)
    candidates = [mine.id, other_pid.id, other_host.id, queued.id, finished.id, 999]
    assert ledger.renew_leases(candidates, 1, "a", 120) == {mine.id}
    renewed = ledger.require(mine.id).lease_until
    assert renewed is not None and 115 <= (parse_time(renewed) - before).total_seconds() <= 125
    assert ledger.require(other_pid.id).lease_until == other_pid.lease_until
    assert ledger.renew_leases([], 1, "a", 30) == set()


def test_expired_leases_are_the_running_jobs_past_their_deadline(ledger: LedgerStore) -> None:
    fresh = claimed(ledger, add(ledger).id, lease=60)
    stale = claimed(ledger, add(ledger).id, lease=-1)  # its worker stopped renewing a second ago
    add(ledger)
    done = claimed(ledger, add(ledger).id, lease=-1)
    ledger.finish(done.id, RunOutcome(JobState.SUCCEEDED))
    assert [job.id for job in ledger.expired_leases(SYSTEM_CLOCK.iso())] == [stale.id]
    later = to_iso(datetime.now(UTC) + timedelta(minutes=5))
    assert sorted(job.id for job in ledger.expired_leases(later)) == [fresh.id, stale.id]
    ledger.renew_leases([stale.id], 1, "here", 60)
    assert ledger.expired_leases(SYSTEM_CLOCK.iso()) == []


def test_recover_orphan_requeues_once_then_fails_when_attempts_are_spent(ledger: LedgerStore) -> None:
    job = add(ledger, max_attempts=2)
    seen = claimed(ledger, job.id, pid=10, host="dead-box")
    assert ledger.recover_orphan(seen, "interrupted: dead-box stopped renewing") is JobState.QUEUED
    assert ledger.recover_orphan(seen, "interrupted: seen twice") is None
    requeued = ledger.require(job.id)
    assert (requeued.state, requeued.attempts, requeued.owner_pid, requeued.lease_until) == (
        JobState.QUEUED,
        1,
        None,
        None,
    )
    assert history(ledger, job.id)[-1] == ("queued", "interrupted: dead-box stopped renewing; will run again")
    second = claimed(ledger, job.id, pid=11, host="live-box")
    assert ledger.recover_orphan(seen, "stale view of attempt 1") is None
    stranger = dataclasses.replace(second, owner_pid=12)
    assert ledger.recover_orphan(stranger, "another owner") is None
    assert ledger.require(job.id).state is JobState.RUNNING
    assert ledger.recover_orphan(second, "interrupted") is JobState.FAILED
    failed = ledger.require(job.id)
    assert (failed.state, failed.error) == (JobState.FAILED, "interrupted; all 2 attempts spent")
    assert history(ledger, job.id)[-1] == ("failed", "interrupted; all 2 attempts spent")


def test_recover_orphan_finishes_a_job_whose_cancel_was_requested(ledger: LedgerStore) -> None:
    job = claimed(ledger, add(ledger).id)
    ledger.request_cancel(job.id, "user")
    seen = ledger.require(job.id)
    assert ledger.recover_orphan(seen, "engine restarted") is JobState.CANCELLED
    done = ledger.require(job.id)
    assert (done.state, done.error, done.cancel_requested) == (
        JobState.CANCELLED,
        "cancelled (engine restarted)",
        False,
    )


def test_integrity_is_clean_after_a_busy_life(ledger: LedgerStore) -> None:
    assert ledger.integrity_problems() == []
    for n in range(6):
        job = add(ledger, f"job {n}", awaiting_approval=n == 4)
        if n % 2:
            claimed(ledger, job.id)
    ledger.finish(2, RunOutcome(JobState.SUCCEEDED, cost_usd=0.1))
    ledger.requeue(4, "retry", None)
    ledger.cancel_queued(3, "x")
    ledger.approve(5, "ok")
    ledger.note(6, "still running")
    assert [job.state for job in ledger.list_jobs()] == [
        JobState.RUNNING,
        JobState.QUEUED,
        JobState.QUEUED,
        JobState.CANCELLED,
        JobState.SUCCEEDED,
        JobState.QUEUED,
    ]
    assert ledger.integrity_problems() == []


# -- retention -------------------------------------------------------------------------------


def test_delete_finished_takes_only_old_finished_jobs_that_nothing_still_needs(ledger: LedgerStore) -> None:
    hands = [datetime(2026, 1, 10, 12, tzinfo=UTC)]
    ledger.clock = Clock(lambda: hands[0], UTC)

    def finished(state: JobState = JobState.SUCCEEDED, cost: float | None = 0.5, **extra: object) -> Job:
        job = add(ledger, **extra)
        claimed(ledger, job.id)
        return ledger.finish(
            job.id, RunOutcome(state, cost_usd=cost, error="x" if state is JobState.FAILED else None)
        )

    done = finished()
    failed = finished(JobState.FAILED)
    dropped = add(ledger)
    ledger.cancel_queued(dropped.id, "not wanted")
    to_review = add(ledger)
    ledger.set_workspace(
        to_review.id, Workspace("/repo", "/wt/job-4", "flowtui/job-4", "main", "c0"), "own worktree"
    )
    claimed(ledger, to_review.id)
    ledger.finish(to_review.id, RunOutcome(JobState.SUCCEEDED))
    parent_of_queued = finished(JobState.FAILED)
    parent_of_old = finished(JobState.FAILED)
    old_retry = finished(JobState.FAILED, parent_id=parent_of_old.id)
    grandparent = finished(JobState.FAILED)
    middle = finished(JobState.FAILED, parent_id=grandparent.id)
    running = claimed(ledger, add(ledger).id)
    waiting = add(ledger, awaiting_approval=True)
    hands[0] += timedelta(days=100)
    queued_retry = add(ledger, parent_id=parent_of_queued.id)
    recent_child = finished(JobState.SUCCEEDED, parent_id=middle.id)
    recent = finished()
    before = to_iso(hands[0] - timedelta(days=90))
    gone = [done.id, failed.id, dropped.id, parent_of_old.id, old_retry.id]
    staying = [to_review.id, parent_of_queued.id, grandparent.id, middle.id, running.id, waiting.id]
    staying += [queued_retry.id, recent_child.id, recent.id]
    expected_events = sum(len(ledger.events(job_id)) for job_id in gone)

    preview = ledger.delete_finished(before, dry_run=True)
    assert ids(preview.jobs) == gone
    assert (preview.events, preview.inputs) == (expected_events, 0)
    assert (preview.kept_for_review, preview.kept_as_parent) == (1, 3)
    assert len(ledger.list_jobs()) == len(gone) + len(staying)
    assert all(ledger.events(job_id) for job_id in gone)

    deleted = ledger.delete_finished(before)
    assert ids(deleted.jobs) == gone and deleted.jobs[0] == done
    assert (deleted.events, deleted.kept_for_review, deleted.kept_as_parent) == (expected_events, 1, 3)
    assert sorted(ids(ledger.list_jobs())) == sorted(staying)
    for job_id in gone:
        assert ledger.get(job_id) is None and ledger.events(job_id) == []
    assert ledger.counts()[JobState.CANCELLED] == 0
    assert ledger.integrity_problems() == []
    # The costs of deleted attempts go with them: what stays is the staying jobs' own.
    spent = sum(job.cost_usd or 0 for job in ledger.list_jobs())
    assert round(ledger.spent_since(to_iso(datetime(2025, 1, 1, tzinfo=UTC))), 9) == round(spent, 9)
    assert ids(ledger.delete_finished(before).jobs) == []
    space = ledger.reclaim_space()
    assert space.bytes is None or space.bytes >= 0


# -- races ----------------------------------------------------------------------------------


def race(workers: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` in ``workers`` threads released together; re-raise any failure."""
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures


def test_racing_workers_claim_each_job_exactly_once(open_store: OpenStore) -> None:
    setup = open_store()
    job_ids = [add(setup, f"job {n}").id for n in range(30)]
    stores = [open_store() for _ in range(6)]  # separate connections, as separate processes have
    wins: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        order = list(job_ids)
        random.Random(worker).shuffle(order)
        for job_id in order:
            if stores[worker].claim(job_id, owner_pid=1000 + worker, owner_host=f"box-{worker}"):
                with lock:
                    wins.append((job_id, worker))

    race(len(stores), work)
    assert sorted(job_id for job_id, _ in wins) == job_ids
    for job_id, worker in wins:
        job = setup.require(job_id)
        assert (job.attempts, job.owner_pid, job.owner_host) == (1, 1000 + worker, f"box-{worker}")
        starts = [event for event in setup.events(job_id) if event.reason.startswith("attempt")]
        assert len(starts) == 1
    assert setup.counts()[JobState.RUNNING] == len(job_ids)
    assert setup.integrity_problems() == []


def test_racing_creates_get_distinct_ids(open_store: OpenStore) -> None:
    stores = [open_store() for _ in range(4)]
    made: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for n in range(10):
            job = add(stores[worker], f"{worker}-{n}")
            with lock:
                made.append(job.id)

    race(len(stores), work)
    assert sorted(made) == list(range(1, 41))
    assert Counter(job.state for job in stores[0].list_jobs()) == {JobState.QUEUED: 40}


def test_racing_engines_recover_one_expired_lease_once(
    open_store: OpenStore, request: pytest.FixtureRequest
) -> None:
    shared = open_store()
    stores = [open_store() for _ in range(6)]
    job = claimed(shared, add(shared).id, lease=-1)
    (expired,) = shared.expired_leases(SYSTEM_CLOCK.iso())  # every engine saw the same expired run
    results: list[JobState | None] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        outcome = stores[worker].recover_orphan(expired, f"engine {worker} saw the lease expire")
        with lock:
            results.append(outcome)

    race(len(stores), work)
    assert Counter(results) == {JobState.QUEUED: 1, None: 5}
    recoveries = [reason for _, reason in history(shared, job.id) if reason.endswith("will run again")]
    assert len(recoveries) == 1


# -- Redis only --------------------------------------------------------------------------


@pytest.fixture
def redis_ledger(redis_url: str, redis_prefix: str) -> Iterator[RedisLedger]:
    store = RedisLedger(redis_url, prefix=redis_prefix)
    yield store
    store.close()


def test_a_retried_write_is_applied_once(redis_ledger: RedisLedger) -> None:
    """redis-py resends a command whose reply was lost; the reply token makes that a no-op."""
    job = add(redis_ledger)
    lease = lease_deadline(SYSTEM_CLOCK, 30)
    first = redis_ledger._run(redis_ledger._claim, job.id, 1, "h", lease, token="claim-1")
    again = redis_ledger._run(redis_ledger._claim, job.id, 1, "h", lease, token="claim-1")
    assert first == again and redis_ledger.require(job.id).attempts == 1
    for _ in range(2):
        redis_ledger._run(redis_ledger._requeue, job.id, "", "0", "=0.5", "", "", "retry", token="requeue-1")
    assert redis_ledger.require(job.id).cost_usd == 0.5
    assert len(redis_ledger.events(job.id)) == 3


def test_prefixes_keep_two_ledgers_apart(redis_url: str) -> None:
    one, two = RedisLedger(redis_url, prefix="one:"), RedisLedger(redis_url, prefix="two:")
    try:
        add(one, "in one")
        assert two.list_jobs() == [] and two.get(1) is None
        assert add(two, "in two").id == 1
    finally:
        one.close()
        two.close()


def test_integrity_problems_name_a_broken_index(redis_ledger: RedisLedger, redis_url: str) -> None:
    import redis

    queued = add(redis_ledger)
    done = claimed(redis_ledger, add(redis_ledger).id)
    redis_ledger.finish(done.id, RunOutcome(JobState.SUCCEEDED))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = redis_ledger.prefix
    client.zrem(f"{prefix}state:queued", queued.id)
    client.zrem(f"{prefix}finished", done.id)
    client.zadd(f"{prefix}state:running", {"77": 77})
    client.close()
    finished_at = redis_ledger.require(done.id).finished_at
    assert redis_ledger.integrity_problems() == [
        f"job #{queued.id} is queued but the state index lists it under none",
        f"job #{done.id} finished_at {finished_at} disagrees with the finished index",
        "state index running lists unknown job #77",
    ]


def test_flags_are_listed_by_prefix_taken_literally(ledger: LedgerStore) -> None:
    ledger.set_flag("usage:five_hour", "a")
    ledger.set_flag("usage:seven_day", "b")
    ledger.set_flag("usage", "not under the prefix")
    ledger.set_flag("schedule.paused:[x]*", "c")
    ledger.set_flag("schedule.paused:xy", "d")
    assert ledger.flags_with_prefix("usage:") == {"usage:five_hour": "a", "usage:seven_day": "b"}
    assert ledger.flags_with_prefix("schedule.paused:[x]*") == {"schedule.paused:[x]*": "c"}
    assert ledger.flags_with_prefix("nothing:") == {}
