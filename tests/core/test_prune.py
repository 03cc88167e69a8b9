"""Retention with real parts: jobs run by a real engine in real git (isolated worktrees kept,
discarded and still to review), then pruned through the door after the clock moves on; the
CLI's ``prune``; ``[ledger] keep_days`` checked at load; and the engine's daily prune."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import READ_PROMPT, ok_script, result_line, write_script
from gitkit import git

from core.clock import Clock, to_iso
from core.config.settings import load_settings
from core.engine.engine import LEADER_ONLY_SERVICES, Engine
from core.engine.service import Service
from core.errors import ConfigError
from core.host.retention import LAST_PRUNE_FLAG, RetentionService
from core.host.services import default_services
from core.jobs import Job, JobState, RunOutcome
from core.ledger.notifications import Draft, NotificationStore
from core.ledger.sqlite import Ledger, NewJob
from core.ops.prune import human_bytes

CONFIG = """
[engine]
idle_sweep_seconds = 600

[workflows.isolated]
isolation = "worktree"
retries = 0

[workflows.plain]
retries = 0
"""
START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def make_repo(where: Path) -> Path:
    where.mkdir(parents=True)
    git(where, "init", "-q", "-b", "main")
    (where / "readme.txt").write_text("original\n")
    git(where, "add", ".")
    git(where, "commit", "-q", "-m", "first")
    return where


def shell_claude(path: Path) -> Path:
    """A claude that runs its prompt as shell in its directory and answers."""
    return write_script(
        path, READ_PROMPT + f"sh -c \"$prompt\" >/dev/null 2>&1\necho '{result_line(result='done')}'\n"
    )


@contextmanager
def engine_at(
    home: Path,
    hands: list[datetime],
    claude: Path,
    config: str = CONFIG,
    services: list[Service] | None = None,
) -> Iterator[Engine]:
    paths = home_paths(home)
    paths.ensure_data_dir()
    paths.config_file.write_text(config)
    engine = Engine(
        settings_from(config),
        paths,
        environ={**os.environ, "FLOWTUI_CLAUDE": str(claude)},
        clock=Clock(lambda: hands[0], UTC),
        services=services or [],
    )
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def run(engine: Engine, prompt: str, workflow: str, cwd: Path) -> Job:
    job = engine.control.add(prompt, workflow=workflow, cwd=cwd)
    done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
    assert done.state is JobState.SUCCEEDED, done.error
    return done


def transcripts(home: Path, job_id: int) -> list[Path]:
    return sorted((home / "transcripts").glob(f"job-{job_id}-*"))


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--list", "--format=%(refname:short)").split()


def test_prune_takes_old_finished_jobs_with_all_kept_for_them_and_nothing_unfinished(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    hands = [START]
    with engine_at(home, hands, shell_claude(tmp_path / "claude")) as engine:
        control = engine.control
        plain = run(engine, "printf 'plain\\n' > plain.txt", "plain", repo)
        kept = run(engine, "printf 'kept\\n' > kept.txt", "isolated", repo)
        control.keep(kept.id, by="test")
        discarded = run(engine, "printf 'no\\n' > no.txt", "isolated", repo)
        control.discard(discarded.id, by="test")
        to_review = run(engine, "printf 'later\\n' > later.txt", "isolated", repo)
        control.pause()
        queued = control.add("still to do", workflow="plain", cwd=repo)
        store = NotificationStore(home / "ledger.db")
        store.enqueue([Draft(chat_id=42, text="plain done", kind="job", job_id=plain.id)])
        store.enqueue([Draft(chat_id=42, text="review me", kind="job", job_id=to_review.id)])
        hands[0] += timedelta(days=100)
        recent = control.add("new today", workflow="plain", cwd=repo)
        control.cancel(recent.id)

        gone = [plain.id, kept.id, discarded.id]
        files = [path for job_id in gone for path in transcripts(home, job_id)]
        assert files and all(transcripts(home, job_id) for job_id in gone)
        kept_worktree = Path(kept.worktree or "")
        assert kept_worktree.is_dir() and f"flowtui/job-{kept.id}" in branches(repo)
        worktree_bytes = sum(path.stat().st_size for path in kept_worktree.rglob("*") if path.is_file())
        events = sum(len(engine.ledger.events(job_id)) for job_id in gone)
        before = sorted(job.id for job in engine.ledger.list_jobs())

        preview = control.prune(timedelta(days=90), dry_run=True)
        assert preview.dry_run and preview.jobs == gone
        assert (preview.events, preview.notifications, preview.transcripts) == (events, 1, len(files))
        assert preview.transcript_bytes == sum(path.stat().st_size for path in files)
        assert (preview.worktrees, preview.worktree_bytes) == (1, worktree_bytes)
        assert preview.kept_for_review == 1 and preview.ledger is None
        # A dry run changes nothing at all.
        assert sorted(job.id for job in engine.ledger.list_jobs()) == before
        assert all(path.exists() for path in files) and kept_worktree.is_dir()
        assert len(store.recent()) == 2

        report = control.prune(timedelta(days=90))
        assert report.jobs == gone and not report.dry_run and report.problems == []
        assert (report.events, report.notifications, report.transcripts) == (events, 1, len(files))
        assert (report.worktrees, report.worktree_bytes) == (1, worktree_bytes)
        assert report.ledger is not None and report.ledger.returned_to_disk  # a new file: incremental
        for job_id in gone:
            assert engine.ledger.get(job_id) is None and engine.ledger.events(job_id) == []
            assert transcripts(home, job_id) == []
        assert not kept_worktree.exists()
        assert f"flowtui/job-{kept.id}" not in branches(repo)
        assert str(kept_worktree) not in git(repo, "worktree", "list")
        assert (repo / "kept.txt").read_text() == "kept\n"  # what was kept stays merged
        # Unfinished, to review and recent jobs are all there, with everything of theirs.
        left = {job.id: job for job in engine.ledger.list_jobs()}
        assert sorted(left) == [to_review.id, queued.id, recent.id]
        assert left[to_review.id].changes_to_review and transcripts(home, to_review.id)
        assert Path(to_review.worktree or "").is_dir() and f"flowtui/job-{to_review.id}" in branches(repo)
        assert left[queued.id].state is JobState.QUEUED
        assert [row.job_id for row in store.recent()] == [to_review.id]
        lines = report.lines()
        assert lines[0].startswith(f"removed 3 jobs finished before {report.before_utc}: {events} events")
        assert f"1 worktrees ({human_bytes(worktree_bytes)})" in lines[0]
        assert lines[1].startswith("space reclaimed: ") and "of ledger.db" in lines[1]
        assert any("wait for review" in line for line in lines)
        store.close()

        again = control.prune(timedelta(days=90))
        assert again.jobs == [] and again.kept_for_review == 1


def test_the_ledger_file_gives_the_pages_of_pruned_rows_back_to_the_disk(tmp_path: Path) -> None:
    hands = [START]
    ledger = Ledger(tmp_path / "ledger.db", clock=Clock(lambda: hands[0], UTC))
    try:
        for number in range(400):
            job = ledger.create(NewJob("x" * 4000, "default", "cli", "/work", 1), f"added #{number}")
            ledger.claim(job.id, owner_pid=1)
            ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, answer="y" * 4000))
        ledger.create(NewJob("stays", "default", "cli", "/work", 1), "added")
        hands[0] += timedelta(days=10)
        ledger._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_before = (tmp_path / "ledger.db").stat().st_size
        assert len(ledger.delete_finished(to_iso(hands[0] - timedelta(days=5))).jobs) == 400
        reclaimed = ledger.reclaim_space()
        ledger._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_after = (tmp_path / "ledger.db").stat().st_size
        assert reclaimed.returned_to_disk and reclaimed.bytes is not None and reclaimed.bytes > 3_000_000
        assert size_before - size_after >= reclaimed.bytes  # the file shrank by at least as much
        assert [job.prompt for job in ledger.list_jobs()] == ["stays"]
    finally:
        ledger.close()


def test_cli_prune_dry_run_then_prune_and_bad_durations(tmp_path: Path) -> None:
    flowtui = Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))
    process = flowtui.serve()
    try:
        job_id = flowtui.ok("add", "hello", "--cwd", str(tmp_path)).strip()
        wait_for(lambda: "succeeded" in flowtui.ok("show", job_id), what="the job to finish")
    finally:
        process.terminate()
        process.wait(timeout=20)
    files = transcripts(tmp_path / "home", int(job_id))
    assert files
    dry = flowtui.ok("prune", "--older-than", "0s", "--dry-run")
    assert dry.startswith("would remove 1 job finished before ")
    assert "space: " in dry and all(path.exists() for path in files)
    assert flowtui.ok("prune", "--older-than", "1d").startswith("removed 0 jobs")
    done = flowtui.ok("prune", "--older-than", "0s")
    assert done.startswith("removed 1 job finished before ") and "space reclaimed: " in done
    assert not any(path.exists() for path in files)
    assert flowtui.ok("jobs", "--json") == "[]\n"
    bad = flowtui.run("prune", "--older-than", "ninety")
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "'--older-than': bad duration 'ninety': use a number and a unit" in bad.stderr


@pytest.mark.parametrize(
    ("value", "fragment"),
    [('"90"', "[ledger] keep_days"), ("-1", "[ledger] keep_days"), ("true", "[ledger] keep_days")],
)
def test_keep_days_is_checked_at_load(tmp_path: Path, value: str, fragment: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[ledger]\nkeep_days = {value}\n")
    with pytest.raises(ConfigError) as problem:
        load_settings(config)
    line = str(problem.value)
    assert "\n" not in line and fragment in line
    config.write_text("[ledger]\nkeep_days = 0\n")
    assert load_settings(config).ledger.keep_days == 0
    config.write_text("")
    assert load_settings(config).ledger.keep_days == 90


def test_the_engine_prunes_once_a_day_by_its_clock(tmp_path: Path) -> None:
    hands = [START]
    service = RetentionService()
    config = CONFIG + "\n[ledger]\nkeep_days = 30\n"
    assert "retention" in [s.name for s in default_services(settings_from(config), home_paths(tmp_path), {})]
    assert "retention" in LEADER_ONLY_SERVICES  # with Redis: one engine prunes
    with engine_at(tmp_path / "home", hands, ok_script(tmp_path / "claude"), config, [service]) as engine:
        wait_for(service.pruned.is_set, what="the first prune at start")
        assert engine.ledger.get_flag(LAST_PRUNE_FLAG) == "2026-01-10T12:00:00.000Z"
        assert service.next_due == START + timedelta(days=1)
        old = wait_job(engine, engine.control.add("old", cwd=tmp_path).id, JobState.SUCCEEDED)

        hands[0] += timedelta(days=31)  # a month later, the engine wakes from its wait
        service.pruned.clear()
        service.nudge()
        wait_for(service.pruned.is_set, what="the daily prune")
        assert engine.ledger.get(old.id) is None
        assert service.last_report is not None and service.last_report.jobs == [old.id]
        assert service.next_due == hands[0] + timedelta(days=1)

        pruned_at = hands[0]
        hands[0] += timedelta(hours=23)  # the next prune is not due yet: a look changes nothing
        service.pruned.clear()
        service.nudge()
        wait_for(lambda: service.checked_at == hands[0], what="a look")
        assert not service.pruned.is_set() and service.next_due == pruned_at + timedelta(days=1)
        assert engine.ledger.get_flag(LAST_PRUNE_FLAG) == to_iso(pruned_at)
        hands[0] += timedelta(hours=1)
        service.nudge()
        wait_for(service.pruned.is_set, what="the next day's prune")
        assert engine.ledger.get_flag(LAST_PRUNE_FLAG) == to_iso(hands[0])
        assert service.next_due == hands[0] + timedelta(days=1)

    # After a restart the last prune is read back: none is due before its day.
    service = RetentionService()
    hands[0] += timedelta(hours=2)
    with engine_at(tmp_path / "home", hands, ok_script(tmp_path / "claude"), config, [service]):
        wait_for(lambda: service.checked_at == hands[0], what="the first look")
        assert not service.pruned.is_set() and service.next_due == hands[0] + timedelta(hours=22)


def test_keep_days_zero_never_prunes(tmp_path: Path) -> None:
    hands = [START]
    service = RetentionService()
    config = CONFIG + "\n[ledger]\nkeep_days = 0\n"
    with engine_at(tmp_path / "home", hands, ok_script(tmp_path / "claude"), config, [service]) as engine:
        job = wait_job(engine, engine.control.add("kept forever", cwd=tmp_path).id, JobState.SUCCEEDED)
        hands[0] += timedelta(days=3650)
        service.nudge()
        wait_for(lambda: service.checked_at == hands[0], what="a look")
        assert not service.pruned.is_set() and engine.ledger.get(job.id) is not None
        assert engine.ledger.get_flag(LAST_PRUNE_FLAG) is None and service.next_due is None
